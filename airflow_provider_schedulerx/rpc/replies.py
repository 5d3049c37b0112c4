"""Reading the ``Data`` of SchedulerX replies into records, trusting nothing: every field
that is read is type-checked, and a failure is a :class:`SchedulerXResponseError` that names
the action and the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pendulum

from airflow_provider_schedulerx.exceptions import SchedulerXConfigError, SchedulerXResponseError
from airflow_provider_schedulerx.models import JobInstance, TimeType, TriggerType, read_service_time
from airflow_provider_schedulerx.statuses import InstanceStatus

__all__ = ["ReplyFields", "data_of", "job_instance", "the_one_named"]

_INTEGER = re.compile(r"-?[0-9]{1,19}", re.ASCII)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


class ReplyFields:
    """Typed reads of one object of a reply.

    :param action: the action whose reply this is.
    :param data: the object.
    :param where: the object's name in the reply (``JobInstanceDetail``...).
    """

    __slots__ = ("action", "data", "where")

    def __init__(self, action: str, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise SchedulerXResponseError(f"{action}: the reply's {where} is {_shown(data)}, not an object")
        self.action = action
        self.data = data
        self.where = where

    def bad(self, name: str, expected: str) -> SchedulerXResponseError:
        return SchedulerXResponseError(
            f"{self.action}: the reply's {self.where}.{name} is {_shown(self.data.get(name))}, not {expected}"
        )

    def integer(self, name: str) -> int:
        """A whole number (or a string of digits)."""
        number = self.optional_integer(name)
        if number is None:
            raise self.bad(name, "a whole number")
        return number

    def optional_integer(self, name: str) -> int | None:
        """A whole number (or a string of digits); ``None`` when absent."""
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INTEGER.fullmatch(value):
            return int(value)
        raise self.bad(name, "a whole number")

    def text(self, name: str) -> str | None:
        """A string (numbers as their text); ``None`` when absent."""
        value = self.data.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise self.bad(name, "a string")

    def time(self, name: str, timezone: str) -> pendulum.DateTime | None:
        value = self.data.get(name)
        try:
            if value is None or isinstance(value, (str, int, float)):
                return read_service_time(value, timezone)
        except ValueError:
            pass
        raise self.bad(name, "a time (yyyy-MM-dd HH:mm:ss)")

    def objects(self, name: str) -> list[ReplyFields]:
        """A list of objects (empty when absent)."""
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.bad(name, "a list")
        return [
            ReplyFields(self.action, item, f"{self.where}.{name}[{index}]")
            for index, item in enumerate(value)
        ]

    def strings(self, name: str) -> list[str]:
        """A list of strings (empty when absent)."""
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.bad(name, "a list of strings")
        return value

    def child(self, name: str) -> ReplyFields:
        """An object inside this one."""
        return ReplyFields(self.action, self.data.get(name), f"{self.where}.{name}")


def data_of(reply: Mapping[str, Any], action: str) -> ReplyFields:
    """The reply's ``Data`` (an empty object when the reply has none)."""
    data = reply.get("Data")
    return ReplyFields(action, {} if data is None else data, "Data")


def job_instance(fields: ReplyFields, timezone: str) -> JobInstance:
    """A ``JobInstanceDetail`` (or an item of ``JobInstanceDetails``) as a record."""
    status = fields.integer("Status")
    if status < 0:
        raise fields.bad("Status", "a status number")
    time_type = fields.optional_integer("TimeType")
    trigger_type = fields.optional_integer("TriggerType")
    return JobInstance(
        instance_id=fields.integer("InstanceId"),
        job_id=fields.integer("JobId"),
        status=InstanceStatus.of(status),
        job_name=fields.text("JobName"),
        progress=fields.text("Progress"),
        result=fields.text("Result"),
        time_type=None if time_type is None else TimeType.of(time_type),
        trigger_type=None if trigger_type is None else TriggerType.of(trigger_type),
        start_time=fields.time("StartTime", timezone),
        end_time=fields.time("EndTime", timezone),
        schedule_time=fields.time("ScheduleTime", timezone),
        data_time=fields.time("DataTime", timezone),
        executor=fields.text("Executor"),
        work_addr=fields.text("WorkAddr"),
        parameters=fields.text("Parameters"),
        trace_id=fields.text("TraceId"),
        raw=dict(fields.data),
    )


def the_one_named(items: list[ReplyFields], id_key: str, name: str, kind: str) -> int:
    """The id of the one item (``kind``: job, workflow) whose ``Name`` is ``name``.

    :raises SchedulerXConfigError: naming ``<kind>_name`` when none, or several, are.
    """
    ids = sorted({item.integer(id_key) for item in items if item.text("Name") == name})
    if not ids:
        raise SchedulerXConfigError(f"{kind}_name: no {kind} of the namespace and group is named {name!r}")
    if len(ids) > 1:
        raise SchedulerXConfigError(
            f"{kind}_name: {len(ids)} {kind}s are named {name!r} ({', '.join(map(str, ids))}); give {kind}_id"
        )
    return ids[0]
