"""The catalogue's log actions: an instance's log tail, and a page of it from an offset (as in
:mod:`~airflow_provider_schedulerx.rpc.actions`)."""

from __future__ import annotations

from typing import Any

from airflow_provider_schedulerx.config import MAX_LOG_LINES, validate_count, validate_id, validate_name
from airflow_provider_schedulerx.rpc.calls import ApiCall, scope_of
from airflow_provider_schedulerx.rpc.replies import data_of

__all__ = ["get_log", "log_page"]


def get_log(
    job_id: int | str,
    job_instance_id: int | str,
    *,
    lines: int = MAX_LOG_LINES,
    keyword: str | None = None,
    namespace: str | None = None,
    group_id: str | None = None,
    namespace_source: str | None = None,
) -> ApiCall[list[str]]:
    """The last ``lines`` log lines of an instance, oldest first (``GetLog``)."""
    params = {
        "JobId": str(validate_id(job_id, "job_id")),
        "JobInstanceId": str(validate_id(job_instance_id, "job_instance_id")),
        "Line": validate_count(lines, "lines", minimum=1, maximum=MAX_LOG_LINES),
        "Keyword": validate_name(keyword, "keyword", required=False),
        "Reverse": True,
    }

    def parse(reply: dict[str, Any], timezone: str) -> list[str]:
        # Asked newest first, so that the tail is what comes back; shown oldest first.
        return list(reversed(data_of(reply, "GetLog").strings("Logs")))

    return ApiCall("GetLog", params, parse, scope=scope_of(namespace, group_id, namespace_source))


def log_page(
    job_id: int | str,
    job_instance_id: int | str,
    *,
    offset: int,
    lines: int,
    namespace: str | None = None,
    group_id: str | None = None,
    namespace_source: str | None = None,
) -> ApiCall[list[str]]:
    """Log lines of an instance from the ``offset``-th on (counted from its first line),
    oldest first, at most ``lines`` of them (``GetLog`` with ``Reverse`` false)."""
    params = {
        "JobId": str(validate_id(job_id, "job_id")),
        "JobInstanceId": str(validate_id(job_instance_id, "job_instance_id")),
        "Offset": validate_count(offset, "offset", minimum=0, maximum=10**9),
        "Line": validate_count(lines, "lines", minimum=1, maximum=MAX_LOG_LINES),
        "Reverse": False,
    }

    def parse(reply: dict[str, Any], timezone: str) -> list[str]:
        return data_of(reply, "GetLog").strings("Logs")

    return ApiCall("GetLog", params, parse, scope=scope_of(namespace, group_id, namespace_source))
