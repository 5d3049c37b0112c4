"""The call budget against the emulator's flow control, over loopback HTTP: the clients of a
process sharing one AccessKey stay under the account's limit, so that no throttling error
reaches a caller; starts go ahead of the polls waiting; without a budget the same burst is
throttled."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_schedulerx.exceptions import SchedulerXThrottledError
from airflow_provider_schedulerx.rpc import budget as budget_module
from airflow_provider_schedulerx.rpc.aio import close_shared_session
from tests.conftest import make_async_client, make_client

LIMIT = 10


@pytest.fixture
async def limited(emulator, monkeypatch):
    monkeypatch.setattr(budget_module, "_budgets", {})
    emulator.rate_limit = LIMIT
    with make_client(emulator) as client:
        emulator.rate_limit = None
        instance_id = client.execute_job(104)
        emulator.rate_limit = LIMIT
    yield emulator, instance_id
    emulator.rate_limit = None
    await close_shared_session()


async def polls(emulator, instance_id: int, *, clients: int, each: int, **config) -> list[object]:
    """``each`` polls from each of ``clients`` clients of one AccessKey, all at once."""
    pool = [make_async_client(emulator, **config) for _ in range(clients)]
    calls = [client.get_job_instance(104, instance_id) for client in pool for _ in range(each)]
    return await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 60)


async def test_a_shared_budget_keeps_the_clients_under_the_limit(limited):
    emulator, instance_id = limited
    results = await polls(emulator, instance_id, clients=4, each=8, max_calls_per_second=LIMIT, max_retries=5)
    assert not [r for r in results if isinstance(r, BaseException)]
    # The budget and the service count their seconds apart: a reply or two may be
    # throttled at a boundary, and is retried.
    assert emulator.stats.throttled.total() <= 3


async def test_without_a_budget_the_same_burst_is_throttled(limited):
    emulator, instance_id = limited
    results = await polls(emulator, instance_id, clients=4, each=8, max_calls_per_second=0, max_retries=0)
    throttled = [r for r in results if isinstance(r, SchedulerXThrottledError)]
    assert len(throttled) >= 32 - LIMIT - 2
    assert emulator.stats.throttled.total() == len(throttled)


async def test_a_throttling_reply_lowers_the_rate(limited):
    emulator, instance_id = limited
    emulator.rate_limit = LIMIT / 2  # the account's limit is lower than the budget says
    results = await polls(
        emulator, instance_id, clients=2, each=15, max_calls_per_second=LIMIT, max_retries=8
    )
    assert not [r for r in results if isinstance(r, BaseException)]
    (budget,) = budget_module._budgets.values()
    assert budget.throttled_replies >= 1 and budget.rate < LIMIT


async def test_starts_go_ahead_of_the_polls_waiting(limited):
    emulator, instance_id = limited
    finished: list[str] = []
    client = make_async_client(emulator, max_calls_per_second=LIMIT)

    async def poll() -> None:
        await client.get_job_instance(104, instance_id)
        finished.append("poll")

    async def start() -> None:
        await asyncio.sleep(0.2)  # once the polls have taken the second's tokens and queued
        await client.stop_instance(104, instance_id)
        finished.append("stop")

    await asyncio.wait_for(asyncio.gather(*(poll() for _ in range(30)), start()), 30)
    assert finished.index("stop") < 20, finished
