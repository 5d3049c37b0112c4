"""The catalogue's workflow actions: each one definition, with its client method's signature,
its argument checks, and how its reply is read (as in :mod:`~airflow_provider_schedulerx.rpc.actions`).

Note the service's spelling: ``GetWorkFlow`` and ``ListWorkFlows``, but ``ExecuteWorkflow``,
``GetWorkflowInstance`` and ``ListWorkflowInstance``. No action stops a workflow instance:
``StopInstance`` on each node still running does.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_schedulerx.config import validate_count, validate_id, validate_name
from airflow_provider_schedulerx.exceptions import SchedulerXResponseError
from airflow_provider_schedulerx.models import InstanceStatus, WorkflowInstance, WorkflowNode, WorkflowStatus
from airflow_provider_schedulerx.rpc.actions import MAX_PAGE_SIZE, check_instance_parameters
from airflow_provider_schedulerx.rpc.calls import ApiCall, scope_of
from airflow_provider_schedulerx.rpc.replies import ReplyFields, data_of, the_one_named

__all__ = [
    "MAX_WORKFLOW_PARAMETERS_BYTES",
    "execute_workflow",
    "find_workflow",
    "get_workflow",
    "get_workflow_instance",
    "list_workflow_instances",
    "list_workflows",
    "set_workflow_instance_success",
]

#: ``ExecuteWorkflow`` takes at most 1,000 bytes of parameters.
MAX_WORKFLOW_PARAMETERS_BYTES = 1000


def execute_workflow(
    workflow_id: int | str,
    *,
    instance_parameters: str | None = None,
    namespace: str | None = None,
    group_id: str | None = None,
    namespace_source: str | None = None,
) -> ApiCall[int]:
    """Start a workflow now (``ExecuteWorkflow``) and return the new workflow instance's id.

    Never retried once the request may have reached the service."""
    params = {
        "WorkflowId": validate_id(workflow_id, "workflow_id"),
        "InstanceParameters": check_instance_parameters(
            instance_parameters, limit=MAX_WORKFLOW_PARAMETERS_BYTES
        ),
    }

    def parse(reply: dict[str, Any], timezone: str) -> int:
        instance_id = data_of(reply, "ExecuteWorkflow").integer("WfInstanceId")
        if instance_id <= 0:
            raise SchedulerXResponseError(
                f"ExecuteWorkflow: the reply's WfInstanceId is {instance_id}, not an id"
            )
        return instance_id

    return ApiCall("ExecuteWorkflow", params, parse, scope=scope_of(namespace, group_id, namespace_source))


def get_workflow_instance(
    workflow_id: int | str,
    workflow_instance_id: int | str,
    *,
    namespace: str | None = None,
    group_id: str | None = None,
    namespace_source: str | None = None,
) -> ApiCall[WorkflowInstance]:
    """One workflow instance with its nodes and edges (``GetWorkflowInstance``)."""
    wanted_workflow = validate_id(workflow_id, "workflow_id")
    wanted = validate_id(workflow_instance_id, "workflow_instance_id")

    def parse(reply: dict[str, Any], timezone: str) -> WorkflowInstance:
        data = data_of(reply, "GetWorkflowInstance")
        info = data.child("WfInstanceInfo")
        dag = data.child("WfInstanceDag") if data.data.get("WfInstanceDag") is not None else None
        return WorkflowInstance(
            workflow_id=wanted_workflow,
            instance_id=wanted,
            status=_workflow_status(info),
            schedule_time=info.time("ScheduleTime", timezone),
            data_time=info.time("DataTime", timezone),
            start_time=info.time("StartTime", timezone),
            end_time=info.time("EndTime", timezone),
            nodes=tuple(_node(node, timezone) for node in dag.objects("Nodes")) if dag else (),
            edges=tuple((edge.integer("Source"), edge.integer("Target")) for edge in dag.objects("Edges"))
            if dag
            else (),
        )

    return ApiCall(
        "GetWorkflowInstance",
        {"WorkflowId": wanted_workflow, "WfInstanceId": wanted},
        parse,
        scope=scope_of(namespace, group_id, namespace_source),
    )


def list_workflow_instances(
    workflow_id: int | str,
    *,
    namespace: str | None = None,
    group_id: str | None = None,
    namespace_source: str | None = None,
) -> ApiCall[list[WorkflowInstance]]:
    """The workflow's instances, without their nodes (``ListWorkflowInstance``: no paging,
    no time filter), newest first."""
    wanted_workflow = validate_id(workflow_id, "workflow_id")

    def parse(reply: dict[str, Any], timezone: str) -> list[WorkflowInstance]:
        items = data_of(reply, "ListWorkflowInstance").objects("WfInstanceInfos")
        found = [
            WorkflowInstance(
                workflow_id=item.optional_integer("WorkflowId") or wanted_workflow,
                instance_id=item.integer("WfInstanceId"),
                status=_workflow_status(item),
                schedule_time=item.time("ScheduleTime", timezone),
                data_time=item.time("DataTime", timezone),
                start_time=item.time("StartTime", timezone),
                end_time=item.time("EndTime", timezone),
            )
            for item in items
        ]
        return sorted(found, key=lambda instance: instance.instance_id, reverse=True)

    return ApiCall(
        "ListWorkflowInstance",
        {"WorkflowId": wanted_workflow},
        parse,
        scope=scope_of(namespace, group_id, namespace_source),
    )


def set_workflow_instance_success(
    workflow_id: int | str,
    workflow_instance_id: int | str,
    *,
    namespace: str | None = None,
    group_id: str | None = None,
    namespace_source: str | None = None,
) -> ApiCall[None]:
    """Mark a failed workflow instance successful (``SetWfInstanceSuccess``)."""
    params = {
        "WorkflowId": validate_id(workflow_id, "workflow_id"),
        "WfInstanceId": validate_id(workflow_instance_id, "workflow_instance_id"),
    }
    return ApiCall(
        "SetWfInstanceSuccess",
        params,
        lambda reply, timezone: None,
        "POST",
        scope=scope_of(namespace, group_id, namespace_source),
    )


def get_workflow(
    workflow_id: int | str,
    *,
    namespace: str | None = None,
    group_id: str | None = None,
    namespace_source: str | None = None,
) -> ApiCall[dict[str, Any]]:
    """A workflow's definition (``GetWorkFlow``): ``WorkFlowInfo`` and ``WorkFlowNodeInfo``."""

    def parse(reply: dict[str, Any], timezone: str) -> dict[str, Any]:
        return dict(data_of(reply, "GetWorkFlow").data)

    return ApiCall(
        "GetWorkFlow",
        {"WorkflowId": validate_id(workflow_id, "workflow_id")},
        parse,
        scope=scope_of(namespace, group_id, namespace_source),
    )


def list_workflows(
    *,
    workflow_name: str | None = None,
    page: int = 1,
    page_size: int = MAX_PAGE_SIZE,
    namespace: str | None = None,
    group_id: str | None = None,
    namespace_source: str | None = None,
) -> ApiCall[list[dict[str, Any]]]:
    """The group's workflows (``ListWorkFlows``), those whose name contains ``workflow_name``
    if given: one page of them."""
    params = {
        "WorkflowName": validate_name(workflow_name, "workflow_name", required=False),
        "PageNum": validate_count(page, "page", minimum=1),
        "PageSize": validate_count(page_size, "page_size", minimum=1, maximum=MAX_PAGE_SIZE),
    }

    def parse(reply: dict[str, Any], timezone: str) -> list[dict[str, Any]]:
        return [dict(item.data) for item in data_of(reply, "ListWorkFlows").objects("Records")]

    return ApiCall(
        "ListWorkFlows", params, parse, "POST", scope=scope_of(namespace, group_id, namespace_source)
    )


def find_workflow(
    workflow_name: str,
    *,
    namespace: str | None = None,
    group_id: str | None = None,
    namespace_source: str | None = None,
) -> ApiCall[int]:
    """The id of the one workflow of the group named ``workflow_name`` (``ListWorkFlows``,
    whose name filter also matches parts of names: only an exact match counts).

    :raises SchedulerXConfigError: when no workflow, or more than one, has that name.
    """
    name = str(validate_name(workflow_name, "workflow_name"))
    listing = list_workflows(
        workflow_name=name, namespace=namespace, group_id=group_id, namespace_source=namespace_source
    )

    def parse(reply: dict[str, Any], timezone: str) -> int:
        records = data_of(reply, "ListWorkFlows").objects("Records")
        return the_one_named(records, "WorkflowId", name, "workflow")

    return ApiCall(listing.action, listing.params, parse, listing.method, scope=listing.scope)


def _workflow_status(fields: ReplyFields) -> WorkflowStatus:
    status = fields.integer("Status")
    if status < 0:
        raise fields.bad("Status", "a status number")
    return WorkflowStatus.of(status)


def _node(fields: ReplyFields, timezone: str) -> WorkflowNode:
    status = fields.optional_integer("Status")
    if status is not None and status < 0:
        raise fields.bad("Status", "a status number")
    return WorkflowNode(
        job_id=fields.integer("JobId"),
        status=InstanceStatus.of(status or 0),
        job_instance_id=fields.optional_integer("JobInstanceId") or None,
        job_name=fields.text("JobName"),
        attempt=fields.optional_integer("Attempt"),
        result=fields.text("Result"),
        work_addr=fields.text("WorkAddr"),
        schedule_time=fields.time("ScheduleTime", timezone),
        data_time=fields.time("DataTime", timezone),
        start_time=fields.time("StartTime", timezone),
        end_time=fields.time("EndTime", timezone),
    )
