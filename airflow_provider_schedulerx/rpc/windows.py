"""The instance of a job that belongs to a time window (a DAG run's data interval), found as
a plan of calls that the sync and the async clients both run.

A plan is a generator: it yields the ``GetJobInstanceList`` pages it needs, is sent each
page's instances, and returns what it found. The time filters of ``GetJobInstanceList`` are
on the schedule time, newest first (the service documents neither, the console behaves so);
the window's end is widened a little in case they are on the start time instead, and every
instance is checked against the window itself.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from airflow_provider_schedulerx.config import shown
from airflow_provider_schedulerx.exceptions import SchedulerXConfigError
from airflow_provider_schedulerx.models import JobInstance, TriggerType
from airflow_provider_schedulerx.rpc.actions import MAX_PAGE_SIZE, job_instance_page
from airflow_provider_schedulerx.rpc.calls import ApiCall, Scope

__all__ = [
    "MATCH_ON",
    "Plan",
    "Window",
    "WindowSearch",
    "data_offset",
    "newest_in_window",
    "run_plan",
    "run_plan_async",
]

T = TypeVar("T")
Plan = Generator[ApiCall[list[JobInstance]], list[JobInstance], T]

#: What places an instance in a window: its data time, or its schedule time.
MATCH_ON = ("data_time", "schedule_time")
#: How far past the window's end the listing reaches (milliseconds).
END_SLACK_MS = 60_000
#: Pages of one listing at the most; the window's instances are on the first one or two.
MAX_WINDOW_PAGES = 10
#: Instances looked at for the job's data offset (the newest ones).
OFFSET_SAMPLE = 10


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in epoch seconds, matched on an instance's data or schedule time."""

    start: float
    end: float
    match_on: str = "data_time"

    def __post_init__(self) -> None:
        if self.match_on not in MATCH_ON:
            accepted = " or ".join(MATCH_ON)
            raise SchedulerXConfigError(f"match_on: expected {accepted}, got {shown(self.match_on)}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise SchedulerXConfigError(f"window_{name}: expected a time, got {shown(value)}")
        if not self.start < self.end:
            raise SchedulerXConfigError(
                f"window_end: must be after window_start ({self.start:.0f} to {self.end:.0f}, epoch seconds)"
            )

    def __str__(self) -> str:
        def iso(epoch: float) -> str:
            return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")

        return f"{self.match_on.replace('_', ' ')}s in [{iso(self.start)}, {iso(self.end)})"

    def time_of(self, instance: JobInstance) -> Any:
        return instance.data_time if self.match_on == "data_time" else instance.schedule_time

    def holds(self, instance: JobInstance) -> bool:
        at = self.time_of(instance)
        return at is not None and self.start <= at.timestamp() < self.end

    def newest(self, instances: list[JobInstance]) -> JobInstance | None:
        """The one of ``instances`` in the window that counts: the newest (by the time it
        is matched on, then id)."""
        hits = [item for item in instances if self.holds(item)]
        return max(hits, key=lambda item: (self.time_of(item), item.instance_id)) if hits else None

    def schedule_span(self, offset: float) -> tuple[int, int]:
        """The schedule times, ``[start, end)`` in epoch ms, that its instances are listed
        from, for a job whose data time lies ``offset`` seconds before its schedule time."""
        shift = offset if self.match_on == "data_time" else 0.0
        return int((self.start + shift) * 1000), int((self.end + shift) * 1000) + END_SLACK_MS


def data_offset(job_id: int, *, scope: Scope | None = None) -> Plan[float | None]:
    """Seconds by which the job's data time lies before its schedule time, read off its
    newest scheduled instance (``None`` when it has none yet)."""
    newest = yield job_instance_page(job_id, page_size=OFFSET_SAMPLE, scope=scope)
    for instance in newest:
        if (
            instance.trigger_type == TriggerType.SCHEDULED
            and instance.schedule_time is not None
            and instance.data_time is not None
        ):
            return max(0.0, (instance.schedule_time - instance.data_time).total_seconds())
    return None


def newest_in_window(
    job_id: int, window: Window, *, offset: float = 0.0, scope: Scope | None = None
) -> Plan[JobInstance | None]:
    """The job's newest instance in ``window`` (by schedule time, then id), or ``None``.

    :param offset: the job's data offset (:func:`data_offset`), when matching on data time.
    """
    start_ms, end_ms = window.schedule_span(offset)
    for page in range(1, MAX_WINDOW_PAGES + 1):
        items = yield job_instance_page(
            job_id, start=start_ms, end=end_ms, page=page, page_size=MAX_PAGE_SIZE, scope=scope
        )
        newest = window.newest(items)
        if newest is not None:
            return newest
        if len(items) < MAX_PAGE_SIZE:
            return None
    return None


class WindowSearch:
    """The search for a job's newest instance in a window, poll after poll: the job's data
    offset is read once it is known, so that a poll costs one listing (two pages at most
    for a window with more than a page of instances)."""

    def __init__(self, job_id: int, window: Window, *, scope: Scope | None = None) -> None:
        self.job_id = job_id
        self.window = window
        self.scope = scope
        self.offset: float | None = None if window.match_on == "data_time" else 0.0

    def listing_span(self) -> tuple[int, int] | None:
        """The schedule times its listings cover, once the job's data offset is known."""
        return None if self.offset is None else self.window.schedule_span(self.offset)

    def plan(self) -> Plan[JobInstance | None]:
        if self.offset is None:
            self.offset = yield from data_offset(self.job_id, scope=self.scope)
        found = yield from newest_in_window(
            self.job_id, self.window, offset=self.offset or 0.0, scope=self.scope
        )
        return found


def run_plan(plan: Plan[T], run: Callable[[ApiCall[list[JobInstance]]], list[JobInstance]]) -> T:
    """Carry out ``plan`` with a sync client's ``run``."""
    try:
        call = next(plan)
        while True:
            call = plan.send(run(call))
    except StopIteration as done:
        return done.value


async def run_plan_async(
    plan: Plan[T], run: Callable[[ApiCall[list[JobInstance]]], Awaitable[list[JobInstance]]]
) -> T:
    """Carry out ``plan`` with an async client's ``run``."""
    try:
        call = next(plan)
        while True:
            call = plan.send(await run(call))
    except StopIteration as done:
        return done.value
