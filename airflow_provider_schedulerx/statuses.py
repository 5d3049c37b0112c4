"""SchedulerX instance statuses, and reading the statuses a user names.

Kept apart from :mod:`~airflow_provider_schedulerx.models` so that a DAG file, whose
operators and sensors check the statuses they are given, does not also build the job
instance record and the other enumerations on every parse."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, TypeVar

__all__ = [
    "FAILURE_STATUSES",
    "FINISHED_STATUSES",
    "SUCCESS_STATUSES",
    "InstanceStatus",
    "LenientIntEnum",
    "parse_statuses",
]

EnumT = TypeVar("EnumT", bound="LenientIntEnum")


class LenientIntEnum(enum.IntEnum):
    """An IntEnum that keeps a value the service sends but this release does not know,
    as a pseudo-member named ``UNRECOGNIZED_<value>``, instead of crashing."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return cls(int(value))
        if isinstance(value, int) and not isinstance(value, bool):
            member = int.__new__(cls, value)
            member._name_ = f"UNRECOGNIZED_{value}"
            member._value_ = value
            return member
        return None

    @classmethod
    def of(cls: type[EnumT], value: int) -> EnumT:
        """The member for the number ``value``, as ``cls(value)`` gives it, at a tenth of
        the cost (a poll reads three)."""
        member = cls._value2member_map_.get(value)
        return cls(value) if member is None else member  # type: ignore[return-value]

    @property
    def recognized(self) -> bool:
        return self._name_ in type(self).__members__

    @property
    def label(self) -> str:
        """Lower-case name with spaces (``partial failed``), for messages."""
        return self._name_.lower().replace("_", " ")


class InstanceStatus(LenientIntEnum):
    """Status of a SchedulerX job instance (``JobInstanceDetail.Status``)."""

    UNKNOWN = 0
    WAITING = 1
    READY = 2
    RUNNING = 3
    SUCCESS = 4
    FAILED = 5
    KILLED = 6
    PAUSED = 7
    SUBMITTED = 8
    REJECTED = 9
    ACCEPTED = 10
    PARTIAL_FAILED = 11
    SKIPPED = 12
    REMOVED = 99


SUCCESS_STATUSES: frozenset[InstanceStatus] = frozenset({InstanceStatus.SUCCESS})
FAILURE_STATUSES: frozenset[InstanceStatus] = frozenset(
    {
        InstanceStatus.FAILED,
        InstanceStatus.KILLED,
        InstanceStatus.REJECTED,
        InstanceStatus.PARTIAL_FAILED,
    }
)
FINISHED_STATUSES: frozenset[InstanceStatus] = frozenset(
    {
        InstanceStatus.SUCCESS,
        InstanceStatus.FAILED,
        InstanceStatus.KILLED,
        InstanceStatus.REJECTED,
        InstanceStatus.PARTIAL_FAILED,
        InstanceStatus.SKIPPED,
        InstanceStatus.REMOVED,
    }
)


def _parse_status(value: object, setting: str) -> InstanceStatus:
    if isinstance(value, InstanceStatus) and value.recognized:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if value in InstanceStatus._value2member_map_:
            return InstanceStatus(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit() and int(text) in InstanceStatus._value2member_map_:
            return InstanceStatus(int(text))
        name = text.upper().replace(" ", "_").replace("-", "_")
        if name in InstanceStatus.__members__:
            return InstanceStatus[name]
    allowed = ", ".join(f"{s.value} ({s.label})" for s in InstanceStatus)
    raise ValueError(f"{setting}: {value!r} is not a SchedulerX instance status; use one of {allowed}")


def parse_statuses(values: Iterable[object] | object, setting: str) -> frozenset[InstanceStatus]:
    """Read a user's list of statuses (numbers, names like ``"failed"``, or members).

    :param values: one status or an iterable of them.
    :param setting: the argument's name, for the error message.
    :raises ValueError: naming the setting and the allowed values, on anything unknown.
    """
    if isinstance(values, (str, int)):
        values = [values]
    if not isinstance(values, Iterable):
        raise ValueError(f"{setting}: expected a list of statuses, got {values!r}")
    return frozenset(_parse_status(value, setting) for value in values)
