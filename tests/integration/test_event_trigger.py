"""The asset watchers' trigger against jobs that the emulator runs every second, in a real
event loop: one event per finished instance, none twice across a restart and none lost in
it, a burst of faults ridden out, the statuses filter, a job given by name; and the asset
URI that Airflow checks through provider info."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from airflow_provider_schedulerx.emulator import JobSpec
from airflow_provider_schedulerx.exceptions import SchedulerXConfigError
from airflow_provider_schedulerx.rpc.aio import close_shared_session
from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobEventTrigger
from tests.airflow_versions import import_string

POLL = 0.2


@pytest.fixture
async def session_cleanup():
    yield
    await close_shared_session()


class MemoryStore:
    """Airflow 3.3's asset state store, as the trigger sees it: JSON values by key."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        import json

        self.values[key] = json.loads(json.dumps(value))


async def watch(trigger: SchedulerXJobEventTrigger, seconds: float) -> list[dict[str, Any]]:
    """The events of ``seconds`` of watching, then the watch is cancelled (a triggerer stop)."""
    events: list[dict[str, Any]] = []

    async def consume() -> None:
        async for event in trigger.run():
            events.append(event.payload)

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return events


def every_second(emulator, job_id: int, **spec: Any) -> None:
    emulator.add_job(
        JobSpec(
            job_id=job_id,
            name=f"every-second-{job_id}",
            wait_seconds=0.0,
            run_seconds=0.2,
            schedule={"fix_rate": 1, "start": int(time.time()) - 3600},
            **spec,
        )
    )


def finished_between(emulator, job_id: int, start: float, end: float, status: str = "success") -> set[int]:
    """The job's instances that ended with ``status`` in ``[start, end]``."""
    ids = set()
    for inst in emulator.instances(job_id):
        view = inst.view(time.time())
        if view.status.label == status and view.end_time is not None and start <= view.end_time <= end:
            ids.add(inst.instance_id)
    return ids


async def test_one_event_per_finished_instance(schedulerx_connection, session_cleanup):
    emulator = schedulerx_connection
    every_second(emulator, 901)
    trigger = SchedulerXJobEventTrigger(job_id=901, poll_interval=POLL)
    trigger.asset_state_store = MemoryStore()
    began = time.time()
    events = await watch(trigger, 4.0)
    ids = [event["job_instance_id"] for event in events]
    assert len(ids) == len(set(ids)) >= 3
    # Every instance that ended after the watch began, but for the last poll's worth.
    assert finished_between(emulator, 901, began + 0.5, time.time() - 1.0) <= set(ids)
    # The history before the watch began sends nothing.
    assert all(emulator.get_instance(i).scheduled_at >= began - 1 for i in ids)
    event = events[0]
    assert set(event) == {
        "job_id",
        "job_instance_id",
        "status",
        "schedule_time",
        "data_time",
        "result",
        "console_url",
    }
    assert event["job_id"] == 901 and event["status"] == "success"
    assert event["console_url"].endswith(
        "/InstanceList?namespace=demo-namespace&groupId=demo.defaultGroup"
        f"&jobId=901&instanceId={event['job_instance_id']}&source=schedulerx"
    )
    assert emulator.stats.executions.get(901, 0) == 0


async def test_a_restart_sends_nothing_twice_and_loses_nothing(schedulerx_connection, session_cleanup):
    emulator = schedulerx_connection
    every_second(emulator, 902)
    store = MemoryStore()
    first = SchedulerXJobEventTrigger(job_id=902, poll_interval=POLL)
    first.asset_state_store = store
    began = time.time()
    before = await watch(first, 2.5)
    await asyncio.sleep(2.0)  # no triggerer runs the watch
    second = SchedulerXJobEventTrigger(job_id=902, poll_interval=POLL)
    second.asset_state_store = store
    after = await watch(second, 2.5)
    sent_before = {event["job_instance_id"] for event in before}
    sent_after = {event["job_instance_id"] for event in after}
    assert sent_before and sent_after
    assert not sent_before & sent_after
    assert finished_between(emulator, 902, began + 0.5, time.time() - 1.0) <= sent_before | sent_after


async def test_a_burst_of_faults_does_not_stop_the_watch(schedulerx_connection, session_cleanup, capfd):
    emulator = schedulerx_connection
    every_second(emulator, 903)
    trigger = SchedulerXJobEventTrigger(job_id=903, poll_interval=POLL)
    # Three polls' worth: each poll's call is tried six times by the client.
    emulator.faults.set("server_error", count=18, actions=["GetJobInstanceList"])
    events = await watch(trigger, 6.0)
    out, err = capfd.readouterr()
    assert (out + err).count("polling again in") == 3
    assert "server_error" not in emulator.faults.active(), "the burst was not all drawn"
    assert events, "the watch gave up"


async def test_only_the_watched_statuses(schedulerx_connection, session_cleanup):
    emulator = schedulerx_connection
    every_second(emulator, 904, outcome="failed")
    trigger = SchedulerXJobEventTrigger(job_name="every-second-904", statuses=["failed"], poll_interval=POLL)
    events = await watch(trigger, 3.0)
    assert events and {event["status"] for event in events} == {"failed"}
    assert {event["job_id"] for event in events} == {904}
    success_only = SchedulerXJobEventTrigger(job_id=904, poll_interval=POLL)
    assert await watch(success_only, 2.0) == []


def test_serialize_round_trips_and_shares_a_stream():
    trigger = SchedulerXJobEventTrigger(job_id=7, statuses=["success", "failed"], poll_interval=30)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_schedulerx.triggers.schedulerx.SchedulerXJobEventTrigger"
    again = import_string(classpath)(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert again.shared_stream_key() == trigger.shared_stream_key()
    other = SchedulerXJobEventTrigger(job_id=7, statuses=["failed"], poll_interval=30)
    assert other.shared_stream_key() == trigger.shared_stream_key()  # statuses filter per trigger
    assert SchedulerXJobEventTrigger(job_id=8).shared_stream_key() != trigger.shared_stream_key()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "job_id or job_name: give one of the two"),
        ({"job_id": 1, "job_name": "x"}, "job_id or job_name: give one of the two"),
        ({"job_id": -1}, "job_id"),
        ({"job_id": 1, "statuses": ["running"]}, "statuses: give final statuses"),
        ({"job_id": 1, "statuses": ["finished"]}, "statuses"),
        ({"job_id": 1, "poll_interval": 0}, "poll_interval"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(SchedulerXConfigError, match=message):
        SchedulerXJobEventTrigger(**kwargs)


def test_the_asset_uri():
    from airflow_provider_schedulerx.assets.schedulerx import job_uri, sanitize_uri
    from airflow_provider_schedulerx.get_provider_info import get_provider_info

    uri = job_uri("cn-hangzhou", "my-namespace", "my.group", 1234)
    assert uri == "schedulerx://cn-hangzhou/my-namespace/my.group/1234"
    assert sanitize_uri(urlsplit(uri)).geturl() == uri
    for bad in ("schedulerx://cn-hangzhou/ns/group", "schedulerx:///ns/g/1", "schedulerx://r/ns/g/abc"):
        with pytest.raises(ValueError):
            sanitize_uri(urlsplit(bad))
    (entry,) = get_provider_info()["asset-uris"]
    assert entry["schemes"] == ["schedulerx"]
    assert import_string(entry["handler"]) is sanitize_uri
