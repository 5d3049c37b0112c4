"""Workflows end to end with ``dag.test()`` against the emulator's jobs file: the example DAG
polling and deferred (success, a failed node with its result and log tail in the failure),
the deadline stopping every running node, the workflow instance sensor in each mode, and a
workflow given by name."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from airflow_provider_schedulerx.emulator import JobSpec, WorkflowSpec
from airflow_provider_schedulerx.emulator.specs import load_jobs_file
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from airflow_provider_schedulerx.models import InstanceStatus
from tests.airflow_versions import AIRFLOW_VERSION, RESCHEDULES_IN_DAG_TEST, dagbag
from tests.conftest import GROUP_ID, NAMESPACE, REPO
from tests.dags.test_example_dags import load_dag, printed, task_states, xcom

pytestmark = pytest.mark.dag

SUCCEEDS, FAILS, HANGS = 201, 202, 203
SENSOR_DAG = str(Path(__file__).parent / "files" / "workflow_sensor.py")


def add_quick_workflows(emulator):
    """The jobs file's workflows on the emulator, their nodes quick."""
    _, jobs, specs = load_jobs_file(REPO / "example_dags" / "emulator_jobs.json")
    for job in jobs:
        emulator.add_job(replace(job, wait_seconds=0.1, run_seconds=0.4, schedule=None))
    for spec in specs:
        emulator.add_workflow(spec)
    return emulator


@pytest.fixture
def workflows(airflow_db, schedulerx_connection):
    """The emulator with the jobs file's workflows, their nodes quick; and one that hangs."""
    emulator = add_quick_workflows(schedulerx_connection)
    emulator.add_job(JobSpec(job_id=126, name="orders-hang", wait_seconds=0.1, run_seconds=3600))
    emulator.add_workflow(
        WorkflowSpec(workflow_id=HANGS, name="hangs", nodes=[121, 126, 124], edges=[(121, 126), (126, 124)])
    )
    return emulator


def node_instances(emulator, workflow_id: int) -> dict[int, object]:
    workflows = emulator.state.workflows
    (instance,) = workflows.instances_of(workflows.workflow(NAMESPACE, GROUP_ID, workflow_id))
    return instance.nodes


def run_workflow(conf_workflow_id: int, /, **attributes: object):
    """Run the example DAG on a workflow (its DAG param), after setting the given attributes
    of its task."""
    dag = load_dag("example_schedulerx_workflow")
    task = dag.get_task("run_workflow")
    for attribute, value in {"poll_interval": 0.2, **attributes}.items():
        setattr(task, attribute, value)
    return dag.test(run_conf={"workflow_id": conf_workflow_id})


@pytest.mark.parametrize("deferrable", [False, True], ids=["polling", "deferred"])
def test_the_example_on_a_workflow_that_succeeds(workflows, capfd, deferrable):
    dag_run = run_workflow(SUCCEEDS, deferrable=deferrable)
    states = task_states(dag_run)
    assert states == {
        "run_workflow": "success",
        "branch_on_outcome": "success",
        "publish": "success",
        "alert": "skipped",
    }
    finished = xcom(dag_run, "run_workflow")
    assert finished["status_name"] == "success" and len(finished["nodes"]) == 4
    assert {node["status_name"] for node in finished["nodes"]} == {"success"}
    assert xcom(dag_run, "run_workflow", "workflow_instance_id") == finished["instance_id"]
    assert xcom(dag_run, "run_workflow", "console_url").endswith(
        f"/WorkflowInstanceList?namespace={NAMESPACE}&groupId={GROUP_ID}"
        f"&workflowId={SUCCEEDS}&wfInstanceId={finished['instance_id']}&source=schedulerx"
    )
    assert "12840 rows loaded into dw.orders" in " ".join(xcom(dag_run, "publish"))
    output = printed(capfd)
    (load,) = [node for node in finished["nodes"] if node["job_id"] == 123]
    assert f"node orders-load (job 123, instance {load['job_instance_id']})" in output
    assert "-> success" in output
    assert workflows.state.workflows.executions[SUCCEEDS] == 1
    node = workflows.get_instance(load["job_instance_id"])
    assert node.parameters.startswith("day=")


@pytest.mark.parametrize("deferrable", [False, True], ids=["polling", "deferred"])
def test_a_failed_node_fails_the_task_with_its_result_and_log_tail(workflows, capfd, deferrable):
    dag_run = run_workflow(FAILS, deferrable=deferrable)
    assert task_states(dag_run) == {
        "run_workflow": "failed",
        "branch_on_outcome": "success",
        "publish": "skipped",
        "alert": "success",
    }
    output = printed(capfd)
    assert "ended failed" in output
    assert "orders-load-broken (job 125, instance" in output
    assert "java.sql.SQLException: table dw.orders is locked" in output
    assert "  ERROR load: table dw.orders is locked" in output  # the node's log tail
    assert "dw.orders is locked" in xcom(dag_run, "alert")
    nodes = node_instances(workflows, FAILS)
    assert 124 not in nodes  # downstream of the failed node: never ran


@pytest.mark.parametrize("deferrable", [False, True], ids=["polling", "deferred"])
def test_the_deadline_stops_every_running_node(workflows, capfd, deferrable):
    dag_run = run_workflow(HANGS, deferrable=deferrable, timeout=2.0)
    assert task_states(dag_run)["run_workflow"] == "failed"
    assert "did not finish before" in printed(capfd)
    nodes = node_instances(workflows, HANGS)
    assert nodes[126].view(time.time()).status is InstanceStatus.KILLED
    assert 124 not in nodes


def test_a_workflow_given_by_name(workflows):
    dag_run = run_workflow(SUCCEEDS, workflow_id=None, workflow_name="daily-orders", deferrable=False)
    assert task_states(dag_run)["run_workflow"] == "success"
    assert xcom(dag_run, "run_workflow")["workflow_id"] == SUCCEEDS


SENSOR_MODES = {
    "poking": {"mode": "poke", "deferrable": False},
    "rescheduled": {"mode": "reschedule", "deferrable": False},
    "deferred": {"mode": "poke", "deferrable": True},
}


@pytest.mark.parametrize("mode", SENSOR_MODES)
@pytest.mark.parametrize(("workflow_id", "state"), [(SUCCEEDS, "success"), (FAILS, "failed")])
def test_the_workflow_instance_sensor(workflows, capfd, mode, workflow_id, state):
    if mode == "rescheduled" and not RESCHEDULES_IN_DAG_TEST:
        pytest.skip(f"dag.test() of Airflow {AIRFLOW_VERSION} cannot reschedule a sensor twice")
    instance_id = SchedulerXHook().execute_workflow(workflow_id)
    dag = dagbag(SENSOR_DAG).dags["workflow_sensor"]
    sensor = dag.get_task("wait")
    for attribute, value in {**SENSOR_MODES[mode], "poke_interval": 0.2, "timeout": 60}.items():
        setattr(sensor, attribute, value)
    dag_run = dag.test(run_conf={"workflow_id": workflow_id, "instance_id": instance_id})
    assert task_states(dag_run) == {"wait": state}
    if state == "success":
        assert xcom(dag_run, "wait")["instance_id"] == instance_id
    else:
        assert "java.sql.SQLException: table dw.orders is locked" in printed(capfd)
    assert workflows.state.workflows.executions[workflow_id] == 1


def test_bad_arguments_are_refused():
    from airflow_provider_schedulerx.exceptions import SchedulerXConfigError
    from airflow_provider_schedulerx.operators.schedulerx import SchedulerXExecuteWorkflowOperator

    with pytest.raises(SchedulerXConfigError, match="workflow_id or workflow_name: give one of the two"):
        SchedulerXExecuteWorkflowOperator(task_id="w")
    with pytest.raises(SchedulerXConfigError, match="worker: a workflow operator takes no worker"):
        SchedulerXExecuteWorkflowOperator(task_id="w", workflow_id=1, worker="10.0.0.1")
