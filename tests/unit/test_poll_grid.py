"""Triggers poll on a grid of the event loop's clock: never before their interval, at most
0.1 s after it, with fewer polls due on one tick as more triggers poll."""

from __future__ import annotations

import asyncio
import math
from contextlib import ExitStack

import pytest

from airflow_provider_schedulerx.triggers.poll_grid import MAX_SPACING_SECONDS, POLLS_PER_TICK, PollGrid


def polling(grid: PollGrid, stack: ExitStack, count: int, interval: float) -> None:
    for _ in range(count):
        stack.enter_context(grid.polling(interval))


@pytest.mark.parametrize("interval", [10.0, 1.0, 2.5, 60.0])
@pytest.mark.parametrize("now", [0.0, 0.05, 12345.678, 99999.99999, 3.0000000001])
def test_a_lone_trigger_polls_on_the_first_tenth_of_a_second_after_its_interval(now, interval):
    grid = PollGrid()
    with grid.polling(interval):
        wait = grid.next_poll_at(now, interval) - now
    assert interval <= wait < interval + MAX_SPACING_SECONDS + 1e-9
    ticks = (now + wait) / MAX_SPACING_SECONDS
    assert math.isclose(ticks, round(ticks), abs_tol=1e-6)


def test_triggers_due_within_one_tick_wake_together():
    grid = PollGrid()
    with grid.polling(10.0), grid.polling(10.0):
        wakes = {round(grid.next_poll_at(now, 10.0), 6) for now in (100.01, 100.03, 100.07, 100.1)}
    assert wakes == {110.1}


@pytest.mark.parametrize(
    ("count", "spacing"), [(1, 0.1), (800, 0.1), (801, 0.05), (1000, 0.05), (5000, 0.0125), (20000, 0.003125)]
)
def test_the_spacing_halves_until_a_tick_holds_at_most_the_polls_per_tick(count, spacing):
    grid = PollGrid()
    with ExitStack() as stack:
        polling(grid, stack, count, 10.0)
        assert grid.polls_per_second() == pytest.approx(count / 10.0)
        assert grid.spacing(10.0) == pytest.approx(spacing)
        assert count / 10.0 * grid.spacing(10.0) <= POLLS_PER_TICK


def test_the_spacing_widens_again_when_triggers_stop_polling():
    grid = PollGrid()
    with grid.polling(10.0):
        with ExitStack() as stack:
            polling(grid, stack, 5000, 10.0)
            assert grid.spacing(10.0) == pytest.approx(0.0125)
        assert grid.polls_per_second() == pytest.approx(0.1)
        assert grid.spacing(10.0) == pytest.approx(0.1)
    assert grid.polls_per_second() == 0


def test_a_fine_grid_keeps_the_ticks_of_the_coarser_ones():
    """Triggers on different spacings still share the coarser spacing's ticks."""
    grid = PollGrid()
    with grid.polling(0.4), grid.polling(30.0):
        fine, coarse = grid.spacing(0.4), grid.spacing(30.0)
        assert (fine, coarse) == (pytest.approx(0.025), pytest.approx(0.1))
        for now in (7.0123, 1234.56789):
            coarse_tick = grid.next_poll_at(now, 30.0) / fine
            assert math.isclose(coarse_tick, round(coarse_tick), abs_tol=1e-6)


def test_short_intervals_use_at_most_a_tenth_of_themselves():
    grid = PollGrid()
    with grid.polling(0.05):
        wait = grid.next_poll_at(1.003, 0.05) - 1.003
        assert 0.05 <= wait <= 0.055 + 1e-9
        assert grid.spacing(0.05) <= 0.005
    assert grid.next_poll_at(5.0, 0.0) == 5.0


def test_the_next_poll_is_never_before_the_interval_even_when_rounding():
    grid = PollGrid()
    with grid.polling(0.3):
        for now in (0.1, 0.7, 1e6 + 0.1, 123.456789):
            at = grid.next_poll_at(now, 0.3)
            assert at >= now + 0.3
            assert at - now < 0.3 + grid.spacing(0.3) + 1e-9


async def test_triggers_due_on_one_tick_share_one_timer_of_the_loop():
    grid = PollGrid()
    loop = asyncio.get_running_loop()
    scheduled_before = len(loop._scheduled)  # type: ignore[attr-defined]
    tick = grid.next_poll_at(loop.time(), 0.05)
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
