"""The SchedulerX log in the Airflow task log while the task waits, end to end with
``dag.test()``: a job writing a line a second for 20 s, each line shown once, in order,
before the task ends, in every mode; a job writing thousands of lines stays within the
per-poll bound; ``stream_logs=False`` shows the tail alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_provider_schedulerx.emulator import JobSpec
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from airflow_provider_schedulerx.utils.remote_logs import MAX_LINES_PER_POLL
from tests.airflow_versions import AIRFLOW_VERSION, RESCHEDULES_IN_DAG_TEST, dagbag
from tests.dags.test_example_dags import printed, run_example, task_states

pytestmark = pytest.mark.dag

SENSOR_DAG = str(Path(__file__).parent / "files" / "parity_sensor.py")
LINES = [f"INFO step {index:02d} of 20: {index * 640} rows" for index in range(20)]
MODES = {
    "operator polling": {"deferrable": False},
    "operator deferred": {"deferrable": True},
    "sensor poking": {"mode": "poke", "deferrable": False},
    "sensor rescheduled": {"mode": "reschedule", "deferrable": False},
    "sensor deferred": {"mode": "poke", "deferrable": True},
}


def one_copy(output: str) -> str:
    """The console output with each log record once: Airflow 2's first ``dag.test()`` in a
    process prints its task log through two handlers, with two formats of one timestamp."""
    seen, kept = set(), []
    for line in output.splitlines():
        stamp = re.match(r"\[?(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)[.,](\d{3})", line)
        record = (stamp.groups(), line.split(" - ", 1)[-1]) if stamp else None
        if record is None or record not in seen:
            kept.append(line)
        if record is not None:
            seen.add(record)
    return "\n".join(kept)


def run(mode: str, job_id: int, **settings: object):
    if mode.startswith("operator"):
        return run_example(
            "example_schedulerx_execute_job",
            job_id,
            run_job={**MODES[mode], "poll_interval": 1.0, **settings},
        ), "run_job"
    instance_id = SchedulerXHook().execute_job(job_id)
    dag = dagbag(SENSOR_DAG).dags["parity_sensor"]
    sensor = dag.get_task("wait")
    for attribute, value in {**MODES[mode], "poke_interval": 1.0, "timeout": 120, **settings}.items():
        setattr(sensor, attribute, value)
    return dag.test(run_conf={"job_id": job_id, "instance_id": instance_id}), "wait"


@pytest.mark.parametrize("mode", MODES)
def test_each_line_once_in_order_before_the_task_ends(airflow_db, schedulerx_connection, capfd, mode):
    if mode == "sensor rescheduled" and not RESCHEDULES_IN_DAG_TEST:
        pytest.skip(f"dag.test() of Airflow {AIRFLOW_VERSION} cannot reschedule a sensor twice")
    job_id = 751 + list(MODES).index(mode)
    schedulerx_connection.add_job(JobSpec(job_id=job_id, wait_seconds=0.2, run_seconds=20.0, logs=LINES))
    dag_run, task_id = run(mode, job_id)
    assert task_states(dag_run) == {task_id: "success"}
    output = one_copy(printed(capfd))
    positions = []
    for line in LINES:
        shown = [m.start() for m in re.finditer(re.escape(f"[SchedulerX] {line}"), output)]
        assert len(shown) == 1, f"{line!r} shown {len(shown)} times"
        positions.append(shown[0])
    assert positions == sorted(positions)
    # Most of them while it ran: before the instance's final summary.
    report = re.search(rf"job {job_id} instance \d+: success", output)
    assert report is not None
    summary = report.start()
    assert sum(position < summary for position in positions) >= len(LINES) // 2
    calls = schedulerx_connection.stats.calls
    assert calls["GetLog"] <= calls["GetJobInstance"] + 2
    # The service's times, next to Airflow's UTC stamps, carry their offset.
    service_times = re.findall(r"(?:started|ended) (\S+?)(?:,|$)", output, re.MULTILINE)
    assert service_times
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d", t) for t in service_times)


@pytest.mark.parametrize("mode", ["operator polling", "operator deferred"])
def test_a_chatty_job_stays_within_the_bound(airflow_db, schedulerx_connection, capfd, mode):
    job_id = 761 + (mode == "operator deferred")
    chatty = [f"DEBUG record {index}" for index in range(3000)]
    schedulerx_connection.add_job(JobSpec(job_id=job_id, wait_seconds=0.2, run_seconds=4.0, logs=chatty))
    dag_run, task_id = run(mode, job_id, poll_interval=0.5)
    assert task_states(dag_run) == {task_id: "success"}
    output = printed(capfd)
    shown = len(re.findall(r"\[SchedulerX\] DEBUG record \d+", output))
    polls = schedulerx_connection.stats.calls["GetJobInstance"]
    assert shown <= MAX_LINES_PER_POLL * polls + 20, (shown, polls)
    assert "lines not shown" in output


def test_stream_logs_off_shows_the_tail_alone(airflow_db, schedulerx_connection, capfd):
    schedulerx_connection.add_job(JobSpec(job_id=770, wait_seconds=0.2, run_seconds=3.0, logs=LINES))
    dag_run, _ = run("operator polling", 770, stream_logs=False, poll_interval=0.5)
    assert task_states(dag_run) == {"run_job": "success"}
    assert "[SchedulerX]" not in printed(capfd)
    assert schedulerx_connection.stats.calls["GetLog"] == 1
