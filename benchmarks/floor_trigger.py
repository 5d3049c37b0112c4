"""The floor of the triggerer benchmark: the provider trigger's polling loop with nothing
but ``aiohttp`` and the event loop in it. Each poll sends the headers of a signed
``GetJobInstance`` request, signed once, over the provider's shared pooled session and with
its timeouts, to a path the emulator answers with a small JSON 404, and reads the reply. No
signing, reply parsing, retries or logging: what is left is what the HTTP library and the
loop cost per poll, on the same poll grid."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_schedulerx.triggers.poll_grid import poll_grid
from benchmarks.environment import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE, REGION_ID
from benchmarks.polling_trigger import CountedPollsTrigger

FLOOR_PATH = "/floor"


class AiohttpFloorTrigger(CountedPollsTrigger):
    async def run(self) -> AsyncIterator[TriggerEvent]:
        import aiohttp

        from airflow_provider_schedulerx.client import shared_session

        headers = _signed_headers(self.url, self.job_id, self.job_instance_id)
        url = self.url + FLOOR_PATH
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=30.0)  # the provider's
        with poll_grid.polling(self.poll_interval):
            while True:
                self.polls += 1
                status = await _get(shared_session(), url, headers, timeout)
                if status != 404:
                    yield TriggerEvent({"status": "error", "message": f"expected HTTP 404, got {status}"})
                    return
                await poll_grid.sleep_until(
                    poll_grid.next_poll_at(asyncio.get_running_loop().time(), self.poll_interval)
                )


async def _get(session: Any, url: str, headers: dict[str, str], timeout: Any) -> int:
    """One poll: its reply read, then dropped with everything else of the poll."""
    async with session.get(url, headers=headers, timeout=timeout) as response:
        await response.read()
        return int(response.status)


def _signed_headers(url: str, job_id: int, job_instance_id: int) -> dict[str, str]:
    """The headers the provider's client sends for this poll (one attempt of it)."""
    from airflow_provider_schedulerx.config import API_VERSION
    from airflow_provider_schedulerx.protocol import RequestTemplate

    return (
        RequestTemplate(
            action="GetJobInstance",
            version=API_VERSION,
            params={
                "Namespace": NAMESPACE,
                "GroupId": GROUP_ID,
                "RegionId": REGION_ID,
                "JobId": str(job_id),
                "JobInstanceId": str(job_instance_id),
            },
            method="GET",
            endpoint=url,
            access_key_id=ACCESS_KEY_ID,
            access_key_secret=ACCESS_KEY_SECRET,
        )
        .sign()
        .headers
    )
