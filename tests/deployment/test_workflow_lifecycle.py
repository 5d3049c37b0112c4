"""The lifecycle contract for workflows in a real deployment (issue 9's table, where stopping a
workflow instance means stopping its running nodes): a failure retried, a clear while it
runs, the deadline and marking the task failed, polling and deferred, counted on the
emulator: workflow instances started, nodes stopped, nodes still running."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_schedulerx.emulator import Emulator, JobSpec, WorkflowSpec
from airflow_provider_schedulerx.emulator.specs import KILLED_BY_USER
from airflow_provider_schedulerx.models import InstanceStatus
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE, connection_json
from tests.deployment.harness import AirflowDeployment, DeploymentTimeout

pytestmark = pytest.mark.timeout(1200)

LONG = 3600.0


@dataclass(frozen=True)
class Scenario:
    """A workflow (a quick first node, then ``second``), the task, an act, the outcome."""

    second: dict[str, Any]
    task: dict[str, Any]
    started: int
    stopped: int
    state: str
    try_number: int
    act: str = ""
    says: str = ""


def scenarios() -> dict[str, Scenario]:
    rows: dict[str, Scenario] = {}
    for mode, deferrable in (("poll", False), ("deferred", True)):
        task = {"deferrable": deferrable}
        rows |= {
            f"failure-{mode}": Scenario(
                {"run_seconds": 30, "outcome": "failed"},
                {**task, "retries": 1},
                2,
                0,
                "failed",
                2,
                says="failed",
            ),
            f"clear-running-{mode}": Scenario(
                {"run_seconds": 25}, task, 2, 1, "success", 2, act="clear while running"
            ),
            f"deadline-{mode}": Scenario(
                {"run_seconds": LONG},
                {**task, "timeout": 10},
                1,
                1,
                "failed",
                1,
                says="did not finish before",
            ),
            f"mark-failed-{mode}": Scenario(
                {"run_seconds": LONG}, task, 1, 1, "failed", 1, act="mark failed"
            ),
        }
    return rows


SCENARIOS = scenarios()
WORKFLOW_IDS = {name: 700 + index for index, name in enumerate(SCENARIOS)}
SETTINGS = {name: {"workflow_id": WORKFLOW_IDS[name], **s.task} for name, s in SCENARIOS.items()}

DAGS = f'''
"""One ExecuteWorkflow task per scenario of the workflow lifecycle tests."""

import json
from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_schedulerx.operators.schedulerx import SchedulerXExecuteWorkflowOperator

for name, settings in json.loads({json.dumps(SETTINGS)!r}).items():
    settings = dict(settings)
    retries = settings.pop("retries", 0)
    with DAG(f"workflow_{{name}}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
             catchup=False, default_args={{"retries": retries, "retry_delay": timedelta(seconds=1)}}):
        SchedulerXExecuteWorkflowOperator(task_id="run_workflow", poll_interval=1, **settings)
'''


def node_jobs(name: str) -> tuple[int, int]:
    workflow_id = WORKFLOW_IDS[name]
    return workflow_id * 10, workflow_id * 10 + 1


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(ACCESS_KEY_ID, ACCESS_KEY_SECRET, namespace=NAMESPACE, group_id=GROUP_ID) as emu:
        for name, scenario in SCENARIOS.items():
            first, second = node_jobs(name)
            emu.add_job(JobSpec(job_id=first, name=f"{name}-first", wait_seconds=0.5, run_seconds=1))
            emu.add_job(JobSpec(job_id=second, name=f"{name}-second", wait_seconds=0.5, **scenario.second))
            emu.add_workflow(
                WorkflowSpec(
                    workflow_id=WORKFLOW_IDS[name], name=name, nodes=[first, second], edges=[(first, second)]
                )
            )
        yield emu


@pytest.fixture(scope="module")
def deployment_dags() -> Mapping[str, str]:
    return {"workflows.py": DAGS}


@pytest.fixture(scope="module")
def deployment_env(emulator: Emulator) -> Mapping[str, str]:
    return {"AIRFLOW_CONN_SCHEDULERX_DEFAULT": connection_json(emulator, backoff=0.05)}


def counts(emulator: Emulator, name: str) -> tuple[int, int, int]:
    """Workflow instances started, nodes stopped by StopInstance, nodes still running."""
    now = time.time()
    workflows = emulator.state.workflows
    spec = workflows.workflow(NAMESPACE, GROUP_ID, WORKFLOW_IDS[name])
    views = [node.view(now) for inst in workflows.instances_of(spec) for node in inst.nodes.values()]
    stopped = sum(view.status is InstanceStatus.KILLED and view.result == KILLED_BY_USER for view in views)
    running = sum(view.status in (InstanceStatus.WAITING, InstanceStatus.RUNNING) for view in views)
    return workflows.executions[WORKFLOW_IDS[name]], stopped, running


def play(deployment: AirflowDeployment, emulator: Emulator, name: str, scenario: Scenario) -> dict[str, Any]:
    rest, dag_id = deployment.api, f"workflow_{name}"
    rest.unpause(dag_id)
    run_id = rest.trigger_dag(dag_id)
    if scenario.act:
        busy = "deferred" if scenario.task.get("deferrable") else "running"
        rest.wait_for(
            f"a running node of {name}",
            lambda: (counts(emulator, name)[2] > 0, str(counts(emulator, name))),
            180,
        )
        rest.wait_for_task(dag_id, run_id, "run_workflow", busy, timeout=180)
        time.sleep(3)  # the second node runs
        if scenario.act == "clear while running":
            rest.clear_task_instances(dag_id, run_id, ["run_workflow"])
        else:
            rest.mark_failed(dag_id, run_id, "run_workflow")
    ti = rest.wait_for_task(
        dag_id, run_id, "run_workflow", scenario.state, min_try_number=scenario.try_number, timeout=600
    )
    settled = (scenario.started, scenario.stopped, 0)
    with contextlib.suppress(DeploymentTimeout):
        rest.wait_for(
            f"{name} to settle at {settled}",
            lambda: (counts(emulator, name) == settled, str(counts(emulator, name))),
            timeout=60,
        )
    return {
        "state": ti.state,
        "try_number": ti.try_number,
        "counts": counts(emulator, name),
        "log": rest.task_log(dag_id, run_id, "run_workflow", ti.try_number),
    }


@pytest.fixture(scope="module")
def outcomes(deployment: AirflowDeployment, emulator: Emulator) -> Iterator[dict[str, Future[Any]]]:
    deployment.api.poll_interval = 3.0
    with ThreadPoolExecutor(len(SCENARIOS)) as pool:
        yield {name: pool.submit(play, deployment, emulator, name, s) for name, s in SCENARIOS.items()}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_workflow_contract(outcomes: dict[str, Future[Any]], name: str) -> None:
    outcome = outcomes[name].result(timeout=900)
    scenario = SCENARIOS[name]
    assert (outcome["state"], outcome["try_number"]) == (scenario.state, scenario.try_number), outcome["log"][
        -3000:
    ]
    assert outcome["counts"] == (scenario.started, scenario.stopped, 0), outcome["log"][-3000:]
    assert scenario.says in outcome["log"]
    if scenario.act != "mark failed":
        assert "node " in outcome["log"]  # the nodes' status changes, in the task's log
