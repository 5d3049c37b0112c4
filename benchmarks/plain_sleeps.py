"""The poll grid's stand-in for its trial (the "no grid" arm of the triggerer benchmark):
the same interface as :class:`~airflow_provider_schedulerx.triggers.poll_grid.PollGrid`,
with each poll due one interval after the previous one was due and each trigger sleeping on
a timer of its own, as a trigger written with plain ``asyncio.sleep`` would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


class PlainSleeps:
    """No grid: polls when due, each trigger with its own timer."""

    @contextmanager
    def polling(self, interval: float) -> Iterator[None]:
        yield

    def next_poll_at(self, due: float, interval: float, now: float) -> float:
        return max(due + interval, now)

    async def sleep_until(self, when: float) -> None:
        await asyncio.sleep(when - asyncio.get_running_loop().time())


def replace_the_grid() -> None:
    """Make this process's polling triggers sleep plainly instead of on the poll grid."""
    from airflow_provider_schedulerx.triggers import polling

    polling.poll_grid = PlainSleeps()  # type: ignore[assignment]
