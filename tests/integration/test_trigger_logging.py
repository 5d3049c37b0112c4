"""A waiting trigger logs the status when it changes, not on every poll, and again every
few minutes while it stays the same."""

from __future__ import annotations

import asyncio
from unittest import mock

from airflow_provider_schedulerx.emulator import Emulator
from airflow_provider_schedulerx.models import InstanceStatus
from airflow_provider_schedulerx.rpc.aio import close_shared_session
from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobInstanceTrigger
from airflow_provider_schedulerx.utils import waiting
from airflow_provider_schedulerx.utils.waiting import StatusLog
from tests.conftest import make_client


async def poll_an_hour_long_job(emulator: Emulator, polls: int) -> tuple[int, list[str]]:
    """Run a trigger polling every 50 ms on job 104 (it runs for an hour) until the emulator
    has answered ``polls`` of its polls; its instance id and the lines it logged at INFO."""
    with make_client(emulator) as client:
        instance_id = client.execute_job(104)
    trigger = SchedulerXJobInstanceTrigger(104, instance_id, poll_interval=0.05)
    trigger._log = mock.MagicMock()

    async def consume():
        async for _ in trigger.run():
            pass

    def answered() -> int:
        """Polls of its own and the rounds of the job's instances."""
        return emulator.stats.calls["GetJobInstance"] + emulator.stats.calls["GetJobInstanceList"]

    async def served() -> None:
        while answered() < polls and not polling.done():  # noqa: ASYNC110 - the emulator's counter
            await asyncio.sleep(0.01)

    polling = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(served(), 30)
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
    finally:
        await close_shared_session()
    assert answered() >= polls, "the trigger stopped polling"
    return instance_id, [call.args[0] % call.args[1:] for call in trigger._log.info.call_args_list]


async def test_an_unchanged_status_is_logged_once(schedulerx_connection):
    instance_id, lines = await poll_an_hour_long_job(schedulerx_connection, polls=10)
    what = f"SchedulerX job 104 instance {instance_id}"
    assert lines in ([f"{what} is waiting", f"{what} is running"], [f"{what} is running"])


async def test_a_status_that_lasts_is_logged_again_with_how_long(schedulerx_connection, monkeypatch):
    monkeypatch.setattr(waiting, "STILL_WAITING_LOG_SECONDS", 0.3)
    instance_id, lines = await poll_an_hour_long_job(schedulerx_connection, polls=20)
    what = f"SchedulerX job 104 instance {instance_id}"
    still = [line for line in lines if " is still " in line]
    assert f"{what} is running" in lines
    # Polls come at least 50 ms apart: 6 of them take at least the 0.3 s between two lines.
    assert 1 <= len(still) <= 20 // 6, lines
    assert all(line == f"{what} is still running, for 0 min now" for line in still)


def test_the_repeated_line_counts_the_minutes_since_the_status_changed():
    log = mock.MagicMock()
    status_log = StatusLog(log, "job 1 instance 2")
    for second in range(0, 1300, 10):
        status_log.update(InstanceStatus.RUNNING, 1000.0 + second)
    lines = [call.args[0] % call.args[1:] for call in log.info.call_args_list]
    assert lines == [
        "job 1 instance 2 is running",
        "job 1 instance 2 is still running, for 5 min now",
        "job 1 instance 2 is still running, for 10 min now",
        "job 1 instance 2 is still running, for 15 min now",
        "job 1 instance 2 is still running, for 20 min now",
    ]
