"""The trigger's event sequences against the emulator, in a real event loop: each polling
the instance on its own and in the job's rounds (``poll_batching``)."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from airflow_provider_schedulerx.rpc.aio import close_shared_session
from airflow_provider_schedulerx.triggers.poll_grid import poll_grid
from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobInstanceTrigger
from tests.airflow_versions import import_string
from tests.conftest import connection_json, make_client


@pytest.fixture(params=["batched", "per-instance"])
def polling(request, schedulerx_connection, monkeypatch) -> str:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHEDULERX_DEFAULT",
        connection_json(schedulerx_connection, backoff=0.01, poll_batching=request.param == "batched"),
    )
    return str(request.param)


@pytest.fixture
async def session_cleanup():
    yield
    await close_shared_session()


def start(emulator, job_id: int) -> int:
    with make_client(emulator) as client:
        return client.execute_job(job_id)


async def events(trigger: SchedulerXJobInstanceTrigger, limit: float = 20.0) -> list[dict]:
    collected = []

    async def consume():
        async for event in trigger.run():
            collected.append(event.payload)

    await asyncio.wait_for(consume(), limit)
    return collected


async def test_running_to_success(schedulerx_connection, polling, session_cleanup):
    instance_id = start(schedulerx_connection, 101)
    trigger = SchedulerXJobInstanceTrigger(101, instance_id, poll_interval=0.1)
    (event,) = await events(trigger)
    assert event["status"] == "success"
    assert event["instance"]["instance_id"] == instance_id
    assert event["instance"]["result"] == "42 rows loaded"
    calls = schedulerx_connection.stats.calls
    # Waiting, running, success; in rounds too, as a lone instance's round is its own poll.
    assert calls["GetJobInstance"] >= 3 and not calls["GetJobInstanceList"]
    assert poll_grid.polls_per_second() == 0, "a finished trigger still counts as polling"


async def test_running_to_failed(schedulerx_connection, polling, session_cleanup):
    instance_id = start(schedulerx_connection, 102)
    (event,) = await events(SchedulerXJobInstanceTrigger(102, instance_id, poll_interval=0.1))
    assert event["status"] == "failed"
    assert "upstream table is empty" in event["message"]
    assert event["instance"]["status_name"] == "failed"


async def test_a_burst_of_transient_errors_is_ridden_out(schedulerx_connection, polling, session_cleanup):
    instance_id = start(schedulerx_connection, 101)
    schedulerx_connection.faults.set("throttle", count=4, actions=["GetJobInstance"])
    schedulerx_connection.faults.set("server_error", count=4, actions=["GetJobInstance"])
    schedulerx_connection.faults.set("reset", count=2, actions=["GetJobInstance"])
    (event,) = await events(SchedulerXJobInstanceTrigger(101, instance_id, poll_interval=0.1))
    assert event["status"] == "success"
    assert sum(schedulerx_connection.stats.faults.values()) == 10


async def test_a_permanent_error_ends_the_wait_at_once(
    schedulerx_connection, polling, session_cleanup, monkeypatch
):
    instance_id = start(schedulerx_connection, 101)
    (event,) = await events(
        SchedulerXJobInstanceTrigger(101, instance_id, poll_interval=0.1, group_id="no.such.group")
    )
    assert event["status"] == "error" and "not exist" in event["message"]


async def test_deadline(schedulerx_connection, polling, session_cleanup):
    instance_id = start(schedulerx_connection, 104)
    started = time.monotonic()
    (event,) = await events(
        SchedulerXJobInstanceTrigger(104, instance_id, poll_interval=0.2, deadline=time.time() + 0.7)
    )
    assert event["status"] == "timeout"
    assert 0.6 < time.monotonic() - started < 3
    assert event["message"].endswith("did not finish before the deadline (last seen running)")


async def test_on_kill_stops_an_instance_the_task_started(schedulerx_connection, polling, session_cleanup):
    instance_id = start(schedulerx_connection, 104)
    await SchedulerXJobInstanceTrigger(104, instance_id).on_kill()  # a sensor's: left alone
    with make_client(schedulerx_connection) as client:
        assert not client.get_job_instance(104, instance_id).is_finished
        await SchedulerXJobInstanceTrigger(104, instance_id, stop_on_kill=True).on_kill()
        assert client.get_job_instance(104, instance_id).status.label == "killed"


def test_serialize_round_trips_through_airflow():
    from airflow.serialization.serialized_objects import BaseSerialization

    trigger = SchedulerXJobInstanceTrigger(
        101,
        "1000000000001",
        schedulerx_conn_id="c",
        namespace="ns",
        group_id="g",
        poll_interval=5,
        deadline=1_800_000_000.5,
        success_statuses=[4, 12],
        failure_statuses=[5],
        stop_on_kill=True,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_schedulerx.triggers.schedulerx.SchedulerXJobInstanceTrigger"
    restored_kwargs = BaseSerialization.deserialize(BaseSerialization.serialize(kwargs))
    again = import_string(classpath)(**restored_kwargs)
    assert again.serialize() == trigger.serialize()
    assert again.job_instance_id == 1000000000001


@pytest.mark.parametrize("polling", ["per-instance"], indirect=True)
async def test_polls_after_the_first_fall_on_the_grid(schedulerx_connection, polling, session_cleanup):
    """Two triggers started 30 ms apart poll first at once, then on the process's poll grid
    (a tenth of the 1 s interval, rounded down to a binary fraction: 1/16 s), never before
    the interval, and at most one tick apart; from then on, once a second."""
    instance_ids = [start(schedulerx_connection, 104) for _ in range(2)]
    poll_times: dict[int, list[float]] = {instance_id: [] for instance_id in instance_ids}
    polled_thrice = asyncio.Event()

    class Recorded(SchedulerXJobInstanceTrigger):
        async def _client(self):
            client = await super()._client()
            prepared = client.prepared

            def recorded_poll(call, **options):
                poll = prepared(call, **options)
                job_instance_id = call.params["JobInstanceId"]

                async def recorded():
                    poll_times[job_instance_id].append(asyncio.get_running_loop().time())
                    if all(len(times) >= 3 for times in poll_times.values()):
                        polled_thrice.set()
                    return await poll()

                return recorded

            client.prepared = recorded_poll
            return client

    async def poll(instance_id: int, delay: float) -> None:
        await asyncio.sleep(delay)
        async for _ in Recorded(104, instance_id, poll_interval=1.0).run():
            return

    tasks = [asyncio.create_task(poll(instance_id, 0.03 * n)) for n, instance_id in enumerate(instance_ids)]
    await asyncio.wait_for(polled_thrice.wait(), 10)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    first, second = poll_times.values()
    spacing = 1 / 16
    for times in (first, second):
        assert times[1] - times[0] >= 1.0
        late = times[1] - math.floor(times[1] / spacing) * spacing
        assert late < 0.04, f"poll at {times[1]:.4f} is not on the 1/16 s grid"
        assert 1.0 - 0.04 < times[2] - times[1] < 1.0 + 0.04, "not polled one interval later"
    ticks_apart = abs(math.floor(second[1] / spacing) - math.floor(first[1] / spacing))
    assert ticks_apart <= 1, "30 ms apart at first, their polls drifted apart on the grid"
    assert poll_grid.polls_per_second() == 0, "the triggers still count as polling"
