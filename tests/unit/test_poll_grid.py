"""Triggers poll on a grid of the event loop's clock: never before their interval, at most
one tick (1 s, or a tenth of the interval) after it, with fewer polls due on one tick as
more triggers poll, and then at a steady cadence of one interval."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from airflow_provider_schedulerx.triggers.poll_grid import (
    MAX_SPACING_SECONDS,
    POLLS_PER_TICK,
    TICK_CAPACITY,
    PollGrid,
)


def polling(grid: PollGrid, stack: ExitStack, count: int, interval: float) -> None:
    for _ in range(count):
        stack.enter_context(grid.polling(interval))


@pytest.fixture
def busy_grid() -> Iterator[PollGrid]:
    """A grid on which 1,000 triggers poll every 10 s."""
    grid = PollGrid()
    with ExitStack() as stack:
        polling(grid, stack, 1000, 10.0)
        yield grid


async def cancel_all(sleepers: list[asyncio.Task[None]]) -> None:
    for sleeper in sleepers:
        sleeper.cancel()
    await asyncio.gather(*sleepers, return_exceptions=True)


def on_grid(when: float, spacing: float) -> bool:
    ticks = when / spacing
    return math.isclose(ticks, round(ticks), abs_tol=1e-6)


@pytest.mark.parametrize("interval", [10.0, 1.0, 2.5, 60.0, 0.3])
@pytest.mark.parametrize("now", [0.0, 0.05, 12345.678, 99999.99999, 3.0000000001])
def test_a_first_poll_waits_for_the_first_tick_after_its_interval(now, interval):
    grid = PollGrid()
    with grid.polling(interval):
        spacing = grid.spacing(interval)
        wait = grid.next_poll_at(now, interval, now) - now
    assert spacing <= min(MAX_SPACING_SECONDS, interval / 10)
    assert interval <= wait < interval + spacing + 1e-9
    assert on_grid(now + wait, spacing)


def test_a_few_triggers_poll_on_whole_seconds():
    grid = PollGrid()
    with grid.polling(10.0):
        assert grid.spacing(10.0) == MAX_SPACING_SECONDS == 1.0
        assert grid.next_poll_at(100.01, 10.0, 100.5) == 111.0


@pytest.mark.parametrize("interval", [10.0, 2.5, 0.75, 7.0])
def test_later_polls_keep_the_cadence_of_the_interval(interval):
    """Once on the grid, a trigger polls every interval (a whole number of ticks), however
    long each poll took: only the first poll waits for a tick."""
    grid = PollGrid()
    with grid.polling(interval):
        spacing = grid.spacing(interval)
        due = grid.next_poll_at(1234.567, interval, 1234.567)
        for _ in range(100):
            polled_for = 0.7 * interval
            following = grid.next_poll_at(due, interval, due + polled_for)
            assert following >= due + interval
            assert following - due < interval + spacing
            assert on_grid(following, spacing)
            due = following
        assert due - 1234.567 < 101 * interval + spacing + 1e-6


def test_a_poll_slower_than_the_interval_is_followed_on_the_next_tick():
    grid = PollGrid()
    with grid.polling(10.0):
        assert grid.next_poll_at(100.0, 10.0, 125.3) == 126.0


def test_triggers_due_within_one_tick_wake_together():
    grid = PollGrid()
    with grid.polling(10.0), grid.polling(10.0):
        wakes = {grid.next_poll_at(now, 10.0, now) for now in (100.01, 100.3, 100.7, 101.0)}
    assert wakes == {111.0}


@pytest.mark.parametrize(
    ("count", "spacing"),
    [(1, 1.0), (160, 1.0), (161, 0.5), (320, 0.5), (1000, 0.125), (5000, 0.03125), (20000, 0.0078125)],
)
def test_the_spacing_halves_until_a_tick_holds_at_most_the_polls_per_tick(count, spacing):
    grid = PollGrid()
    with ExitStack() as stack:
        polling(grid, stack, count, 10.0)
        assert grid.polls_per_second() == pytest.approx(count / 10.0)
        assert grid.spacing(10.0) == spacing
        assert count / 10.0 * grid.spacing(10.0) <= POLLS_PER_TICK


def test_the_spacing_widens_again_when_triggers_stop_polling():
    grid = PollGrid()
    with grid.polling(10.0):
        with ExitStack() as stack:
            polling(grid, stack, 5000, 10.0)
            assert grid.spacing(10.0) == 0.03125
        assert grid.polls_per_second() == pytest.approx(0.1)
        assert grid.spacing(10.0) == 1.0
    assert grid.polls_per_second() == 0


def test_a_fine_grid_keeps_the_ticks_of_the_coarser_ones():
    """Triggers on different spacings still share the coarser spacing's ticks."""
    grid = PollGrid()
    with grid.polling(0.4), grid.polling(30.0):
        fine, coarse = grid.spacing(0.4), grid.spacing(30.0)
        assert (fine, coarse) == (0.03125, 1.0)
        for now in (7.0123, 1234.56789):
            assert on_grid(grid.next_poll_at(now, 30.0, now), fine)


def test_short_intervals_use_at_most_a_tenth_of_themselves():
    grid = PollGrid()
    with grid.polling(0.05):
        wait = grid.next_poll_at(1.003, 0.05, 1.003) - 1.003
        assert 0.05 <= wait <= 0.055 + 1e-9
        assert grid.spacing(0.05) <= 0.005
    assert grid.next_poll_at(5.0, 0.0, 5.0) == 5.0


def test_the_next_poll_is_never_before_the_interval_even_when_rounding():
    grid = PollGrid()
    with grid.polling(0.3):
        for now in (0.1, 0.7, 1e6 + 0.1, 123.456789):
            at = grid.next_poll_at(now, 0.3, now)
            assert at >= now + 0.3
            assert at - now < 0.3 + grid.spacing(0.3) + 1e-9


async def test_triggers_due_on_one_tick_share_one_timer_of_the_loop():
    grid = PollGrid()
    loop = asyncio.get_running_loop()
    scheduled_before = len(loop._scheduled)  # type: ignore[attr-defined]
    now = loop.time()
    tick = grid.next_poll_at(now, 0.05, now)
    sleepers = [asyncio.create_task(grid.sleep_until(tick)) for _ in range(5)]
    await asyncio.sleep(0)
    assert len(loop._scheduled) == scheduled_before + 1  # type: ignore[attr-defined]
    sleepers[0].cancel()
    await asyncio.wait_for(asyncio.gather(*sleepers[1:]), 5)
    assert loop.time() >= tick
    assert sleepers[0].cancelled()
    assert not grid._ticks


async def test_a_tick_whose_sleepers_were_all_cancelled_is_forgotten():
    grid = PollGrid()
    loop = asyncio.get_running_loop()
    tick = loop.time() + 60
    sleeper = asyncio.create_task(grid.sleep_until(tick))
    await asyncio.sleep(0)
    assert grid._ticks
    sleeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeper
    assert not grid._ticks


async def test_a_full_tick_sends_the_next_polls_to_the_following_ticks(busy_grid: PollGrid):
    grid, spacing = busy_grid, busy_grid.spacing(10.0)
    due = asyncio.get_running_loop().time() + 50.0
    first = grid.next_poll_at(due, 10.0, due)
    sleepers = [asyncio.create_task(grid.sleep_until(first)) for _ in range(TICK_CAPACITY)]
    await asyncio.sleep(0)
    assert grid.next_poll_at(due, 10.0, due) == first + spacing
    sleepers.pop().cancel()
    await asyncio.sleep(0)
    assert grid.next_poll_at(due, 10.0, due) == first, "a cancelled poll still holds its place"
    await cancel_all(sleepers)
    assert not grid._booked


async def test_when_every_tick_within_the_allowance_is_full_the_least_booked_takes_more(busy_grid: PollGrid):
    grid, spacing = busy_grid, busy_grid.spacing(10.0)
    due = asyncio.get_running_loop().time() + 50.0
    first = grid.next_poll_at(due, 10.0, due)
    ticks = [first + index * spacing for index in range(round(grid.lateness(10.0) / spacing) + 1)]
    sleepers = [
        asyncio.create_task(grid.sleep_until(tick))
        for index, tick in enumerate(ticks)
        for _ in range(TICK_CAPACITY + (0 if index == 3 else 1))
    ]
    await asyncio.sleep(0)
    assert grid.next_poll_at(due, 10.0, due) == ticks[3]
    await cancel_all(sleepers)
    assert not grid._booked
    assert not grid._booked


async def test_a_woken_tick_frees_its_places():
    grid = PollGrid()
    loop = asyncio.get_running_loop()
    now = loop.time()
    tick = grid.next_poll_at(now, 0.05, now)
    await asyncio.gather(*(grid.sleep_until(tick) for _ in range(3)))
    assert not grid._booked


def test_triggers_started_together_spread_over_the_grid():
    """1,000 triggers that start at the same moment, as after a triggerer restart, poll in
    one burst at first; each interval spreads them by up to the lateness allowance (1 s),
    until a tick holds about its capacity, and no poll is ever later than the allowance."""
    grid = PollGrid()
    interval, count = 10.0, 1000
    busiest = []
    with ExitStack() as stack:
        polling(grid, stack, count, interval)
        dues = [5000.0 + index * 1e-4 for index in range(count)]
        for _ in range(8):
            grid._booked.clear()
            next_dues = []
            for due in dues:
                following = grid.next_poll_at(due, interval, due + 0.05)
                assert due + interval <= following <= due + interval + grid.lateness(interval)
                grid._booked[following] += 1
                next_dues.append(following)
            dues = next_dues
            busiest.append(max(grid._booked.values()))
    assert busiest[0] > 3 * TICK_CAPACITY
    assert busiest[-1] <= 1.25 * TICK_CAPACITY
    assert busiest == sorted(busiest, reverse=True)
