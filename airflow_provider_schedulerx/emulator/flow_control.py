"""Flow control: at most N SchedulerX calls per second per AccessKey, as Alibaba Cloud's API
gateway enforces it, the excess answered ``Throttling.User``."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from airflow_provider_schedulerx.exceptions import SchedulerXConfigError

__all__ = ["FlowControl", "validate_rate_limit"]

#: Buckets kept before the full ones (idle AccessKeys, e.g. expired STS ones) are dropped.
PRUNE_ABOVE = 1024


def validate_rate_limit(value: Any) -> float | None:
    """``None`` (no limit) or a positive finite number of calls per second.

    :raises SchedulerXConfigError: (a ``ValueError``) anything else.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchedulerXConfigError(
            f"rate_limit: expected a positive number of calls per second, or None, got {value!r}"
        )
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise SchedulerXConfigError(
            f"rate_limit: expected a positive finite number of calls per second, got {value!r}"
        )
    return number


class FlowControl:
    """A token bucket per AccessKey id: capacity N (at least 1), refilled at N tokens per
    second, starting full. A call takes one token; a call that finds less than one is refused
    and takes nothing, so a client that keeps calling gets N calls through per second and a
    burst of up to N after a pause.

    Thread-safe; a new limit applies to the next call, every bucket starting full again.

    :param rate_limit: calls per second per AccessKey; ``None`` for no limit.
    :param clock: monotonic seconds (real time by default, whatever clock the emulator's job
        lifecycle follows).
    """

    def __init__(
        self,
        rate_limit: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        # AccessKey id -> (tokens, when they were counted).
        self._buckets: dict[str, tuple[float, float]] = {}
        self._rate: float | None = validate_rate_limit(rate_limit)

    @property
    def rate_limit(self) -> float | None:
        """Calls per second per AccessKey; ``None`` for no limit. Settable."""
        return self._rate

    @rate_limit.setter
    def rate_limit(self, value: float | None) -> None:
        rate = validate_rate_limit(value)
        with self._lock:
            self._rate = rate
            self._buckets.clear()

    @property
    def capacity(self) -> float:
        """The largest burst, in calls (0 without a limit)."""
        rate = self._rate
        return 0.0 if rate is None else max(rate, 1.0)

    def __bool__(self) -> bool:
        return self._rate is not None

    def admit(self, access_key_id: str) -> bool:
        """Take a token of this AccessKey's bucket: ``True`` when the call may go on,
        ``False`` when it is over the limit."""
        with self._lock:
            rate = self._rate
            if rate is None:
                return True
            capacity = max(rate, 1.0)
            now = self._clock()
            tokens, counted = self._buckets.get(access_key_id, (capacity, now))
            tokens = min(capacity, tokens + (now - counted) * rate)
            admitted = tokens >= 1.0
            if admitted:
                tokens -= 1.0
            if access_key_id not in self._buckets and len(self._buckets) >= PRUNE_ABOVE:
                self._prune(now, rate, capacity)
            self._buckets[access_key_id] = (tokens, now)
            return admitted

    def _prune(self, now: float, rate: float, capacity: float) -> None:
        full = [
            key
            for key, (tokens, counted) in self._buckets.items()
            if tokens + (now - counted) * rate >= capacity
        ]
        for key in full:
            del self._buckets[key]
