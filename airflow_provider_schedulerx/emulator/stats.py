"""What the emulator has served: counters for tests and benchmarks."""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["EmulatorStats"]


class EmulatorStats:
    """What the emulator has served, for tests and benchmarks.

    ``calls``: requests by action; ``responses``: replies by ``(action, code)`` where code
    is ``"OK"``, a gateway error code, or a business error's integer code as a string;
    ``faults``: injected faults by kind; ``executions``: instances ExecuteJob created, by
    job id; ``throttled``: calls flow control refused (``rate_limit``), by action, and
    ``throttled_by_key`` the same by AccessKey id (``throttled.total()`` for all of them; an
    injected ``throttle`` fault counts in ``faults`` instead). Every refusal also counts in
    ``calls`` and, as ``(action, "Throttling.User")``, in ``responses``.
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.responses: Counter[tuple[str, str]] = Counter()
        self.faults: Counter[str] = Counter()
        self.executions: Counter[int] = Counter()
        self.throttled: Counter[str] = Counter()
        self.throttled_by_key: Counter[str] = Counter()

    def reset(self) -> None:
        """Zero every counter."""
        counters: tuple[Counter[Any], ...] = (
            self.calls,
            self.responses,
            self.faults,
            self.executions,
            self.throttled,
            self.throttled_by_key,
        )
        for counter in counters:
            counter.clear()

    def __repr__(self) -> str:
        return (
            f"EmulatorStats(calls={dict(self.calls)}, responses={dict(self.responses)}, "
            f"faults={dict(self.faults)}, executions={dict(self.executions)}, "
            f"throttled={dict(self.throttled)}, throttled_by_key={dict(self.throttled_by_key)})"
        )
