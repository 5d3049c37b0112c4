"""The call budget: how many calls a second the clients of one process send to one endpoint
with one AccessKey (connection extra ``max_calls_per_second``).

A token bucket, shared by every client of the process that has the endpoint and AccessKey:
it refills at the rate, holds at most one second's worth, and a call takes a token before
each attempt. Calls that start or stop work (:data:`URGENT_ACTIONS`) go first: they take a
token at once, into debt if need be (a second's worth at most), while the others wait in
line, in the order they came, until the debt is repaid and a token is there. A throttling
reply halves the rate for :data:`HOLD_SECONDS`; then it climbs back by a tenth of the budget
a second. Several processes (high-availability triggerers) each hold a budget of their own.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from typing import Any

__all__ = ["HOLD_SECONDS", "URGENT_ACTIONS", "CallBudget", "budget_for"]

#: What starts or stops work in SchedulerX: never kept waiting behind polls.
URGENT_ACTIONS = frozenset(
    {"ExecuteJob", "StopInstance", "ExecuteWorkflow", "RetryJobInstance", "SetJobInstanceSuccess"}
)
#: Seconds the rate stays lowered after a throttling reply.
HOLD_SECONDS = 5.0
#: The lowest the rate goes, as a fraction of the budget.
FLOOR = 0.1
#: How fast the rate climbs back: a fraction of the budget a second.
CLIMB = 0.1


class CallBudget:
    """A token bucket of ``limit`` calls a second.

    :param limit: calls a second at the most.
    :param clock: monotonic seconds (tests give their own).
    """

    def __init__(self, limit: float, clock: Any = time.monotonic) -> None:
        self.limit = float(limit)
        self.rate = self.limit
        self._clock = clock
        self._tokens = self.limit
        self._updated = clock()
        self._calm_at = 0.0
        self._lock = threading.Lock()
        self._line: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = (
            collections.deque()
        )
        self._timer: asyncio.TimerHandle | None = None
        self.throttled_replies = 0
        self.waited = 0

    @property
    def capacity(self) -> float:
        return max(1.0, self.rate)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        if now >= self._calm_at and self.rate < self.limit:
            self.rate = min(self.limit, self.rate + self.limit * CLIMB * elapsed)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)

    def _take(self, urgent: bool) -> float:
        """Take a token if the call may go now (0.0); else the seconds until one is there."""
        self._refill(self._clock())
        if urgent and self._tokens > -self.capacity:
            self._tokens -= 1
            return 0.0
        if self._tokens >= 1 and (urgent or not self._line):
            self._tokens -= 1
            return 0.0
        return max((1 - self._tokens) / self.rate, 0.001)

    def throttled(self) -> None:
        """The service throttled a call: send fewer for a while."""
        with self._lock:
            self._refill(self._clock())
            self.throttled_replies += 1
            self.rate = max(self.limit * FLOOR, self.rate / 2)
            self._tokens = min(self._tokens, 0.0)
            self._calm_at = self._clock() + HOLD_SECONDS

    def acquire_blocking(self, urgent: bool = False) -> None:
        """Wait in this thread until the call may go."""
        while True:
            with self._lock:
                wait = self._take(urgent)
            if not wait:
                return
            self.waited += 1
            time.sleep(wait)

    async def acquire(self, urgent: bool = False) -> None:
        """Wait in the event loop until the call may go; polls wait in line."""
        with self._lock:
            wait = self._take(urgent)
            if not wait:
                return
            if urgent:
                waiter = None
            else:
                loop = asyncio.get_running_loop()
                waiter = loop.create_future()
                self._line.append((loop, waiter))
                self.waited += 1
                self._arm(loop, wait)
        if waiter is None:
            await asyncio.sleep(wait)
            return await self.acquire(urgent)
        try:
            await waiter
        except asyncio.CancelledError:
            with self._lock:
                if waiter.done() and not waiter.cancelled():
                    self._tokens += 1  # woken, but it will not go: the token goes back
            raise

    def _arm(self, loop: asyncio.AbstractEventLoop, wait: float) -> None:
        if self._timer is None:
            self._timer = loop.call_later(wait, self._release)

    def _release(self) -> None:
        """Let the calls in line go, as far as the tokens reach; come back for the rest."""
        with self._lock:
            self._timer = None
            self._refill(self._clock())
            while self._line and self._tokens >= 1:
                loop, waiter = self._line.popleft()
                if waiter.done():
                    continue
                self._tokens -= 1
                loop.call_soon_threadsafe(_wake, waiter)
            if self._line:
                self._arm(self._line[0][0], max((1 - self._tokens) / self.rate, 0.001))


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


_budgets: dict[tuple[str, str], CallBudget] = {}
_budgets_lock = threading.Lock()


def budget_for(endpoint: str, access_key_id: str, limit: float) -> CallBudget | None:
    """The process's budget for ``endpoint`` and ``access_key_id`` (``None`` for no limit,
    ``limit`` 0). The first client to ask sets its limit; a later one asking for a lower
    limit lowers it."""
    if not limit:
        return None
    key = (endpoint, access_key_id)
    with _budgets_lock:
        budget = _budgets.get(key)
        if budget is None:
            budget = _budgets[key] = CallBudget(limit)
        elif limit < budget.limit:
            budget.limit = float(limit)
            budget.rate = min(budget.rate, budget.limit)
        return budget
