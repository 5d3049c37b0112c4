"""Workflows in the emulator: nodes run in dependency order as job instances, a failed node
fails the workflow and its downstream nodes never run, a node stopped with StopInstance is
killed, SetWfInstanceSuccess, the workflow actions' shapes, and the official SDK's calls."""

from __future__ import annotations

import time
from typing import Any

import pytest
from alibabacloud_schedulerx220190430 import models as sx
from alibabacloud_schedulerx220190430.client import Client

from airflow_provider_schedulerx.emulator import JobSpec, WorkflowSpec
from tests.emulator.test_sdk import GROUP, NS, REGION, config

EXTRACT, TRANSFORM, LOAD, REPORT = 911, 912, 913, 914


def add_workflow(emulator, workflow_id: int = 50, **outcomes: str) -> None:
    """extract -> transform -> load, and extract -> report."""
    for job_id, name in ((EXTRACT, "extract"), (TRANSFORM, "transform"), (LOAD, "load"), (REPORT, "report")):
        emulator.add_job(
            JobSpec(
                job_id=job_id,
                name=name,
                wait_seconds=0.05,
                run_seconds=0.2,
                outcome=outcomes.get(name, "success"),
            )
        )
    emulator.add_workflow(
        WorkflowSpec(
            workflow_id=workflow_id,
            name="daily-orders",
            nodes=[EXTRACT, TRANSFORM, LOAD, REPORT],
            edges=[(EXTRACT, TRANSFORM), (TRANSFORM, LOAD), (EXTRACT, REPORT)],
        )
    )


def instance(raw, wf_instance_id: int, workflow_id: int = 50) -> dict[str, Any]:
    return raw.data("GetWorkflowInstance", {"WorkflowId": workflow_id, "WfInstanceId": wf_instance_id})


def wait_final(raw, wf_instance_id: int, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = instance(raw, wf_instance_id)
        if data["WfInstanceInfo"]["Status"] in (4, 5) or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


def nodes(data: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {node["JobId"]: node for node in data["WfInstanceDag"]["Nodes"]}


def test_nodes_run_in_dependency_order(raw, emulator):
    add_workflow(emulator)
    wf_id = raw.data("ExecuteWorkflow", {"WorkflowId": 50, "InstanceParameters": "day=2026-12-01"})[
        "WfInstanceId"
    ]
    first = instance(raw, wf_id)
    assert first["WfInstanceInfo"]["Status"] == 3
    assert "JobInstanceId" in nodes(first)[EXTRACT] and "JobInstanceId" not in nodes(first)[LOAD]
    done = wait_final(raw, wf_id)
    assert done["WfInstanceInfo"]["Status"] == 4 and done["WfInstanceInfo"]["EndTime"]
    by_job = nodes(done)
    assert {node["Status"] for node in by_job.values()} == {4}
    starts = {job: emulator.get_instance(node["JobInstanceId"]).created_at for job, node in by_job.items()}
    ends = {
        job: emulator.get_instance(node["JobInstanceId"]).view(time.time()).end_time
        for job, node in by_job.items()
    }
    assert (
        starts[TRANSFORM] == ends[EXTRACT]
        and starts[LOAD] == ends[TRANSFORM]
        and starts[REPORT] == ends[EXTRACT]
    )
    assert {(e["Source"], e["Target"]) for e in done["WfInstanceDag"]["Edges"]} == {
        (EXTRACT, TRANSFORM),
        (TRANSFORM, LOAD),
        (EXTRACT, REPORT),
    }
    node_instance = raw.data(
        "GetJobInstance", {"JobId": LOAD, "JobInstanceId": by_job[LOAD]["JobInstanceId"]}
    )
    assert node_instance["JobInstanceDetail"]["Parameters"] == "day=2026-12-01"
    assert raw.data("GetLog", {"JobId": LOAD, "JobInstanceId": by_job[LOAD]["JobInstanceId"]})["Logs"]
    assert emulator.state.workflows.executions[50] == 1


def test_a_failed_node_fails_the_workflow_and_its_downstream_never_runs(raw, emulator):
    add_workflow(emulator, transform="failed")
    wf_id = raw.data("ExecuteWorkflow", {"WorkflowId": 50})["WfInstanceId"]
    done = wait_final(raw, wf_id)
    by_job = nodes(done)
    assert done["WfInstanceInfo"]["Status"] == 5
    assert by_job[TRANSFORM]["Status"] == 5 and by_job[TRANSFORM]["Result"]
    assert by_job[REPORT]["Status"] == 4
    assert "JobInstanceId" not in by_job[LOAD]
    raw.call("SetWfInstanceSuccess", {"WorkflowId": 50, "WfInstanceId": wf_id}, method="POST")
    assert instance(raw, wf_id)["WfInstanceInfo"]["Status"] == 4


def test_stopping_a_running_node_kills_it_and_fails_the_workflow(raw, emulator):
    add_workflow(emulator)
    emulator.add_job(JobSpec(job_id=EXTRACT, name="extract", wait_seconds=0.05, run_seconds=60))
    wf_id = raw.data("ExecuteWorkflow", {"WorkflowId": 50})["WfInstanceId"]
    extract = nodes(instance(raw, wf_id))[EXTRACT]["JobInstanceId"]
    time.sleep(0.1)
    raw.call("StopInstance", {"JobId": EXTRACT, "InstanceId": extract}, method="POST")
    done = wait_final(raw, wf_id)
    assert done["WfInstanceInfo"]["Status"] == 5 and nodes(done)[EXTRACT]["Status"] == 6


def test_the_workflow_definition_and_listing(raw, emulator):
    add_workflow(emulator)
    info = raw.data("GetWorkFlow", {"WorkflowId": 50})
    assert info["WorkFlowInfo"]["Name"] == "daily-orders"
    assert {node["Id"] for node in info["WorkFlowNodeInfo"]["Nodes"]} == {EXTRACT, TRANSFORM, LOAD, REPORT}
    listed = raw.data("ListWorkFlows", {"WorkflowName": "daily"}, method="POST")
    assert [record["WorkflowId"] for record in listed["Records"]] == [50]
    first = raw.data("ExecuteWorkflow", {"WorkflowId": 50})["WfInstanceId"]
    second = raw.data("ExecuteWorkflow", {"WorkflowId": 50})["WfInstanceId"]
    infos = raw.data("ListWorkflowInstance", {"WorkflowId": 50})["WfInstanceInfos"]
    assert [info["WfInstanceId"] for info in infos] == [second, first]
    refused = raw.call("GetWorkflowInstance", {"WorkflowId": 50, "WfInstanceId": 1}).json()
    assert refused["Success"] is False and "wfInstanceId=1 not exist" in refused["Message"]


def test_a_cycle_is_refused():
    with pytest.raises(ValueError, match="cycle"):
        WorkflowSpec(workflow_id=1, nodes=[1, 2], edges=[(1, 2), (2, 1)])


def test_the_official_sdk_starts_and_reads_a_workflow(emulator):
    add_workflow(emulator, load="failed")
    client = Client(config(emulator, None))
    started = client.execute_workflow(
        sx.ExecuteWorkflowRequest(namespace=NS, group_id=GROUP, region_id=REGION, workflow_id=50)
    ).body
    assert started.success and started.data.wf_instance_id
    deadline = time.monotonic() + 10
    while True:
        body = client.get_workflow_instance(
            sx.GetWorkflowInstanceRequest(
                namespace=NS,
                group_id=GROUP,
                region_id=REGION,
                workflow_id=50,
                wf_instance_id=started.data.wf_instance_id,
            )
        ).body
        if body.data.wf_instance_info.status in (4, 5) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert body.data.wf_instance_info.status == 5
    by_job = {node.job_id: node for node in body.data.wf_instance_dag.nodes}
    assert by_job[LOAD].status == 5 and by_job[EXTRACT].status == 4
    assert {(edge.source, edge.target) for edge in body.data.wf_instance_dag.edges} >= {(EXTRACT, TRANSFORM)}
