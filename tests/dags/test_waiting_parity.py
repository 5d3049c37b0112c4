"""One waiting policy in every mode: the same table of cases (status sequences, status lists
including empty ones, error streaks, deadlines) driven through the sensor poking, the sensor
rescheduled, the operator polling from its worker and the operator deferred to the trigger,
each run end to end with ``dag.test()`` against the emulator, gives the same verdict."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_schedulerx.emulator import JobSpec
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from airflow_provider_schedulerx.utils.waiting import MAX_FAILED_POLLS, WaitPolicy
from tests.airflow_versions import AIRFLOW_VERSION, RESCHEDULES_IN_DAG_TEST, dagbag
from tests.conftest import connection_json
from tests.dags.test_example_dags import printed, run_example, task_states

pytestmark = pytest.mark.dag

FINAL = ["success", "failed", "killed", "rejected", "partial_failed", "skipped", "removed"]


@dataclass(frozen=True)
class Case:
    """A job's outcome, the wait's settings, what to spoil, and the verdict they call for."""

    outcome: str | int
    verdict: str
    success: list[Any] | None = None
    failure: list[Any] | None = None
    failed_polls: int = 0
    run_seconds: float = 0.4
    timeout: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


CASES = {
    "success": Case("success", "success"),
    "a failure status": Case("failed", "failure failed"),
    "killed is a failure status": Case("killed", "failure killed"),
    "skipped, in neither list": Case(12, "unlisted skipped"),
    "removed, in neither list": Case(99, "unlisted removed"),
    "an empty failure list": Case("failed", "unlisted failed", failure=[]),
    "failed counted a success": Case("failed", "success", success=["success", "failed"], failure=[]),
    "every final status a success": Case("rejected", "success", success=FINAL, failure=[]),
    "failed polls ridden out": Case("success", "success", failed_polls=MAX_FAILED_POLLS - 1),
    "failed polls beyond the streak": Case("success", "unavailable", failed_polls=MAX_FAILED_POLLS),
    "the deadline": Case("success", "timeout", run_seconds=3600, timeout=1.5),
}
MODES = ["sensor poking", "sensor rescheduled", "operator polling", "operator deferred"]

SENSOR_DAG = str(Path(__file__).parent / "files" / "parity_sensor.py")


def verdict_of(state: str, output: str, job_id: int) -> str:
    """The verdict a run came to, from its task's final state and what it said."""
    if state == "success":
        return "success"
    if match := re.search(rf"job {job_id} instance \d+ ended ([a-z ]+?)(,| a final|:|\n|$)", output):
        status = match.group(1).strip()
        return f"unlisted {status}" if "a final status in neither" in output else f"failure {status}"
    # Not any "timed out": Airflow 3.0 prints the source lines of the frames it shows.
    if "did not finish before" in output or "Sensor has timed out" in output:
        return "timeout"
    if "SchedulerX kept failing" in output:
        return "unavailable"
    return f"unclassified {state}"


def run_mode(mode: str, case: Case, job_id: int, spoil: Any) -> str:
    """Run the case in one mode; the task's final state."""
    policy = WaitPolicy.of(case.success, case.failure)
    if mode.startswith("sensor"):
        instance_id = SchedulerXHook().execute_job(job_id)
        spoil()
        dag = dagbag(SENSOR_DAG).dags["parity_sensor"]
        sensor = dag.get_task("wait")
        sensor.policy, sensor.poke_interval, sensor.timeout = policy, 0.1, case.timeout or 60
        sensor.mode = "poke" if mode == "sensor poking" else "reschedule"
        dag_run = dag.test(run_conf={"job_id": job_id, "instance_id": instance_id})
        return str(task_states(dag_run)["wait"])
    spoil()
    operator = {
        "policy": policy,
        "poll_interval": 0.1,
        "timeout": case.timeout,
        "deferrable": mode == "operator deferred",
    }
    dag_run = run_example("example_schedulerx_execute_job", job_id, run_job=operator)
    return str(task_states(dag_run)["run_job"])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", CASES)
def test_every_mode_comes_to_the_same_verdict(
    airflow_db, schedulerx_connection, monkeypatch, capfd, name, mode
):
    if mode == "sensor rescheduled" and not RESCHEDULES_IN_DAG_TEST:
        pytest.skip(f"dag.test() of Airflow {AIRFLOW_VERSION} cannot reschedule a sensor twice")
    case = CASES[name]
    emulator = schedulerx_connection
    job_id = 700 + list(CASES).index(name)
    emulator.add_job(
        JobSpec(job_id=job_id, wait_seconds=0.1, run_seconds=case.run_seconds, outcome=case.outcome)
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHEDULERX_DEFAULT", connection_json(emulator, backoff=0.01, max_retries=0)
    )

    def spoil() -> None:
        if case.failed_polls:
            emulator.faults.set("server_error", count=case.failed_polls, actions=["GetJobInstance"])

    state = run_mode(mode, case, job_id, spoil)
    assert verdict_of(state, printed(capfd), job_id) == case.verdict
    assert emulator.stats.executions[job_id] == 1


def test_the_policy_is_what_the_trigger_is_given():
    """A deferred wait's policy crosses to the triggerer as numbers, an empty list kept."""
    from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobInstanceTrigger

    for case in CASES.values():
        policy = WaitPolicy.of(case.success, case.failure)
        success, failure = policy.numbers()
        trigger = SchedulerXJobInstanceTrigger(1, 2, success_statuses=success, failure_statuses=failure)
        assert trigger.policy == policy
        assert json.loads(json.dumps(trigger.serialize()[1]))["failure_statuses"] == failure
