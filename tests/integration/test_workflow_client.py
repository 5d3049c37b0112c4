"""The workflow calls of the clients and the hook against the emulator over loopback HTTP,
sync and async: start, read (nodes, edges, pendulum times), list, set success, the
definition, find by name; a lost ExecuteWorkflow reply followed, not sent twice; stopping a
workflow instance stops its running nodes."""

from __future__ import annotations

import time

import pendulum
import pytest

from airflow_provider_schedulerx.emulator import JobSpec, WorkflowSpec
from airflow_provider_schedulerx.exceptions import SchedulerXConfigError
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from airflow_provider_schedulerx.hooks.workflow_tasks import WorkflowTasks
from airflow_provider_schedulerx.models import InstanceStatus, WorkflowStatus
from airflow_provider_schedulerx.rpc.aio import close_shared_session
from tests.conftest import make_async_client, make_client


@pytest.fixture
def workflow(emulator):
    for job_id, name, run in ((931, "first", 0.2), (932, "second", 0.2), (933, "slow", 60.0)):
        emulator.add_job(JobSpec(job_id=job_id, name=name, wait_seconds=0.05, run_seconds=run))
    emulator.add_workflow(
        WorkflowSpec(workflow_id=61, name="two-steps", nodes=[931, 932], edges=[(931, 932)])
    )
    emulator.add_workflow(WorkflowSpec(workflow_id=62, name="slow-one", nodes=[931, 933], edges=[(931, 933)]))
    return emulator


def wait_final(client, workflow_id: int, instance_id: int):
    deadline = time.monotonic() + 10
    while True:
        instance = client.get_workflow_instance(workflow_id, instance_id)
        if instance.is_finished or time.monotonic() > deadline:
            return instance
        time.sleep(0.05)


def test_start_read_list_and_find(workflow):
    with make_client(workflow) as client:
        instance_id = client.execute_workflow(61, instance_parameters="a=1")
        done = wait_final(client, 61, instance_id)
        assert done.status is WorkflowStatus.SUCCESS and done.is_success
        assert [node.job_id for node in done.nodes] == [931, 932]
        assert all(node.status is InstanceStatus.SUCCESS for node in done.nodes)
        assert done.edges == ((931, 932),)
        assert isinstance(done.start_time, pendulum.DateTime) and done.end_time >= done.start_time
        assert done.to_dict()["nodes"][1]["job_name"] == "second"
        listed = client.list_workflow_instances(61)
        assert [item.instance_id for item in listed] == [instance_id]
        assert client.find_workflow("two-steps") == 61
        with pytest.raises(
            SchedulerXConfigError, match="no workflow of the namespace and group is named 'two'"
        ):
            client.find_workflow("two")
        assert client.get_workflow(61)["WorkFlowInfo"]["Name"] == "two-steps"
        assert {record["WorkflowId"] for record in client.list_workflows()} == {61, 62}


def test_set_success_on_a_failed_instance(workflow):
    workflow.add_job(JobSpec(job_id=932, name="second", wait_seconds=0.05, run_seconds=0.2, outcome="failed"))
    with make_client(workflow) as client:
        instance_id = client.execute_workflow(61)
        failed = wait_final(client, 61, instance_id)
        assert failed.status is WorkflowStatus.FAILED
        assert "node second (job 932" in (failed.result or "")
        client.set_workflow_instance_success(61, instance_id)
        assert client.get_workflow_instance(61, instance_id).is_success


async def test_the_async_client_reads_a_workflow_instance(workflow):
    client = make_async_client(workflow)
    try:
        instance_id = await client.execute_workflow(61)
        instance = await client.get_workflow_instance(61, instance_id)
        assert instance.instance_id == instance_id and instance.nodes[0].job_id == 931
    finally:
        await close_shared_session()


def test_a_lost_start_is_followed_not_sent_twice(workflow, schedulerx_connection):
    workflow.faults.set("reset_after", count=1, actions=["ExecuteWorkflow"])
    tasks = WorkflowTasks(SchedulerXHook())
    instance_id = tasks.start(61)
    assert workflow.state.workflows.executions[61] == 1
    assert [item.instance_id for item in SchedulerXHook().list_workflow_instances(61)] == [instance_id]


def test_stopping_an_instance_stops_its_running_nodes(workflow, schedulerx_connection):
    hook = SchedulerXHook()
    tasks = WorkflowTasks(hook)
    instance_id = hook.execute_workflow(62)
    deadline = time.monotonic() + 5
    while not hook.get_workflow_instance(62, instance_id).running_nodes() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the first node succeeded, the slow one runs
    assert tasks.stop_if_running(62, instance_id, reason="a test")
    stopped = wait_final(hook, 62, instance_id)
    assert stopped.status is WorkflowStatus.FAILED
    assert {node.job_id: node.status for node in stopped.nodes}[933] is InstanceStatus.KILLED
    assert not tasks.stop_if_running(62, instance_id, reason="again")
