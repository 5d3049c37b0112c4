"""SchedulerX enumerations and the job and workflow instance records, with Python names and
pendulum times."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pendulum

from airflow_provider_schedulerx.config import DEFAULT_TIMEZONE
from airflow_provider_schedulerx.statuses import (
    FAILURE_STATUSES,
    FINISHED_STATUSES,
    SUCCESS_STATUSES,
    InstanceStatus,
    LenientIntEnum,
    parse_statuses,
)

__all__ = [
    "DEFAULT_TIMEZONE",
    "FAILURE_STATUSES",
    "FINISHED_STATUSES",
    "SUCCESS_STATUSES",
    "InstanceStatus",
    "JobInstance",
    "TimeType",
    "TriggerType",
    "WorkflowInstance",
    "WorkflowNode",
    "WorkflowStatus",
    "check_timezone",
    "parse_service_time",
    "parse_statuses",
    "read_service_time",
    "summarize",
]

SERVICE_TIME_FORMAT = "YYYY-MM-DD HH:mm:ss"
# Compiled on first use (and cached by re), not when a DAG file imports this module.
_SERVICE_TIME = r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})"


class TimeType(LenientIntEnum):
    """How a job is scheduled (``TimeConfig.TimeType``)."""

    CRON = 1
    FIX_RATE = 3
    SECOND_DELAY = 4
    ONE_TIME = 5
    API = 100


class TriggerType(LenientIntEnum):
    """What started a job instance (``JobInstanceDetail.TriggerType``)."""

    SCHEDULED = 1
    DATA_BACKFILL = 2
    API = 3
    MANUAL_RERUN = 4
    SYSTEM_RERUN = 5


@functools.lru_cache(maxsize=16)
def _zone(name: str) -> pendulum.Timezone:
    """The zone of that name, loaded once (pendulum reads the zone file on every lookup)."""
    zone = pendulum.timezone(name)
    assert isinstance(zone, pendulum.Timezone)  # only a number of hours makes a fixed one
    return zone


#: Epoch milliseconds of 9999-12-31 23:59:59.999 UTC, the last time a datetime can hold.
_MAX_EPOCH_MS = 253_402_300_799_999
#: The longest time text read: ISO 8601 with a fraction and an offset fits in 40.
_MAX_TIME_TEXT = 40


def parse_service_time(value: object, timezone: str = DEFAULT_TIMEZONE) -> pendulum.DateTime | None:
    """A service time (``yyyy-MM-dd HH:mm:ss``, no zone; ISO 8601; or epoch milliseconds) as
    an aware pendulum datetime in ``timezone``; empty values are ``None``.

    :raises ValueError: for anything else, whatever its type.
    """
    if value is None or value == "":
        return None
    zone = _zone(timezone)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"not a date and time: {value!r}")
    if not isinstance(value, str):
        return _from_epoch_ms(value, zone)
    text = value.strip()
    if not text:
        return None
    if len(text) > _MAX_TIME_TEXT:
        raise ValueError(f"not a date and time: a text of {len(text)} characters")
    if text.isascii() and text.isdigit():
        return _from_epoch_ms(int(text), zone)
    # The service's own format, read directly: what pendulum.from_format makes of it, at a
    # fraction of the cost (a poll reads four of these).
    if match := re.fullmatch(_SERVICE_TIME, text, re.ASCII):
        try:
            year, month, day, hour, minute, second = map(int, match.groups())
            return pendulum.datetime(year, month, day, hour, minute, second, tz=zone)
        except ValueError:
            pass  # no such date or time: the general parsers below say so
    try:
        return pendulum.from_format(text, SERVICE_TIME_FORMAT, tz=zone)
    except ValueError:
        pass
    try:
        parsed = pendulum.parse(text, tz=zone)
    except (ValueError, TypeError, OverflowError):
        parsed = None
    if not isinstance(parsed, pendulum.DateTime):
        raise ValueError(f"not a date and time: {text!r}")
    return parsed


def _from_epoch_ms(value: float, zone: pendulum.Timezone) -> pendulum.DateTime:
    if not (isinstance(value, int) or math.isfinite(value)) or not 0 <= value <= _MAX_EPOCH_MS:
        raise ValueError(f"not a time in epoch milliseconds: {value!r}")
    return pendulum.from_timestamp(value / 1000, tz=zone)


@functools.lru_cache(maxsize=256)
def read_service_time(
    value: str | float | None, timezone: str = DEFAULT_TIMEZONE
) -> pendulum.DateTime | None:
    """:func:`parse_service_time`, remembering the texts it read: each poll of an instance
    brings back the same start, schedule and data times, so a process reads them once rather
    than on every poll. What cannot be read is not remembered."""
    return parse_service_time(value, timezone)


def check_timezone(timezone: object) -> str:
    """``timezone`` if it names a zone pendulum knows.

    :raises ValueError: naming the setting, for anything else.
    """
    try:
        if isinstance(timezone, str):
            _zone(timezone)
            return timezone
    except Exception:  # pendulum raises its own error types for unknown zones
        pass
    raise ValueError(
        f"timezone: {timezone!r} is not a known time zone (an IANA name such as Asia/Shanghai or UTC)"
    )


@dataclass(frozen=True)
class JobInstance:
    """One SchedulerX job instance, as ``GetJobInstance`` (or a list item) describes it.

    Times are timezone-aware pendulum datetimes in the zone the service's wall-clock
    strings are read in (Asia/Shanghai unless told otherwise).
    """

    instance_id: int
    job_id: int
    status: InstanceStatus
    job_name: str | None = None
    progress: str | None = None
    result: str | None = None
    time_type: TimeType | None = None
    trigger_type: TriggerType | None = None
    start_time: pendulum.DateTime | None = None
    end_time: pendulum.DateTime | None = None
    schedule_time: pendulum.DateTime | None = None
    data_time: pendulum.DateTime | None = None
    executor: str | None = None
    work_addr: str | None = None
    parameters: str | None = None
    trace_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_finished(self) -> bool:
        """True once the instance has reached a final status (success, failed, killed,
        rejected, partial failed, skipped, removed)."""
        return self.status in FINISHED_STATUSES

    @property
    def is_success(self) -> bool:
        return self.status is InstanceStatus.SUCCESS

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, once both are known."""
        if self.start_time is None or self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()

    def summary(self) -> str:
        """One line for a task log: status, progress, result, times (with their offset) and
        worker."""
        return summarize(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict for XCom (times as ISO 8601 strings)."""

        def iso(value: pendulum.DateTime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "instance_id": self.instance_id,
            "job_id": self.job_id,
            "job_name": self.job_name,
            "status": int(self.status),
            "status_name": self.status.label,
            "is_finished": self.is_finished,
            "is_success": self.is_success,
            "progress": self.progress,
            "result": self.result,
            "time_type": None if self.time_type is None else int(self.time_type),
            "trigger_type": None if self.trigger_type is None else int(self.trigger_type),
            "start_time": iso(self.start_time),
            "end_time": iso(self.end_time),
            "schedule_time": iso(self.schedule_time),
            "data_time": iso(self.data_time),
            "duration": self.duration,
            "executor": self.executor,
            "work_addr": self.work_addr,
            "parameters": self.parameters,
            "trace_id": self.trace_id,
        }


def summarize(instance: Mapping[str, Any]) -> str:
    """:meth:`JobInstance.summary` of an instance's :meth:`~JobInstance.to_dict` (as a
    trigger's event carries it)."""
    parts = [f"job {instance['job_id']} instance {instance['instance_id']}: {instance['status_name']}"]
    if instance.get("progress"):
        parts.append(f"progress {instance['progress']}")
    if instance.get("result"):
        parts.append(f"result {instance['result']!r}")
    for name, label in (("start_time", "started"), ("end_time", "ended")):
        if instance.get(name):
            parts.append(f"{label} {instance[name]}")
    if instance.get("duration") is not None:
        parts.append(f"took {instance['duration']:.0f}s")
    if instance.get("work_addr"):
        parts.append(f"on {instance['work_addr']}")
    return ", ".join(parts)


class WorkflowStatus(LenientIntEnum):
    """Status of a SchedulerX workflow instance (``WfInstanceInfo.Status``)."""

    PENDING = 1
    PREPARING = 2
    RUNNING = 3
    SUCCESS = 4
    FAILED = 5

    @property
    def is_finished(self) -> bool:
        return self in (WorkflowStatus.SUCCESS, WorkflowStatus.FAILED)


def _iso(value: pendulum.DateTime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class WorkflowNode:
    """One node of a workflow instance: a job, and its instance once the node started."""

    job_id: int
    status: InstanceStatus
    job_instance_id: int | None = None
    job_name: str | None = None
    attempt: int | None = None
    result: str | None = None
    work_addr: str | None = None
    schedule_time: pendulum.DateTime | None = None
    data_time: pendulum.DateTime | None = None
    start_time: pendulum.DateTime | None = None
    end_time: pendulum.DateTime | None = None

    @property
    def name(self) -> str:
        return self.job_name or f"job {self.job_id}"

    def describe(self) -> str:
        """``node extract (job 901, instance 123)``."""
        instance = f", instance {self.job_instance_id}" if self.job_instance_id else ""
        return f"node {self.name} (job {self.job_id}{instance})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "job_instance_id": self.job_instance_id,
            "job_name": self.job_name,
            "status": int(self.status),
            "status_name": self.status.label,
            "attempt": self.attempt,
            "result": self.result,
            "work_addr": self.work_addr,
            "schedule_time": _iso(self.schedule_time),
            "data_time": _iso(self.data_time),
            "start_time": _iso(self.start_time),
            "end_time": _iso(self.end_time),
        }


@dataclass(frozen=True)
class WorkflowInstance:
    """One SchedulerX workflow instance, as ``GetWorkflowInstance`` describes it: its status
    and times, and its graph (``nodes`` in the service's order, ``edges`` as pairs of the
    ids the service gives)."""

    workflow_id: int
    instance_id: int
    status: WorkflowStatus
    schedule_time: pendulum.DateTime | None = None
    data_time: pendulum.DateTime | None = None
    start_time: pendulum.DateTime | None = None
    end_time: pendulum.DateTime | None = None
    nodes: tuple[WorkflowNode, ...] = ()
    edges: tuple[tuple[int, int], ...] = ()

    @property
    def is_finished(self) -> bool:
        return self.status.is_finished

    @property
    def is_success(self) -> bool:
        return self.status is WorkflowStatus.SUCCESS

    def running_nodes(self) -> list[WorkflowNode]:
        """The nodes whose instance has started and not finished."""
        return [
            node
            for node in self.nodes
            if node.job_instance_id and node.status in (InstanceStatus.WAITING, InstanceStatus.RUNNING)
        ]

    def failed_nodes(self) -> list[WorkflowNode]:
        return [node for node in self.nodes if node.status in FAILURE_STATUSES]

    @property
    def result(self) -> str | None:
        """What the failed nodes say (``node load (job 3, instance 9) failed: ...``), if any."""
        failed = [
            f"{node.describe()} {node.status.label}" + (f": {node.result}" if node.result else "")
            for node in self.failed_nodes()
        ]
        return "; ".join(failed) or None

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.status.label] = counts.get(node.status.label, 0) + 1
        nodes = ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
        parts = [f"workflow {self.workflow_id} instance {self.instance_id}: {self.status.label}"]
        if nodes:
            parts.append(f"nodes: {nodes}")
        for name, label in (("start_time", "started"), ("end_time", "ended")):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{label} {value.isoformat()}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict for XCom."""
        return {
            "workflow_id": self.workflow_id,
            "instance_id": self.instance_id,
            "status": int(self.status),
            "status_name": self.status.label,
            "is_finished": self.is_finished,
            "is_success": self.is_success,
            "schedule_time": _iso(self.schedule_time),
            "data_time": _iso(self.data_time),
            "start_time": _iso(self.start_time),
            "end_time": _iso(self.end_time),
            "nodes": [node.to_dict() for node in self.nodes],
            "edges": [list(edge) for edge in self.edges],
        }
