"""The "SchedulerX Console" link of SchedulerX tasks."""

from __future__ import annotations

from urllib.parse import quote, urlencode

__all__ = ["console_url"]


def console_url(base_url: str, region_id: str, namespace: str | None) -> str:
    """The console page of a namespace's job instances, e.g.
    ``https://schedulerx2.console.aliyun.com/cn-hangzhou/InstanceList?namespace=<ns>&source=schedulerx``."""
    query = urlencode({"namespace": namespace or "", "source": "schedulerx"})
    return f"{base_url.rstrip('/')}/{quote(region_id)}/InstanceList?{query}"
