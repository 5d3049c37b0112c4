"""What a job instance's state means for an Airflow task: shared by the sensor and the
operators. Light to import (no HTTP library), since DAG files import its importers."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_schedulerx.statuses import FAILURE_STATUSES, SUCCESS_STATUSES, parse_statuses

if TYPE_CHECKING:
    from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
    from airflow_provider_schedulerx.models import InstanceStatus, JobInstance

__all__ = [
    "LOG_TAIL_LINES",
    "ErrorStreak",
    "check_statuses",
    "deadline",
    "default_deferrable",
    "defer_timeout",
    "failure_message",
    "log_tail",
]

LOG_TAIL_LINES = 20
#: Polls in a row that may fail with a transient error before a poll-mode wait gives up.
MAX_CONSECUTIVE_ERRORS = 5


def check_statuses(
    success: Iterable[Any] | None, failure: Iterable[Any] | None
) -> tuple[frozenset[InstanceStatus], frozenset[InstanceStatus]]:
    """Read a task's ``success_statuses`` / ``failure_statuses``; they must not overlap."""
    success_set = SUCCESS_STATUSES if success is None else parse_statuses(success, "success_statuses")
    failure_set = FAILURE_STATUSES if failure is None else parse_statuses(failure, "failure_statuses")
    if not success_set:
        raise ValueError("success_statuses: give at least one status")
    if overlap := success_set & failure_set:
        names = ", ".join(sorted(s.label for s in overlap))
        raise ValueError(f"success_statuses and failure_statuses both contain: {names}")
    return success_set, failure_set


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` of the Airflow configuration."""
    try:
        from airflow.sdk import conf
    except ImportError:  # Airflow 2
        from airflow.configuration import conf  # type: ignore[no-redef,assignment]
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def log_tail(
    hook: SchedulerXHook,
    job_id: int,
    job_instance_id: int,
    *,
    lines: int = LOG_TAIL_LINES,
    namespace: str | None = None,
    group_id: str | None = None,
) -> list[str]:
    """The last log lines of an instance, or none if they cannot be had: a missing log
    must not hide the failure being reported."""
    from airflow_provider_schedulerx.exceptions import SchedulerXError

    try:
        return hook.get_log(job_id, job_instance_id, lines=lines, namespace=namespace, group_id=group_id)
    except SchedulerXError as error:
        hook.log.warning("Could not read the instance's log: %s", error)
        return []


def failure_message(instance: JobInstance | dict[str, Any], tail: list[str]) -> str:
    """``SchedulerX job 1 instance 2 ended failed: <Result>`` and the log tail."""
    if isinstance(instance, dict):
        job_id, instance_id = instance["job_id"], instance["instance_id"]
        status, result = instance["status_name"], instance.get("result")
    else:
        job_id, instance_id = instance.job_id, instance.instance_id
        status, result = instance.status.label, instance.result
    message = f"SchedulerX job {job_id} instance {instance_id} ended {status}"
    if result:
        message += f": {result}"
    if tail:
        message += "\nLast log lines:\n" + "\n".join(f"  {line}" for line in tail)
    return message


def deadline(context: Any, execution_timeout: timedelta | None, timeout: float | None) -> float | None:
    """Epoch seconds by which the wait must end: the earlier of the task's start plus its
    ``execution_timeout`` and now plus ``timeout``."""
    candidates = []
    if timeout is not None:
        candidates.append(time.time() + float(timeout))
    if execution_timeout is not None:
        ti = context.get("ti") if context else None
        start = getattr(ti, "start_date", None)
        started = start.timestamp() if start is not None else time.time()
        candidates.append(started + execution_timeout.total_seconds())
    return min(candidates) if candidates else None


def defer_timeout(deadline_at: float | None) -> timedelta | None:
    """Airflow's own deferral timeout: a backstop a minute after the trigger's deadline, so
    that the trigger reports the timeout (and the task can stop the instance) first."""
    if deadline_at is None:
        return None
    return timedelta(seconds=max(0.0, deadline_at - time.time()) + 60)


class ErrorStreak:
    """Rides out polls that still fail after the client's own retries, as long as the
    errors are transient and fewer than ``limit`` come in a row.

    :param limit: failed polls in a row to tolerate.
    """

    def __init__(self, limit: int = MAX_CONSECUTIVE_ERRORS) -> None:
        self.limit = limit
        self.length = 0

    def tolerate(self, error: Exception, log: Any) -> bool:
        """Count ``error``; True to poll again, False to let it fail the task."""
        self.length += 1
        if not getattr(error, "retryable", False) or self.length > self.limit:
            return False
        log.warning("Poll failed (%s); polling on (%d of %d in a row)", error, self.length, self.limit)
        return True

    def reset(self) -> None:
        self.length = 0
