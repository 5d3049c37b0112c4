"""The job sensor against jobs that the emulator runs on a schedule of their own, end to end
with ``dag.test()``, poking, rescheduled and deferred: an instance in the window that
succeeded or failed, none until the deadline, a rerun in SchedulerX satisfying the retry,
the window's bounds, ``match_on`` both ways, and a job given by name."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_schedulerx.emulator import JobSpec
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from tests.airflow_versions import AIRFLOW_VERSION, RESCHEDULES_IN_DAG_TEST, dagbag
from tests.dags.test_example_dags import printed, task_states, try_numbers, xcom

pytestmark = pytest.mark.dag

HOUR = 3600
#: Hours of history each scheduled job has: its ticks at ``T(0)`` to ``T(HISTORY)``.
HISTORY = 8
SENSOR_DAG = str(Path(__file__).parent / "files" / "job_sensor.py")
MODES = {
    "poking": {"mode": "poke", "deferrable": False},
    "rescheduled": {"mode": "reschedule", "deferrable": False},
    "deferred": {"mode": "poke", "deferrable": True},
}


def tick(k: int) -> float:
    """The ``k``-th hourly tick of the jobs' schedule, the newest at ``HISTORY``."""
    return (int(time.time()) // HOUR - HISTORY + k) * HOUR


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


@dataclass(frozen=True)
class Case:
    """A scheduled job, a window in ticks, and what the sensor must come to."""

    state: str
    window: tuple[float, float]
    #: The tick of the instance that the sensor returns, on success.
    found_at: int | None = None
    outcome: str = "success"
    retry_outcome: str | None = None
    data_offset_hours: int = 0
    match_on: str | None = None
    by_name: bool = False
    timeout: float = 60
    said: str = ""
    #: Whether it takes one poke at the most (Airflow 3.0's dag.test reschedules only once).
    one_poke: bool = True
    sensor: dict[str, Any] = field(default_factory=dict)


CASES = {
    "success in the window": Case("success", (2, 3), found_at=2),
    "failure in the window": Case("failed", (2, 3), outcome="failed", said="ended failed: "),
    "nothing in the window until the deadline": Case(
        "failed", (HISTORY + 2, HISTORY + 3), timeout=2, said="timed out", one_poke=False
    ),
    "a rerun in SchedulerX satisfies the retry": Case(
        "success", (2, 3), found_at=2, outcome="failed", retry_outcome="success", one_poke=False
    ),
    # The instance at the window's start counts, the one at its end does not.
    "the window's bounds": Case("success", (2, 4), found_at=3),
    "an instance only at window_end": Case("failed", (2.5, 3), timeout=2, said="timed out", one_poke=False),
    "schedule time, with a data offset": Case(
        "success", (2, 3), found_at=2, data_offset_hours=2, match_on="schedule_time"
    ),
    "data time, with a data offset": Case("success", (2, 3), found_at=4, data_offset_hours=2),
    "a job given by name": Case("success", (2, 3), found_at=2, by_name=True),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", CASES)
def test_the_job_sensor(airflow_db, schedulerx_connection, capfd, name, mode):
    case = CASES[name]
    if mode == "rescheduled" and not case.one_poke and not RESCHEDULES_IN_DAG_TEST:
        pytest.skip(f"dag.test() of Airflow {AIRFLOW_VERSION} cannot reschedule a sensor twice")
    emulator = schedulerx_connection
    job_id = 800 + list(CASES).index(name)
    emulator.add_job(
        JobSpec(
            job_id=job_id,
            name=f"hourly-export-{job_id}",
            wait_seconds=0.1,
            run_seconds=0.3,
            outcome=case.outcome,
            retry_outcome=case.retry_outcome,
            schedule={"fix_rate": HOUR, "start": tick(0), "data_offset": case.data_offset_hours * HOUR},
        )
    )
    by_tick = {round((i.schedule_time - tick(0)) / HOUR): i for i in emulator.instances(job_id)}
    assert sorted(by_tick) == list(range(HISTORY + 1))

    dag = dagbag(SENSOR_DAG).dags["job_sensor"]
    sensor = dag.get_task("wait")
    for attribute, value in {**MODES[mode], "poke_interval": 0.2, "timeout": case.timeout}.items():
        setattr(sensor, attribute, value)
    if case.match_on:
        sensor.match_on = case.match_on
    if case.by_name:
        sensor.job_id, sensor.job_name = None, f"hourly-export-{job_id}"
    if case.retry_outcome:
        failed = by_tick[case.found_at]

        def rerun(context: Any) -> None:
            SchedulerXHook().retry_job_instance(job_id, failed.instance_id)

        sensor.retries, sensor.retry_delay, sensor.on_retry_callback = 1, timedelta(0), [rerun]
    start, end = (tick(0) + bound * HOUR for bound in case.window)
    dag_run = dag.test(run_conf={"job_id": job_id, "window_start": iso(start), "window_end": iso(end)})

    output = printed(capfd)
    assert task_states(dag_run) == {"wait": case.state}, output[-3000:]
    if case.state == "success":
        found = xcom(dag_run, "wait")
        assert found["instance_id"] == by_tick[case.found_at].instance_id
        assert found["status_name"] == "success"
        assert try_numbers(dag_run)["wait"] == (2 if case.retry_outcome else 1)
    else:
        assert case.said in output or "did not finish before" in output
    assert emulator.stats.executions.get(job_id, 0) == 0  # the sensor starts nothing


def test_a_run_without_a_data_interval_needs_a_window(airflow_db, schedulerx_connection, capfd):
    from airflow_provider_schedulerx.emulator.schedules import ScheduleSpec

    emulator = schedulerx_connection
    emulator.add_job(JobSpec(job_id=899, schedule=ScheduleSpec(fix_rate=HOUR, start=tick(0))))
    dag = dagbag(SENSOR_DAG).dags["job_sensor"]
    dag.get_task("wait").timeout = 5
    dag_run = dag.test(run_conf={"job_id": 899, "window_start": "", "window_end": "not a time"})
    assert task_states(dag_run) == {"wait": "failed"}
    output = printed(capfd)
    assert "window_end: expected a datetime or an ISO 8601 time, got 'not a time'" in output


def test_the_example_waits_for_the_nightly_export_of_its_data_interval(airflow_db, schedulerx_connection):
    """The example DAG against the jobs file's ``nightly-export`` (cron at 00:00 UTC, data
    offset one day): the instance it finds is the one for its data interval."""
    import pendulum

    from airflow_provider_schedulerx.emulator.specs import load_jobs_file
    from tests.airflow_versions import AIRFLOW_2
    from tests.conftest import REPO
    from tests.dags.test_example_dags import load_dag

    _, jobs, _ = load_jobs_file(REPO / "example_dags" / "emulator_jobs.json")
    (nightly,) = [job for job in jobs if job.name == "nightly-export"]
    schedulerx_connection.add_job(nightly)
    dag = load_dag("example_schedulerx_wait_for_schedule")
    dag.get_task("wait_for_export").poke_interval = 0.5
    yesterday = pendulum.now("UTC").start_of("day").subtract(days=1)
    dag_run = dag.test(**{"execution_date" if AIRFLOW_2 else "logical_date": yesterday})
    assert task_states(dag_run) == {"wait_for_export": "success", "report": "success"}
    found = xcom(dag_run, "wait_for_export")
    data_time = pendulum.parse(found["data_time"])
    assert dag_run.data_interval_start <= data_time < dag_run.data_interval_end
    assert pendulum.parse(found["schedule_time"]) == data_time.add(days=1)
    assert found["job_id"] == nightly.job_id
    assert xcom(dag_run, "report")["instance_id"] == found["instance_id"]


def test_the_asset_watcher_example_watches_its_job(airflow_db):
    from tests.airflow_versions import AIRFLOW_2
    from tests.dags.test_example_dags import EXAMPLES

    bag = dagbag(str(EXAMPLES / "example_schedulerx_asset_watcher.py"))
    assert bag.import_errors == {}
    if AIRFLOW_2:
        assert bag.dag_ids == []
        return
    dag = bag.dags["example_schedulerx_asset_watcher"]
    (asset,) = dag.timetable.asset_condition.objects
    assert asset.uri == "schedulerx://cn-hangzhou/demo-namespace/demo.defaultGroup/108"
    (watcher,) = asset.watchers
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath.endswith("triggers.schedulerx.SchedulerXJobEventTrigger")
    assert kwargs["job_name"] == "orders-sync"
