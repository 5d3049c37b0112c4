"""The one waiting policy of every SchedulerX task, in whatever mode it waits (a poking or
rescheduled sensor, an operator polling from its worker, a trigger): which statuses end the
wait and how, how many failed polls in a row are ridden out, and what the wait's settings
accept. Pure: no Airflow, no HTTP, so that a trigger and a DAG file can both afford it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from airflow_provider_schedulerx.config import shown, validate_seconds
from airflow_provider_schedulerx.exceptions import SchedulerXConfigError
from airflow_provider_schedulerx.statuses import FAILURE_STATUSES as DEFAULT_FAILURE
from airflow_provider_schedulerx.statuses import FINISHED_STATUSES as FINISHED
from airflow_provider_schedulerx.statuses import SUCCESS_STATUSES as DEFAULT_SUCCESS
from airflow_provider_schedulerx.statuses import InstanceStatus, LenientIntEnum, parse_statuses

__all__ = [
    "MAX_FAILED_POLLS",
    "MIN_POLL_INTERVAL",
    "ErrorStreak",
    "NodeLog",
    "StatusLog",
    "Verdict",
    "WaitPolicy",
    "check_flag",
    "check_poll_interval",
    "check_timeout",
    "seconds_of",
]

#: Polls in a row that may fail with a transient error (after the client's own retries)
#: before the wait gives up, in every mode.
MAX_FAILED_POLLS = 10
#: The shortest time between two polls of one wait. Against the real service, 10 s or more.
MIN_POLL_INTERVAL = 0.1


class Verdict(enum.Enum):
    """What a status means for the wait."""

    WAIT = "wait"
    SUCCESS = "success"
    FAILURE = "failure"
    #: A final status in neither list: the wait ends, and the try fails naming it.
    UNLISTED = "unlisted"


@dataclass(frozen=True)
class WaitPolicy:
    """Which statuses end a wait, and how.

    :param success: statuses that end the wait successfully.
    :param failure: statuses that fail the try (retryably: a new try starts a new instance).
        An empty set is kept empty: every final status then either succeeds or is unlisted.
    """

    success: frozenset[InstanceStatus] = DEFAULT_SUCCESS
    failure: frozenset[InstanceStatus] = DEFAULT_FAILURE

    @classmethod
    def of(cls, success_statuses: Iterable[Any] | None, failure_statuses: Iterable[Any] | None) -> WaitPolicy:
        """Read a task's ``success_statuses`` / ``failure_statuses`` (``None`` for the default
        list); they must not overlap.

        :raises SchedulerXConfigError: naming the setting and the statuses it accepts.
        """
        try:
            success = (
                DEFAULT_SUCCESS
                if success_statuses is None
                else parse_statuses(success_statuses, "success_statuses")
            )
            failure = (
                DEFAULT_FAILURE
                if failure_statuses is None
                else parse_statuses(failure_statuses, "failure_statuses")
            )
        except ValueError as error:
            raise SchedulerXConfigError(str(error)) from None
        if not success:
            raise SchedulerXConfigError("success_statuses: give at least one status")
        if overlap := success & failure:
            names = ", ".join(sorted(s.label for s in overlap))
            raise SchedulerXConfigError(f"success_statuses and failure_statuses both contain: {names}")
        return cls(success, failure)

    @classmethod
    def from_numbers(cls, success: Iterable[int], failure: Iterable[int]) -> WaitPolicy:
        """The policy :meth:`numbers` wrote (a trigger's kwargs): lists taken as they are."""
        return cls(
            frozenset(InstanceStatus.of(int(s)) for s in success),
            frozenset(InstanceStatus.of(int(s)) for s in failure),
        )

    def numbers(self) -> tuple[list[int], list[int]]:
        """The success and failure statuses as sorted lists of numbers, to serialize."""
        return sorted(int(s) for s in self.success), sorted(int(s) for s in self.failure)

    def verdict(self, status: InstanceStatus) -> Verdict:
        if status in self.success:
            return Verdict.SUCCESS
        if status in self.failure:
            return Verdict.FAILURE
        if status in FINISHED:
            return Verdict.UNLISTED
        return Verdict.WAIT


class ErrorStreak:
    """Failed polls in a row. A transient error (one a retry can fix) is ridden out while
    fewer than :data:`MAX_FAILED_POLLS` come in a row; any other error ends the wait at once.

    :param length: failed polls so far (a rescheduled sensor carries it from poke to poke).
    """

    __slots__ = ("length",)

    def __init__(self, length: int = 0) -> None:
        self.length = length

    def tolerates(self, error: BaseException, log: Any = None) -> bool:
        """Count ``error``; True to poll again (said in ``log``, if given), False to end the
        wait with it."""
        self.length += 1
        tolerated = bool(getattr(error, "retryable", False)) and self.length < MAX_FAILED_POLLS
        if tolerated and log is not None:
            log.warning("Poll failed (%s); polling on (%s)", error, self)
        return tolerated

    def reset(self) -> None:
        self.length = 0

    def __str__(self) -> str:
        return f"{self.length} of {MAX_FAILED_POLLS} in a row"


def check_poll_interval(value: Any, setting: str = "poll_interval") -> float:
    """Seconds between polls: a finite number, at least :data:`MIN_POLL_INTERVAL`."""
    return validate_seconds(value, setting, minimum=MIN_POLL_INTERVAL, maximum=86400.0, allow_minimum=True)


def check_timeout(value: Any, setting: str = "timeout") -> float | None:
    """A wait's limit in seconds: ``None`` (none), or a finite number above 0."""
    if value is None:
        return None
    if hasattr(value, "total_seconds"):
        value = value.total_seconds()
    return validate_seconds(value, setting, maximum=366 * 86400.0)


def check_flag(value: Any, setting: str) -> bool:
    """A task's true/false setting."""
    if not isinstance(value, bool):
        raise SchedulerXConfigError(f"{setting}: expected True or False, got {shown(value)}")
    return value


def seconds_left(deadline: float | None, now: float) -> float:
    """Seconds until ``deadline`` (epoch seconds), infinite without one."""
    return math.inf if deadline is None else deadline - now


#: While the status stays the same, it is logged again after this many seconds, not on
#: every poll: a log line costs a triggerer about as much as a poll, and thousands of
#: waiting triggers would otherwise write hundreds of identical lines a second between them.
STILL_WAITING_LOG_SECONDS = 300.0


class StatusLog:
    """Logs an instance's status when it changes, and again every
    ``STILL_WAITING_LOG_SECONDS`` while it stays the same, with how long it has.

    :param log: the trigger's logger.
    :param what: the instance, as the lines name it.
    """

    __slots__ = ("_log", "_logged_at", "_since", "_status", "_what")

    def __init__(self, log: Any, what: str) -> None:
        self._log = log
        self._what = what
        self._status: LenientIntEnum | str | None = None
        self._since = self._logged_at = 0.0

    def update(self, status: LenientIntEnum | str, now: float) -> None:
        """Note the status (or a word for the lack of an instance) seen at ``now`` (seconds
        of a monotonic clock)."""
        label = status if isinstance(status, str) else status.label
        if status != self._status:
            self._log.info("%s is %s", self._what, label)
            self._status, self._since, self._logged_at = status, now, now
        elif now - self._logged_at >= STILL_WAITING_LOG_SECONDS:
            minutes = round((now - self._since) / 60)
            self._log.info("%s is still %s, for %d min now", self._what, label, minutes)
            self._logged_at = now


class NodeLog:
    """Logs each node of a workflow instance whose status changed since the last poll:
    ``node extract (job 901, instance 7) running -> success``.

    :param log: the task's or trigger's logger.
    """

    __slots__ = ("_log", "_seen")

    def __init__(self, log: Any) -> None:
        self._log = log
        self._seen: dict[int, Any] = {}

    def update(self, instance: Any) -> None:
        """Note the nodes of a :class:`~airflow_provider_schedulerx.models.WorkflowInstance`."""
        for node in instance.nodes:
            before = self._seen.get(node.job_id)
            if node.job_instance_id and before != node.status:
                was = f"{before.label} -> " if before is not None else ""
                self._log.info("%s %s%s", node.describe(), was, node.status.label)
                self._seen[node.job_id] = node.status


def seconds_of(value: Any) -> Any:
    """A duration given as a ``timedelta`` in seconds; anything else as it is."""
    return value.total_seconds() if hasattr(value, "total_seconds") else value
