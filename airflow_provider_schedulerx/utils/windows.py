"""Reading a task's time window: the bounds it was given, or its DAG run's data interval."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["window_bound"]


def window_bound(value: Any, context: Any, setting: str, default_key: str, timezone: str) -> float:
    """A window bound in epoch seconds: ``value`` (a datetime, or an ISO 8601 string; one
    without a zone in ``timezone``), else the run's ``default_key``."""
    import pendulum

    from airflow_provider_schedulerx.config import shown
    from airflow_provider_schedulerx.exceptions import SchedulerXConfigError

    if value is None or value == "":
        value = context.get(default_key) if context else None
        if value is None:
            raise SchedulerXConfigError(
                f"{setting}: this DAG run has no {default_key} (a manual run of a DAG without a "
                "schedule); give window_start and window_end"
            )
    if isinstance(value, str):
        try:
            value = pendulum.parse(value, tz=timezone)
        except (ValueError, TypeError):  # pendulum's ParserError is a ValueError
            raise SchedulerXConfigError(
                f"{setting}: expected a datetime or an ISO 8601 time, got {shown(value)}"
            ) from None
    if not isinstance(value, datetime):
        raise SchedulerXConfigError(f"{setting}: expected a datetime or an ISO 8601 time, got {shown(value)}")
    if value.tzinfo is None:
        value = pendulum.instance(value, tz=timezone)
    return value.timestamp()
