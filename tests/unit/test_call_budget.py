"""The call budget: a token bucket per endpoint and AccessKey, starts and stops first, and a
rate that drops on throttling and climbs back."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_schedulerx.config import ClientConfig
from airflow_provider_schedulerx.exceptions import SchedulerXConfigError
from airflow_provider_schedulerx.rpc import budget as budget_module
from airflow_provider_schedulerx.rpc.budget import HOLD_SECONDS, CallBudget, budget_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_seconds_worth_at_once_then_one_token_per_interval() -> None:
    clock = Clock()
    bucket = CallBudget(5, clock=clock)
    assert [bucket._take(False) for _ in range(5)] == [0.0] * 5
    assert bucket._take(False) == pytest.approx(0.2)
    clock.now += 0.2
    assert bucket._take(False) == 0.0
    clock.now += 10  # never more than a second's worth saved up
    assert sum(bucket._take(False) == 0.0 for _ in range(10)) == 5


def test_starts_and_stops_go_first_and_polls_wait_until_the_debt_is_repaid() -> None:
    clock = Clock()
    bucket = CallBudget(2, clock=clock)
    bucket._take(False), bucket._take(False)
    assert bucket._take(True) == 0.0 and bucket._take(True) == 0.0  # into debt
    assert bucket._take(False) == pytest.approx(1.5)  # 2 tokens owed, then 1 to take
    assert bucket._take(True) > 0, "the debt is bounded by a second's worth"


def test_throttling_halves_the_rate_for_a_while_then_it_climbs_back() -> None:
    clock = Clock()
    bucket = CallBudget(50, clock=clock)
    bucket.throttled()
    assert bucket.rate == 25
    bucket.throttled(), bucket.throttled(), bucket.throttled()
    assert bucket.rate == 5, "never below a tenth of the budget"
    clock.now += HOLD_SECONDS / 2
    bucket._take(False)
    assert bucket.rate == 5, "held low after the last throttling reply"
    clock.now += HOLD_SECONDS / 2 + 5
    bucket._take(False)
    assert 5 < bucket.rate < 50
    clock.now += 10
    bucket._take(False)
    assert bucket.rate == 50
    assert bucket.throttled_replies == 4


async def test_polls_wait_in_line_in_the_order_they_came() -> None:
    bucket = CallBudget(20)
    order: list[int] = []

    async def poll(n: int) -> None:
        await bucket.acquire()
        order.append(n)

    began = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(poll(n) for n in range(40))), 10)
    assert order == list(range(40))
    assert time.monotonic() - began >= 0.9  # 20 at once, then 20 more at 20 a second
    assert bucket.waited == 20


async def test_a_cancelled_poll_leaves_the_line() -> None:
    bucket = CallBudget(1)
    await bucket.acquire()
    waiting = asyncio.ensure_future(bucket.acquire())
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.wait_for(bucket.acquire(), 3)


def test_one_budget_per_endpoint_and_access_key(monkeypatch) -> None:
    monkeypatch.setattr(budget_module, "_budgets", {})
    first = budget_for("https://a", "AK1", 20)
    assert budget_for("https://a", "AK1", 30) is first and first.limit == 20
    assert budget_for("https://a", "AK1", 10) is first and first.limit == 10
    assert budget_for("https://a", "AK2", 20) is not first
    assert budget_for("https://b", "AK1", 20) is not first
    assert budget_for("https://a", "AK1", 0) is None


@pytest.mark.parametrize("value", [-1, float("inf"), float("nan"), True, "20", 20_001])
def test_max_calls_per_second_is_checked(value) -> None:
    with pytest.raises(
        SchedulerXConfigError, match="max_calls_per_second: expected a number of calls a second"
    ):
        ClientConfig(max_calls_per_second=value)


def test_the_default_budget() -> None:
    assert ClientConfig().max_calls_per_second == 20.0
    assert ClientConfig(max_calls_per_second=0).max_calls_per_second == 0.0
