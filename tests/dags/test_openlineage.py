"""OpenLineage with its provider installed, end to end with ``dag.test()``: the events of a
successful and of a failed run, field by field (the SchedulerX job's run, a child of the
task's, and the facets on the task's own events), and the parent job information the job
receives in its instance parameters."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_schedulerx.emulator import JobSpec
from airflow_provider_schedulerx.utils.openlineage import FACET_SCHEMA
from tests.airflow_versions import dagbag
from tests.conftest import GROUP_ID, NAMESPACE, OPENLINEAGE_EVENTS
from tests.dags.test_example_dags import task_states, xcom

pytest.importorskip("airflow.providers.openlineage")
pytestmark = pytest.mark.dag

DAG_FILE = str(Path(__file__).parent / "files" / "openlineage_job.py")
JOB_NAMESPACE = f"schedulerx://cn-hangzhou/{NAMESPACE}/{GROUP_ID}"
TASK_JOB = "openlineage_job.run_job"


def events_since(start: int, *, wanted: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The events written after byte ``start`` of the events file, once ``wanted`` of them
    are there (the listener emits them from a thread of its own)."""
    deadline = time.monotonic() + timeout
    while True:
        text = OPENLINEAGE_EVENTS.read_text()[start:] if OPENLINEAGE_EVENTS.exists() else ""
        events = [json.loads(line) for line in text.splitlines() if line.strip()]
        if len(events) >= wanted or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def run(job_id: int) -> tuple[Any, list[dict[str, Any]]]:
    start = OPENLINEAGE_EVENTS.stat().st_size if OPENLINEAGE_EVENTS.exists() else 0
    dag_run = dagbag(DAG_FILE).dags["openlineage_job"].test(run_conf={"job_id": job_id})
    # The task's START and end, the instance's START and end.
    return dag_run, events_since(start, wanted=4)


def of_job(events: list[dict[str, Any]], namespace_prefix: str, name: str) -> list[dict[str, Any]]:
    return [
        e for e in events if e["job"]["namespace"].startswith(namespace_prefix) and e["job"]["name"] == name
    ]


def check_instance_run(
    events: list[dict[str, Any]], job_id: int, end_state: str, task_end: dict[str, Any], instance: Any
) -> dict[str, Any]:
    """The SchedulerX job's run of the instance: START then the end, one run id, the child of
    the task's run; its ``schedulerx`` facet, returned."""
    runs = of_job(events, "schedulerx://", f"job/{job_id}")
    assert [e["eventType"] for e in runs] == ["START", end_state]
    start, end = runs
    assert start["job"]["namespace"] == end["job"]["namespace"] == JOB_NAMESPACE
    assert start["run"]["runId"] == end["run"]["runId"]
    job_type = end["job"]["facets"]["jobType"]
    assert (job_type["processingType"], job_type["integration"], job_type["jobType"]) == (
        "BATCH",
        "SCHEDULERX",
        "JOB",
    )
    parent = end["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == task_end["run"]["runId"]
    assert (parent["job"]["namespace"], parent["job"]["name"]) == (task_end["job"]["namespace"], TASK_JOB)
    assert parent["root"]["job"]["name"] == "openlineage_job"
    facet = end["run"]["facets"]["schedulerx"]
    assert facet["_schemaURL"] == FACET_SCHEMA
    assert facet["kind"] == "job" and facet["region"] == "cn-hangzhou"
    assert (facet["namespace"], facet["groupId"], facet["ownerId"]) == (NAMESPACE, GROUP_ID, job_id)
    assert facet["instanceId"] == instance.instance_id
    assert facet["startTime"] and facet["endTime"]
    assert start["eventTime"].startswith(facet["startTime"][:19])
    assert end["eventTime"].startswith(facet["endTime"][:19])
    assert f"jobId={job_id}&instanceId={instance.instance_id}" in facet["consoleUrl"]
    # The task's own end event carries the same facet.
    assert task_end["run"]["facets"]["schedulerx"] == facet
    return dict(facet)


def parent_sent(instance: Any) -> dict[str, Any]:
    parameters = json.loads(instance.parameters)
    assert parameters["day"]
    return dict(parameters["openlineage"])


def test_a_successful_run(airflow_db, schedulerx_connection):
    dag_run, events = run(101)
    assert task_states(dag_run) == {"run_job": "success"}
    (instance,) = schedulerx_connection.instances(101)
    (task_start, task_end) = of_job(events, "", TASK_JOB)
    assert (task_start["eventType"], task_end["eventType"]) == ("START", "COMPLETE")
    facet = check_instance_run(events, 101, "COMPLETE", task_end, instance)
    assert facet["status"] == "success" and facet["result"] == "42 rows loaded"
    assert facet["consoleUrl"] == xcom(dag_run, "run_job", "console_url")
    assert "errorMessage" not in task_end["run"]["facets"]
    sent = parent_sent(instance)
    assert sent["parent"]["run"]["runId"] == task_end["run"]["runId"]
    assert sent["parent"]["job"] == {"namespace": task_end["job"]["namespace"], "name": TASK_JOB}
    assert sent["root"]["job"]["name"] == "openlineage_job"


def test_a_failed_run(airflow_db, schedulerx_connection):
    schedulerx_connection.add_job(
        JobSpec(
            job_id=781, wait_seconds=0.1, run_seconds=0.3, outcome="failed", result="disk full on worker-3"
        )
    )
    dag_run, events = run(781)
    assert task_states(dag_run) == {"run_job": "failed"}
    (instance,) = schedulerx_connection.instances(781)
    (task_start, task_end) = of_job(events, "", TASK_JOB)
    assert (task_start["eventType"], task_end["eventType"]) == ("START", "FAIL")
    facet = check_instance_run(events, 781, "FAIL", task_end, instance)
    assert facet["status"] == "failed" and facet["result"] == "disk full on worker-3"
    (end,) = of_job(events, "schedulerx://", "job/781")[1:]
    error = end["run"]["facets"]["errorMessage"]
    assert (
        error["message"]
        == f"SchedulerX job 781 instance {instance.instance_id} ended failed: disk full on worker-3"
    )
    assert error["programmingLanguage"] == "SCHEDULERX"
    assert parent_sent(instance)["parent"]["run"]["runId"] == task_end["run"]["runId"]
