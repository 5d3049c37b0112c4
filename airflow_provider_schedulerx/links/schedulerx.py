"""The "SchedulerX Console" link of SchedulerX tasks."""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import BaseOperatorLink

__all__ = ["CONSOLE_URL_XCOM_KEY", "SchedulerXJobInstanceLink"]

CONSOLE_URL_XCOM_KEY = "console_url"


class SchedulerXJobInstanceLink(BaseOperatorLink):
    """Opens the SchedulerX console on the task's instance (its job's instance list filtered
    to it; a workflow's instance for workflow tasks).

    The task pushes the URL to XCom as soon as the instance is known. Airflow 3 reads a link
    from the XCom named by ``xcom_key``, which here is that same XCom: the link works while
    the task still runs, not only once the worker has stored it at the task's end.
    """

    name = "SchedulerX Console"

    @property
    def xcom_key(self) -> str:
        return CONSOLE_URL_XCOM_KEY

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.providers.common.compat.sdk import XCom

        return XCom.get_value(key=CONSOLE_URL_XCOM_KEY, ti_key=ti_key) or ""
