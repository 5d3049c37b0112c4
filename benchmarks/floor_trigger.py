"""The floor of the triggerer benchmark: the provider trigger's polling loop with nothing in
it but what any aiohttp client must do to make the call. Each poll signs its
``GetJobInstance`` afresh (the service refuses a reused nonce), sends it over the provider's
shared pooled session with its timeouts, to the same emulator, and reads the reply. No reply
parsing, retries, credential lookup or logging: what is left is what the HTTP library, the
signature and the event loop cost per poll, on the same poll grid."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_schedulerx.triggers.poll_grid import poll_grid
from benchmarks.environment import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE, REGION_ID
from benchmarks.polling_trigger import CountedPollsTrigger


class AiohttpFloorTrigger(CountedPollsTrigger):
    async def run(self) -> AsyncIterator[TriggerEvent]:
        import aiohttp
        import yarl

        from airflow_provider_schedulerx.rpc.aio import shared_session

        template = _template(self.url, self.job_id, self.job_instance_id)
        url = yarl.URL(template.url, encoded=True)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=30.0)  # the provider's
        loop = asyncio.get_running_loop()
        due = loop.time()
        with poll_grid.polling(self.poll_interval):
            while True:
                self.polls += 1
                status = await _get(shared_session(), url, template.sign().headers, timeout)
                if status != 200:
                    yield TriggerEvent({"status": "error", "message": f"expected HTTP 200, got {status}"})
                    return
                due = poll_grid.next_poll_at(due, self.poll_interval, loop.time())
                await poll_grid.sleep_until(due)


async def _get(session: Any, url: Any, headers: dict[str, str], timeout: Any) -> int:
    """One poll: its reply read, then dropped with everything else of the poll."""
    async with session.get(url, headers=headers, timeout=timeout) as response:
        await response.read()
        return int(response.status)


def _template(url: str, job_id: int, job_instance_id: int) -> Any:
    """The request the provider's client makes for this poll, to be signed per attempt."""
    from airflow_provider_schedulerx.config import API_VERSION
    from airflow_provider_schedulerx.rpc.protocol import RequestTemplate

    return RequestTemplate(
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
