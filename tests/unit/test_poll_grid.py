"""The trigger's polls fall on a grid of the event loop's clock, never before the interval."""

from __future__ import annotations

import math

import pytest

from airflow_provider_schedulerx.triggers.schedulerx import POLL_GRID_SECONDS, until_next_poll


@pytest.mark.parametrize("interval", [10.0, 1.0, 2.5, 60.0])
@pytest.mark.parametrize("now", [0.0, 0.05, 12345.678, 99999.99999, 3.0000000001])
def test_the_next_poll_is_the_first_grid_point_after_the_interval(now, interval):
    wait = until_next_poll(now, interval)
    assert interval <= wait < interval + POLL_GRID_SECONDS + 1e-9
    ticks = (now + wait) / POLL_GRID_SECONDS
    assert math.isclose(ticks, round(ticks), abs_tol=1e-6)


def test_triggers_due_within_one_tenth_of_a_second_wake_together():
    wakes = {round(now + until_next_poll(now, 10.0), 6) for now in (100.01, 100.03, 100.07, 100.1)}
    assert wakes == {110.1}


def test_short_intervals_use_a_tenth_of_themselves():
    wait = until_next_poll(1.003, 0.05)
    assert 0.05 <= wait < 0.055 + 1e-9
    assert until_next_poll(5.0, 0.0) == 0.0
