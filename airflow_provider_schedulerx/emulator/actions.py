"""The SchedulerX actions the emulator serves: parameters in, reply data out.

Nothing here knows about HTTP. A handler returns the ``Data`` of a SchedulerX reply (or
``None`` for a reply without one); it raises
:class:`~airflow_provider_schedulerx.emulator.errors.ServiceError` for what the gateway or the
service refuses.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_schedulerx.config import MAX_LOG_LINES
from airflow_provider_schedulerx.emulator.errors import ServiceError
from airflow_provider_schedulerx.emulator.params import CallContext, Handler, Params

__all__ = ["MAX_PAGE_SIZE", "SCHEDULERX_ACTIONS", "SCHEDULERX_VERSION", "UNIMPLEMENTED_ACTIONS"]

SCHEDULERX_VERSION = "2019-04-30"
#: The largest ``PageSize`` of the paged lists (GetJobInstanceList, ListJobs, ListWorkFlows):
#: the service publishes no maximum and its SDK's examples ask for at most this, so a client
#: that asks for more is refused here rather than trusted to the service.
MAX_PAGE_SIZE = 100


def _group(ctx: CallContext, p: Params) -> tuple[str, str]:
    p.text("RegionId", required=True)
    namespace = p.text("Namespace", required=True)
    group_id = p.text("GroupId", required=True)
    assert namespace is not None
    assert group_id is not None
    ctx.state.check_group(namespace, group_id)
    return namespace, group_id


def _job(ctx: CallContext, p: Params) -> Any:
    namespace, group_id = _group(ctx, p)
    job_id = p.long("JobId", required=True)
    assert job_id is not None
    return ctx.state.job(namespace, group_id, job_id)


def _instance(ctx: CallContext, p: Params, id_param: str = "JobInstanceId") -> Any:
    job = _job(ctx, p)
    instance_id = p.long(id_param, required=True)
    assert instance_id is not None
    return ctx.state.job_instance(job, instance_id)


def _page(p: Params, default_size: int | None) -> tuple[int, int | None]:
    number = p.long("PageNum") or 1
    size = p.long("PageSize") or default_size
    if number < 1 or (size is not None and size < 1):
        raise ServiceError("InvalidParameter", "PageNum and PageSize must be positive.")
    if size is not None and size > MAX_PAGE_SIZE:
        raise ServiceError(
            "InvalidParameter",
            f"PageSize must be at most {MAX_PAGE_SIZE}, got {size}.",
        )
    return number, size


def execute_job(ctx: CallContext, p: Params) -> dict[str, Any]:
    job = _job(ctx, p)
    designate_type = p.long("DesignateType")
    worker, label = p.text("Worker"), p.text("Label")
    if designate_type == 1 and not worker:
        raise ServiceError.business(400, "worker is required when designateType=1")
    if designate_type == 2 and not label:
        raise ServiceError.business(400, "label is required when designateType=2")
    ctx.state.check_start_second(job)
    inst = ctx.state.execute(
        job,
        parameters=p.text("InstanceParameters") or "",
        check_job_status=p.boolean("CheckJobStatus", False),
        worker=worker if designate_type == 1 else None,
        label=label if designate_type == 2 else None,
        designate_type=designate_type,
    )
    ctx.executions[job.job_id] += 1
    return {"JobInstanceId": inst.instance_id}


def get_job_instance(ctx: CallContext, p: Params) -> dict[str, Any]:
    return {"JobInstanceDetail": ctx.views.detail(_instance(ctx, p))}


def get_job_instance_list(ctx: CallContext, p: Params) -> dict[str, Any]:
    namespace, group_id = _group(ctx, p)
    job_id = p.long("JobId")
    status = p.long("Status")
    start_ms, end_ms = p.long("StartTimestamp"), p.long("EndTimestamp")
    number, size = _page(p, 10)
    assert size is not None
    state = ctx.state
    if job_id is not None:
        instances = state.instances_of(state.job(namespace, group_id, job_id).job_id)
    else:
        instances = state.group_instances(namespace, group_id)
    now = state.clock()
    # Newest first by schedule time; the time filters are on the schedule time too.
    selected = [
        inst
        for inst in sorted(instances, key=lambda i: (i.scheduled_at, i.instance_id), reverse=True)
        if (start_ms is None or inst.scheduled_at * 1000 >= start_ms)
        and (end_ms is None or inst.scheduled_at * 1000 <= end_ms)
        and (status is None or int(inst.view(now).status) == status)
    ]
    page = selected[(number - 1) * size : number * size]
    # As the service: the page alone, no total (a client pages on until a short page).
    return {"JobInstanceDetails": [ctx.views.detail(inst, full=False) for inst in page]}


def stop_instance(ctx: CallContext, p: Params) -> None:
    ctx.state.stop(_instance(ctx, p, "InstanceId"))


def retry_job_instance(ctx: CallContext, p: Params) -> None:
    ctx.state.retry(_instance(ctx, p))


def set_job_instance_success(ctx: CallContext, p: Params) -> None:
    ctx.state.set_success(_instance(ctx, p))


def get_log(ctx: CallContext, p: Params) -> dict[str, Any]:
    inst = _instance(ctx, p)
    line = p.long("Line")
    return {
        "Logs": ctx.views.logs(
            inst,
            line=MAX_LOG_LINES if line is None else line,
            offset=max(0, p.long("Offset") or 0),
            reverse=p.boolean("Reverse", True),
            keyword=p.text("Keyword"),
            start_ms=p.long("StartTimestamp"),
            end_ms=p.long("EndTimestamp"),
        )
    }


def get_job_info(ctx: CallContext, p: Params) -> dict[str, Any]:
    if p.text("JobId") is None and p.text("JobName") is not None:
        namespace, group_id = _group(ctx, p)
        job = ctx.state.job_by_name(namespace, group_id, p.text("JobName") or "")
    else:
        job = _job(ctx, p)
    return {"JobConfigInfo": ctx.views.job_config(job)}


def list_jobs(ctx: CallContext, p: Params) -> dict[str, Any]:
    namespace, group_id = _group(ctx, p)
    name, status = p.text("JobName"), p.text("Status")
    jobs = [
        job
        for job in sorted(ctx.state.jobs(namespace, group_id), key=lambda j: j.job_id)
        if (name is None or name in (job.name or ""))
        and (status is None or status == ("1" if job.enabled else "0"))
    ]
    number, size = _page(p, None)
    size = size or max(1, len(jobs))
    page = jobs[(number - 1) * size : number * size]
    return {
        "Jobs": [ctx.views.job_config(job) for job in page],
        "Total": len(jobs),
        "PageNumber": number,
        "PageSize": size,
    }


def _set_enabled(ctx: CallContext, p: Params, enabled: bool) -> None:
    _job(ctx, p).enabled = enabled


def list_namespaces(ctx: CallContext, p: Params) -> dict[str, Any]:
    p.text("RegionId", required=True)
    wanted_id, wanted_name = p.text("Namespace"), p.text("NamespaceName")
    items = []
    for ns in ctx.state.namespaces():
        name = ns.name or ns.namespace
        if wanted_id is not None and wanted_id != ns.namespace:
            continue
        if wanted_name is not None and wanted_name not in name:
            continue
        items.append(
            {"UId": ns.namespace, "Uid": ns.namespace, "Name": name, "Description": ns.description},
        )
    return {"Namespaces": items}


def list_groups(ctx: CallContext, p: Params) -> dict[str, Any]:
    p.text("RegionId", required=True)
    namespace = p.text("Namespace", required=True)
    assert namespace is not None
    ctx.state.check_group(namespace, None)
    spec = next(ns for ns in ctx.state.namespaces() if ns.namespace == namespace)
    groups = [
        {
            "AppGroupId": index + 1,
            "AppKey": "",
            "AppName": group.split(".")[0],
            "Description": "",
            "GroupId": group,
        }
        for index, group in enumerate(sorted(spec.groups))
    ]
    return {"AppGroups": groups}


def _workflow(ctx: CallContext, p: Params) -> Any:
    namespace, group_id = _group(ctx, p)
    workflow_id = p.long("WorkflowId", required=True)
    assert workflow_id is not None
    return ctx.state.workflows.workflow(namespace, group_id, workflow_id)


def _workflow_instance(ctx: CallContext, p: Params) -> Any:
    spec = _workflow(ctx, p)
    wf_instance_id = p.long("WfInstanceId", required=True)
    assert wf_instance_id is not None
    return ctx.state.workflows.instance(spec, wf_instance_id)


def execute_workflow(ctx: CallContext, p: Params) -> dict[str, Any]:
    spec = _workflow(ctx, p)
    parameters = p.text("InstanceParameters") or ""
    if len(parameters.encode()) > 1000:
        raise ServiceError("InvalidParameter", "InstanceParameters is longer than 1000 bytes.")
    inst = ctx.state.workflows.execute(spec, parameters)
    return {"WfInstanceId": inst.wf_instance_id}


def get_workflow_instance(ctx: CallContext, p: Params) -> dict[str, Any]:
    return ctx.views.workflow_instance(_workflow_instance(ctx, p))


def list_workflow_instance(ctx: CallContext, p: Params) -> dict[str, Any]:
    workflows = ctx.state.workflows
    instances = sorted(
        workflows.instances_of(_workflow(ctx, p)), key=lambda i: i.wf_instance_id, reverse=True
    )
    now = ctx.state.clock()
    infos = [ctx.views.workflow_instance_info(inst, *inst.status(now)) for inst in instances]
    return {"WfInstanceInfos": infos}


def set_wf_instance_success(ctx: CallContext, p: Params) -> None:
    ctx.state.workflows.set_success(_workflow_instance(ctx, p))


def get_work_flow(ctx: CallContext, p: Params) -> dict[str, Any]:
    spec = _workflow(ctx, p)
    return {
        "WorkFlowInfo": ctx.views.workflow_info(spec),
        "WorkFlowNodeInfo": {
            "Nodes": [{"Id": node, "Label": str(node), "Status": 1} for node in spec.nodes],
            "Edges": [{"Source": s, "Target": t} for s, t in spec.edges],
        },
    }


def list_work_flows(ctx: CallContext, p: Params) -> dict[str, Any]:
    namespace, group_id = _group(ctx, p)
    name = p.text("WorkflowName")
    number, size = _page(p, 10)
    assert size is not None
    found = [s for s in ctx.state.workflows.workflows(namespace, group_id) if not name or name in str(s.name)]
    page = found[(number - 1) * size : number * size]
    return {
        "Records": [ctx.views.workflow_info(spec) for spec in page],
        "PageNumber": number,
        "PageSize": size,
        "Total": len(found),
    }


SCHEDULERX_ACTIONS: dict[str, Handler] = {
    "ExecuteJob": execute_job,
    "GetJobInstance": get_job_instance,
    "GetJobInstanceList": get_job_instance_list,
    "StopInstance": stop_instance,
    "RetryJobInstance": retry_job_instance,
    "SetJobInstanceSuccess": set_job_instance_success,
    "GetLog": get_log,
    "GetJobInfo": get_job_info,
    "ListJobs": list_jobs,
    "EnableJob": lambda ctx, p: _set_enabled(ctx, p, True),
    "DisableJob": lambda ctx, p: _set_enabled(ctx, p, False),
    "ListNamespaces": list_namespaces,
    "ListGroups": list_groups,
    "ExecuteWorkflow": execute_workflow,
    "GetWorkflowInstance": get_workflow_instance,
    "ListWorkflowInstance": list_workflow_instance,
    "SetWfInstanceSuccess": set_wf_instance_success,
    "GetWorkFlow": get_work_flow,
    "ListWorkFlows": list_work_flows,
}

# The rest of the 61 schedulerx2 actions: real, but not emulated.
UNIMPLEMENTED_ACTIONS = frozenset(
    {
        "BatchDeleteJobs",
        "BatchDeleteRouteStrategy",
        "BatchDisableJobs",
        "BatchEnableJobs",
        "CreateAppGroup",
        "CreateJob",
        "CreateNamespace",
        "CreateRouteStrategy",
        "CreateSchedulerxCalendar",
        "CreateSchedulerxNotificationPolicy",
        "CreateWorkflow",
        "DeleteAppGroup",
        "DeleteJob",
        "DeleteNamespace",
        "DeleteRouteStrategy",
        "DeleteSchedulerxCalendar",
        "DeleteSchedulerxNotificationPolicy",
        "DeleteWorkflow",
        "DescribeRegions",
        "DesignateWorkers",
        "DisableWorkflow",
        "EnableWorkflow",
        "GetAppGroup",
        "GetOverview",
        "GetWorkerList",
        "GrantPermission",
        "ListJobScriptHistory",
        "ManageSchedulerxCalendar",
        "ManageSchedulerxJobSync",
        "ManageSchedulerxNotificationPolicy",
        "ReadSchedulerxCalendar",
        "ReadSchedulerxDesignateDetail",
        "ReadSchedulerxDesignateInfo",
        "ReadSchedulerxNotificationPolicy",
        "RerunJob",
        "RevokePermission",
        "UpdateAppGroup",
        "UpdateJob",
        "UpdateJobScript",
        "UpdateNamespace",
        "UpdateWorkflow",
        "UpdateWorkflowDag",
    }
)
