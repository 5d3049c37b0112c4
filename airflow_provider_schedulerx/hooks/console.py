"""Addresses of the SchedulerX console's pages, for the tasks' "SchedulerX Console" link.

The console publishes no address of a page of one instance: a job instance opens on the
namespace's instance list filtered to its job and instance, a workflow instance on the
workflow instance list filtered to its workflow and instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode

__all__ = ["instance_list_url", "workflow_instance_url"]


def _page(base_url: str, region_id: str, page: str, query: Mapping[str, object]) -> str:
    shown = {name: value for name, value in query.items() if value not in (None, "")}
    path = f"{base_url.rstrip('/')}/{quote(region_id, safe='')}/{page}"
    return f"{path}?{urlencode({**shown, 'source': 'schedulerx'})}"


def instance_list_url(
    base_url: str,
    region_id: str,
    namespace: str | None,
    *,
    group_id: str | None = None,
    job_id: int | None = None,
    instance_id: int | None = None,
) -> str:
    """The console page of a namespace's job instances, filtered to a job and instance when
    given, e.g. ``https://schedulerx2.console.aliyun.com/cn-hangzhou/InstanceList?namespace=<ns>
    &groupId=<group>&jobId=<job>&instanceId=<instance>&source=schedulerx``."""
    query = {"namespace": namespace or "", "groupId": group_id, "jobId": job_id, "instanceId": instance_id}
    return _page(base_url, region_id, "InstanceList", query)


def workflow_instance_url(
    base_url: str,
    region_id: str,
    namespace: str | None,
    *,
    group_id: str | None,
    workflow_id: int,
    workflow_instance_id: int | None = None,
) -> str:
    """The console page of a workflow's instances, filtered to one when given."""
    query = {
        "namespace": namespace or "",
        "groupId": group_id,
        "workflowId": workflow_id,
        "wfInstanceId": workflow_instance_id,
    }
    return _page(base_url, region_id, "WorkflowInstanceList", query)
