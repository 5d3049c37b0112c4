"""The "SchedulerX Console" link of SchedulerX tasks."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from airflow_provider_schedulerx.compat import BaseOperatorLink

__all__ = ["CONSOLE_URL_XCOM_KEY", "SchedulerXJobInstanceLink", "console_url"]

CONSOLE_URL_XCOM_KEY = "console_url"


def console_url(base_url: str, region_id: str, namespace: str | None) -> str:
    """The console page of a namespace's job instances, e.g.
    ``https://schedulerx2.console.aliyun.com/cn-hangzhou/InstanceList?namespace=<ns>&source=schedulerx``."""
    query = urlencode({"namespace": namespace or "", "source": "schedulerx"})
    return f"{base_url.rstrip('/')}/{quote(region_id)}/InstanceList?{query}"


class SchedulerXJobInstanceLink(BaseOperatorLink):
    """Opens the SchedulerX console on the task's namespace. The task pushes the URL to
    XCom as soon as it knows it; on Airflow 3 the worker stores the link when the task ends."""

    name = "SchedulerX Console"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow_provider_schedulerx.compat import XCom

        return XCom.get_value(key=CONSOLE_URL_XCOM_KEY, ti_key=ti_key) or ""
