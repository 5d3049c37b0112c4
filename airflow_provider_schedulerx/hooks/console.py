"""Addresses of the SchedulerX console's pages, for the tasks' "SchedulerX Console" link."""

from __future__ import annotations

from urllib.parse import quote, urlencode

__all__ = ["instance_list_url"]


def instance_list_url(base_url: str, region_id: str, namespace: str | None) -> str:
    """The console page of a namespace's job instances, e.g.
    ``https://schedulerx2.console.aliyun.com/cn-hangzhou/InstanceList?namespace=<ns>&source=schedulerx``."""
    query = urlencode({"namespace": namespace or "", "source": "schedulerx"})
    return f"{base_url.rstrip('/')}/{quote(region_id)}/InstanceList?{query}"
