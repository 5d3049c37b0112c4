"""SchedulerX's own schedule of a job: a fixed rate or a cron expression, and the data
offset that puts an instance's data time before its schedule time.

The service fires a scheduled job at each tick (``TriggerType`` 1): the instance's
``ScheduleTime`` is the tick, its ``DataTime`` the tick less the job's data offset.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = ["TIME_TYPE_CRON", "TIME_TYPE_FIX_RATE", "ScheduleSpec"]

TIME_TYPE_CRON = 1
TIME_TYPE_FIX_RATE = 3


@dataclass(frozen=True)
class ScheduleSpec:
    """When the service runs a job on its own.

    :param fix_rate: seconds between two runs (time type 3).
    :param cron: a cron expression (time type 1): five fields, or Quartz's six or seven with
        seconds first, as the SchedulerX console writes them (``0 0 2 * * ?``). Read in UTC.
    :param data_offset: seconds the data time lies before the schedule time.
    :param start: epoch seconds of the schedule's start (default: when the job is added); an
        earlier start gives the job a history of instances at once.
    """

    fix_rate: float | None = None
    cron: str | None = None
    data_offset: float = 0.0
    start: float | None = None

    def __post_init__(self) -> None:
        if (self.fix_rate is None) == (self.cron is None):
            raise ValueError("a schedule has either fix_rate (seconds) or cron (an expression)")
        if self.fix_rate is not None and not (math.isfinite(self.fix_rate) and self.fix_rate >= 1):
            raise ValueError(f"fix_rate must be at least 1 second, got {self.fix_rate!r}")
        if not math.isfinite(self.data_offset) or self.data_offset < 0:
            raise ValueError(f"data_offset must be a number of seconds >= 0, got {self.data_offset!r}")
        if self.cron is not None:
            self._croniter(0.0)  # a bad expression is refused here, not at the first tick

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScheduleSpec:
        known = {"fix_rate", "cron", "data_offset", "start"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown schedule field(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**dict(data))

    @property
    def time_type(self) -> int:
        return TIME_TYPE_FIX_RATE if self.fix_rate is not None else TIME_TYPE_CRON

    @property
    def time_expression(self) -> str:
        return f"{self.fix_rate:g}" if self.fix_rate is not None else str(self.cron)

    def ticks(self, after: float, until: float) -> Iterator[float]:
        """The ticks in ``(after, until]``, oldest first (whole seconds, as the service
        schedules)."""
        if self.fix_rate is not None:
            anchor = self.start if self.start is not None else after
            rate = self.fix_rate
            tick = anchor + rate * (math.floor((after - anchor) / rate) + 1)
            while tick <= until:
                yield float(math.floor(tick))
                tick += rate
            return
        runs = self._croniter(after)
        while (tick := float(runs.get_next(float))) <= until:
            yield tick

    def _croniter(self, after: float) -> Any:
        from croniter import croniter

        fields = str(self.cron).split()
        if len(fields) not in (5, 6, 7):
            raise ValueError(f"cron {self.cron!r}: expected 5 fields, or 6 or 7 with seconds first")
        if len(fields) == 7:
            fields = fields[:6]  # the year
        expression = " ".join("*" if field == "?" else field for field in fields)
        start = datetime.fromtimestamp(after, timezone.utc)
        try:
            return croniter(expression, start, second_at_beginning=len(fields) == 6)
        except (ValueError, KeyError) as error:
            raise ValueError(f"cron {self.cron!r}: {error}") from None
