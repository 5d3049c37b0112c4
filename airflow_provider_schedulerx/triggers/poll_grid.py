"""When a deferred trigger polls next: on a grid of the event loop's clock shared by the
triggers of one process.

Each wake-up of a triggerer's event loop after an idle spell costs the process far more
than the few polls it runs, so triggers due close together should wake it once. A grid
too coarse for the number of triggers polling, though, puts so many polls on one tick that
their burst keeps the loop busy for tens of milliseconds, while every other trigger of the
process waits, and holds their replies in memory long enough to age into the older garbage
collector generations. The spacing is therefore ``MAX_SPACING_SECONDS``, halved as often as
needed to keep about ``POLLS_PER_TICK`` polls on a tick at the poll rate of all the
triggers polling in the process, and to stay within a tenth of the poll interval. Halving
keeps the ticks of every spacing on those of the finer ones, so triggers polling at
different rates still share wake-ups, and keeps every tick a binary fraction of a second,
which floating point holds exactly. The triggers waiting for one tick share one timer of
the loop (:meth:`PollGrid.sleep_until`).

A trigger keeps its cadence: each poll is due one interval after the previous one was due.
A tick takes at most ``TICK_CAPACITY`` polls: the polls due on a full one move to the next
tick with room, as long as that keeps them within their lateness allowance (the smaller of
1 s and a tenth of the interval). Triggers that started together, as after a triggerer restart,
thereby spread out over the grid instead of polling in one burst interval after interval.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["MAX_SPACING_SECONDS", "POLLS_PER_TICK", "TICK_CAPACITY", "PollGrid", "poll_grid"]

#: The coarsest spacing of the grid, and the most a poll is ever late.
MAX_SPACING_SECONDS = 1.0

#: Polls that may fall due on one tick, on average, before the spacing is halved.
POLLS_PER_TICK = 16

#: Polls one tick takes before the next ones move on to the following ticks.
TICK_CAPACITY = 2 * POLLS_PER_TICK


class PollGrid:
    """The poll intervals of the triggers polling in one process, and the grid they imply."""

    def __init__(self) -> None:
        self._intervals: Counter[float] = Counter()
        self._spacings: dict[float, float] = {}
        self._ticks: dict[tuple[asyncio.AbstractEventLoop, float], list[asyncio.Future[None]]] = {}
        # Polls waiting for each tick, whatever their loop: what the choice of a tick reads.
        self._booked: Counter[float] = Counter()

    @contextmanager
    def polling(self, interval: float) -> Iterator[None]:
        """Count a trigger polling every ``interval`` seconds while the block runs."""
        self._intervals[interval] += 1
        self._spacings.clear()
        try:
            yield
        finally:
            self._intervals[interval] -= 1
            if not self._intervals[interval]:
                del self._intervals[interval]
            self._spacings.clear()

    def polls_per_second(self) -> float:
        """The poll rate of the triggers counted now."""
        return sum(count / interval for interval, count in self._intervals.items() if interval > 0)

    def spacing(self, interval: float) -> float:
        """Seconds between the ticks a trigger polling every ``interval`` seconds uses."""
        spacing = self._spacings.get(interval)
        if spacing is None:
            spacing = self._spacings[interval] = self._spacing(interval)
        return spacing

    def _spacing(self, interval: float) -> float:
        if interval <= 0:
            return 0.0
        rate = max(self.polls_per_second(), 1 / interval)
        widest = min(interval / 10, POLLS_PER_TICK / rate)
        halvings = max(0, math.ceil(math.log2(MAX_SPACING_SECONDS / widest)))
        return MAX_SPACING_SECONDS / 2**halvings

    @staticmethod
    def lateness(interval: float) -> float:
        """How much later than due a trigger polling every ``interval`` seconds may poll."""
        return min(MAX_SPACING_SECONDS, interval / 10)

    def next_poll_at(self, due: float, interval: float, now: float) -> float:
        """The event-loop time of the poll after the one due at ``due``: the first tick with
        room at least ``interval`` after ``due`` (or, if a slow poll has let that pass, from
        ``now``) and within the lateness allowance; if every tick there is full, the least
        booked of them."""
        earliest = max(due + interval, now)
        spacing = self.spacing(interval)
        if spacing <= 0:
            return earliest
        first = math.ceil(earliest / spacing)
        last = max(first, math.floor((earliest + self.lateness(interval)) / spacing))
        least_booked, fewest = first, math.inf
        for tick in range(first, last + 1):
            booked = self._booked.get(tick * spacing, 0)
            if booked < TICK_CAPACITY:
                return tick * spacing
            if booked < fewest:
                least_booked, fewest = tick, booked
        return least_booked * spacing

    async def sleep_until(self, when: float) -> None:
        """Sleep until event-loop time ``when``. The triggers waiting for the same tick share
        one timer of the loop, instead of each adding its own to the loop's heap of timers."""
        loop = asyncio.get_running_loop()
        key = (loop, when)
        waiters = self._ticks.get(key)
        if waiters is None:
            waiters = self._ticks[key] = []
            loop.call_at(when, self._wake, key)
        waiter = loop.create_future()
        waiters.append(waiter)
        self._booked[when] += 1
        try:
            await waiter
        finally:
            if waiter.cancelled():
                self._forget(key, waiter)

    def _wake(self, key: tuple[asyncio.AbstractEventLoop, float]) -> None:
        waiters = self._ticks.pop(key, [])
        self._unbook(key[1], len(waiters))
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _forget(self, key: tuple[asyncio.AbstractEventLoop, float], waiter: asyncio.Future[None]) -> None:
        waiters = self._ticks.get(key)
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)
            self._unbook(key[1], 1)
            if not waiters:
                del self._ticks[key]

    def _unbook(self, when: float, polls: int) -> None:
        self._booked[when] -= polls
        if self._booked[when] <= 0:
            del self._booked[when]


#: The grid of this process's triggers.
poll_grid = PollGrid()
