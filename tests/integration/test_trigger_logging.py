"""A waiting trigger logs the status when it changes, not on every poll."""

from __future__ import annotations

import asyncio
from unittest import mock

from airflow_provider_schedulerx.client import close_shared_session
from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobInstanceTrigger
from tests.conftest import make_client


async def test_an_unchanged_status_is_logged_once(schedulerx_connection):
    with make_client(schedulerx_connection) as client:
        instance_id = client.execute_job(104)  # runs for an hour
    trigger = SchedulerXJobInstanceTrigger(104, instance_id, poll_interval=0.05)
    trigger._log = mock.MagicMock()

    async def consume():
        async for _ in trigger.run():
            pass

    try:
        await asyncio.wait_for(consume(), 1.0)
    except asyncio.TimeoutError:
        pass
    finally:
        await close_shared_session()
    polls = schedulerx_connection.stats.calls["GetJobInstance"]
    lines = [call.args[2] for call in trigger._log.info.call_args_list]
    assert polls >= 8
    assert lines == ["waiting", "running"] or lines == ["running"]
