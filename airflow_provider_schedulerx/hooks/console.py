"""Addresses of the SchedulerX console's pages, for the tasks' "SchedulerX Console" link.

The console publishes no address of a page of one instance: a job instance opens on the
namespace's instance list filtered to its job and instance, a workflow instance on the
workflow instance list filtered to its workflow and instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    from airflow_provider_schedulerx.hooks.connection import ConnectionSettings

__all__ = ["ConsoleLinks", "instance_list_url", "workflow_instance_url"]


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


class ConsoleLinks:
    """The hook's console addresses, in the connection's region, namespace and group."""

    if TYPE_CHECKING:

        @property
        def settings(self) -> ConnectionSettings: ...

        def _client_kwargs(self, settings: ConnectionSettings) -> dict[str, Any]: ...

    def scope_of(self, namespace: str | None, group_id: str | None) -> tuple[str | None, str | None]:
        """The namespace and group a call goes to: these, or the hook's or connection's."""
        defaults = self._client_kwargs(self.settings)
        return namespace or defaults.get("namespace"), group_id or defaults.get("group_id")

    def job_console_url(
        self,
        job_id: int | None = None,
        instance_id: int | None = None,
        *,
        namespace: str | None = None,
        group_id: str | None = None,
    ) -> str:
        """The console's list of the namespace's job instances, filtered to the job and the
        instance when given."""
        namespace, group_id = self.scope_of(namespace, group_id)
        return instance_list_url(
            self.settings.console_url,
            self.settings.config.region_id,
            namespace,
            group_id=group_id if job_id is not None else None,
            job_id=job_id,
            instance_id=instance_id,
        )

    def workflow_console_url(
        self,
        workflow_id: int,
        workflow_instance_id: int | None = None,
        *,
        namespace: str | None = None,
        group_id: str | None = None,
    ) -> str:
        """The console's list of a workflow's instances, filtered to the instance when given."""
        namespace, group_id = self.scope_of(namespace, group_id)
        return workflow_instance_url(
            self.settings.console_url,
            self.settings.config.region_id,
            namespace,
            group_id=group_id,
            workflow_id=workflow_id,
            workflow_instance_id=workflow_instance_id,
        )
