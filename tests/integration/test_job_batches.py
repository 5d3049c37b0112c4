"""The triggers waiting on instances of one job, polled in the job's rounds, side by side
with per-instance polling on the same emulator runs: the same events at about the same
times, for far fewer calls."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from airflow_provider_schedulerx.emulator import JobSpec
from airflow_provider_schedulerx.rpc.actions import MAX_PAGE_SIZE
from airflow_provider_schedulerx.rpc.aio import close_shared_session
from airflow_provider_schedulerx.triggers import job_batches
from airflow_provider_schedulerx.triggers.schedulerx import (
    SchedulerXJobInstanceTrigger,
    SchedulerXJobWindowTrigger,
)
from tests.conftest import GROUP_ID, NAMESPACE, connection_json

JOB = 790
INTERVAL = 0.25
#: Run seconds and outcome of each instance: they end one after another, in every way.
PLAN = [
    *((0.3 + 0.2 * n, "success") for n in range(8)),
    (0.8, "failed"),
    (1.4, "failed"),
    (1.1, "partial_failed"),
    (0.9, "killed"),
    (1.3, 12),
    (0.0, "rejected"),
]


@pytest.fixture
async def connections(schedulerx_connection, monkeypatch):
    for conn_id, batching in (("batched", True), ("single", False)):
        monkeypatch.setenv(
            f"AIRFLOW_CONN_SCHEDULERX_{conn_id.upper()}",
            connection_json(schedulerx_connection, backoff=0.01, poll_batching=batching),
        )
    yield schedulerx_connection
    await close_shared_session()


def start(emulator, plan) -> list[int]:
    """Instances of the one job, each with its own run time and outcome, started at once."""
    emulator.add_job(JobSpec(job_id=JOB, wait_seconds=0.2))
    job = emulator.state.job(NAMESPACE, GROUP_ID, JOB)
    return [
        emulator.state.execute(replace(job, run_seconds=seconds, outcome=outcome)).instance_id
        for seconds, outcome in plan
    ]


async def wait_on(instance_id: int, conn_id: str, **options) -> tuple[dict, float]:
    trigger = SchedulerXJobInstanceTrigger(
        JOB, instance_id, schedulerx_conn_id=f"schedulerx_{conn_id}", poll_interval=INTERVAL, **options
    )
    async for event in trigger.run():
        return event.payload, time.time()
    raise AssertionError("no event")


async def test_the_same_events_at_about_the_same_times(connections):
    emulator = connections
    instance_ids = start(emulator, PLAN)
    waits = [wait_on(i, conn_id) for conn_id in ("batched", "single") for i in instance_ids]
    outcomes = await asyncio.wait_for(asyncio.gather(*waits), 30)
    batched, single = outcomes[: len(instance_ids)], outcomes[len(instance_ids) :]
    statuses = set()
    for instance_id, (b_event, b_at), (s_event, s_at) in zip(instance_ids, batched, single):
        assert b_event == s_event, instance_id
        statuses.add(b_event["status"])
        ended, _ = emulator.status_history(instance_id)[-1]
        assert b_at >= ended and s_at >= ended
        # Each polls every interval: the two hear of the end within an interval or so.
        assert abs(b_at - s_at) <= 2 * INTERVAL + 0.2, (instance_id, b_at - s_at)
    assert statuses == {"success", "failed", "unlisted"}
    assert not job_batches._batches, "a batch outlived its triggers"


async def test_a_round_answers_every_instance_waited_on(connections):
    emulator = connections
    count = 2 * MAX_PAGE_SIZE + 50
    instance_ids = start(emulator, [(3.0, "success")] * count)
    before = dict(emulator.stats.calls)
    outcomes = await asyncio.wait_for(asyncio.gather(*(wait_on(i, "batched") for i in instance_ids)), 60)
    assert {event["status"] for event, _ in outcomes} == {"success"}
    assert all(event["instance"]["instance_id"] == i for (event, _), i in zip(outcomes, instance_ids))
    calls = {action: n - before.get(action, 0) for action, n in emulator.stats.calls.items()}
    # One GetJobInstance as each trigger's first poll, one for its event; the rounds in between
    # page through the job's instances: three pages a round (and about 3.2 s / 0.25 s rounds).
    # (A trigger left alone at the end polls on its own: a call or two more.)
    assert 2 * count <= calls["GetJobInstance"] <= 2 * count + 5
    pages_per_round = -(-count // MAX_PAGE_SIZE)
    assert calls["GetJobInstanceList"] % pages_per_round == 0
    assert 3 * pages_per_round <= calls["GetJobInstanceList"] <= 20 * pages_per_round
    # Against what polling each instance on its own would have cost over the same time.
    assert calls["GetJobInstanceList"] < count


async def test_an_instance_the_list_does_not_show_is_polled_on_its_own(connections, monkeypatch):
    emulator = connections
    hidden, shown = start(emulator, [(1.0, "success"), (1.0, "success")])
    listed = job_batches.JobBatch._list

    async def without_hidden(self, client):
        listing = await listed(self, client)
        listing.items = [item for item in listing.items if item.instance_id != hidden]
        return listing

    monkeypatch.setattr(job_batches.JobBatch, "_list", without_hidden)
    before = emulator.stats.calls["GetJobInstance"]
    outcomes = await asyncio.wait_for(
        asyncio.gather(wait_on(hidden, "batched"), wait_on(shown, "batched")), 20
    )
    assert [event["status"] for event, _ in outcomes] == ["success", "success"]
    # The hidden one: a GetJobInstance every round; the shown one: its first and its last.
    assert emulator.stats.calls["GetJobInstance"] - before >= 2 + 4


async def test_a_failed_round_is_a_failed_poll_of_each_trigger(connections):
    emulator = connections
    instance_ids = start(emulator, [(1.5, "success")] * 3)
    emulator.faults.set("server_error", count=30, actions=["GetJobInstanceList"])
    outcomes = await asyncio.wait_for(asyncio.gather(*(wait_on(i, "batched") for i in instance_ids)), 30)
    # Ridden out as failed polls are (the client retries, the trigger tolerates a streak).
    assert [event["status"] for event, _ in outcomes] == ["success"] * 3
    assert emulator.stats.faults["server_error"] == 30


async def test_the_deadline_ends_a_wait_in_rounds(connections):
    emulator = connections
    (instance_id,) = start(emulator, [(3600.0, "success")])
    began = time.monotonic()
    event, _ = await asyncio.wait_for(wait_on(instance_id, "batched", deadline=time.time() + 1.0), 10)
    assert event["status"] == "timeout"
    assert 0.9 < time.monotonic() - began < 3
    assert event["message"].endswith("did not finish before the deadline (last seen running)")


async def wait_on_window(
    job_id: int, start: float, end: float, conn_id: str, **options
) -> tuple[dict, float]:
    trigger = SchedulerXJobWindowTrigger(
        job_id, start, end, schedulerx_conn_id=f"schedulerx_{conn_id}", poll_interval=INTERVAL, **options
    )
    async for event in trigger.run():
        return event.payload, time.time()
    raise AssertionError("no event")


async def test_window_triggers_in_rounds_agree_with_their_own_searches(connections):
    """A job the service runs every 2 s with a 4 s data offset: windows of its past, of its
    near future (the wait lasts until the instance is scheduled and done), matched on data
    and on schedule time, and one that stays empty until the deadline."""
    emulator = connections
    now = time.time()
    emulator.add_job(
        JobSpec(
            job_id=JOB + 1,
            wait_seconds=0.1,
            run_seconds=0.5,
            schedule={"fix_rate": 2, "start": int(now) - 20, "data_offset": 4},
        )
    )
    ticks = int(now) - 20
    windows = [
        (ticks + 4, ticks + 6, "data_time"),
        (ticks + 10, ticks + 12, "schedule_time"),
        (ticks + 22, ticks + 24, "schedule_time"),
        (ticks + 24, ticks + 26, "data_time"),
        (ticks + 28, ticks + 29, "schedule_time"),
    ]
    deadline = now + 12
    waits = [
        wait_on_window(JOB + 1, start, end, conn_id, match_on=match_on, deadline=deadline)
        for conn_id in ("batched", "single")
        for start, end, match_on in [*windows, (now + 3600, now + 3601, "schedule_time")]
    ]
    outcomes = await asyncio.wait_for(asyncio.gather(*waits), 40)
    half = len(outcomes) // 2
    statuses = []
    for (b_event, b_at), (s_event, s_at) in zip(outcomes[:half], outcomes[half:]):
        assert {**b_event, "message": ""} == {**s_event, "message": ""}
        assert b_event["message"].split(" (last seen")[0] == s_event["message"].split(" (last seen")[0]
        assert abs(b_at - s_at) <= 2 * INTERVAL + 0.3
        statuses.append(b_event["status"])
    assert statuses == ["success"] * len(windows) + ["timeout"]
    assert not job_batches._batches


async def test_window_triggers_of_one_job_share_its_rounds(connections):
    emulator = connections
    now = time.time()
    emulator.add_job(JobSpec(job_id=JOB + 2, schedule={"fix_rate": 60, "start": int(now) - 600}))
    before = emulator.stats.calls["GetJobInstanceList"]
    empty = [(now + 3600 + n, now + 3601 + n) for n in range(6)]
    waits = [wait_on_window(JOB + 2, start, end, "batched", deadline=now + 3) for start, end in empty]
    outcomes = await asyncio.wait_for(asyncio.gather(*waits), 20)
    assert {event["status"] for event, _ in outcomes} == {"timeout"}
    listed = emulator.stats.calls["GetJobInstanceList"] - before
    # Each searches once on its own (the data offset, then its window); then about twelve
    # rounds of one page in 3 s, where each searching on its own would list 72 times.
    assert listed <= 2 * len(empty) + 16, listed


async def test_a_lone_instance_is_polled_on_its_own_in_its_rounds(connections):
    emulator = connections
    (instance_id,) = start(emulator, [(1.5, "success")])
    before = dict(emulator.stats.calls)
    event, _ = await asyncio.wait_for(wait_on(instance_id, "batched"), 20)
    assert event["status"] == "success" and event["instance"]["result"]
    calls = {action: n - before.get(action, 0) for action, n in emulator.stats.calls.items()}
    # No list, and no read after the round that saw it end: one call a poll interval.
    assert not calls.get("GetJobInstanceList")
    assert 1.7 / INTERVAL - 2 <= calls["GetJobInstance"] <= 1.7 / INTERVAL + 3
