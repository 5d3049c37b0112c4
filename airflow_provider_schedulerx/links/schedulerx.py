"""The "SchedulerX Console" link of SchedulerX tasks."""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import BaseOperatorLink

__all__ = ["CONSOLE_URL_XCOM_KEY", "SchedulerXJobInstanceLink"]

CONSOLE_URL_XCOM_KEY = "console_url"


class SchedulerXJobInstanceLink(BaseOperatorLink):
    """Opens the SchedulerX console on the task's namespace. The task pushes the URL to
    XCom as soon as it knows it; on Airflow 3 the worker stores the link when the task ends."""

    name = "SchedulerX Console"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.providers.common.compat.sdk import XCom

        return XCom.get_value(key=CONSOLE_URL_XCOM_KEY, ti_key=ti_key) or ""
