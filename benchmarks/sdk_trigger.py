"""The baseline of the triggerer benchmark: the provider trigger's polling loop written
with Alibaba's official SDK and its async client (``get_job_instance_with_options_async``),
as a SchedulerX trigger built on the SDK would be. Its status checks, logging and poll
times (on the provider's shared poll grid) are the provider trigger's, so that only the clients
differ."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from airflow.triggers.base import TriggerEvent

from airflow_provider_schedulerx.models import FAILURE_STATUSES, SUCCESS_STATUSES, InstanceStatus
from airflow_provider_schedulerx.triggers.poll_grid import poll_grid
from airflow_provider_schedulerx.utils.waiting import StatusLog
from benchmarks import clients
from benchmarks.polling_trigger import CountedPollsTrigger


class OfficialSdkJobInstanceTrigger(CountedPollsTrigger):
    async def run(self) -> AsyncIterator[TriggerEvent]:
        what = f"SchedulerX job {self.job_id} instance {self.job_instance_id}"
        get_job_instance = clients.sdk_async_call(clients.sdk_client(self.url), self.job_instance_id)
        status_log = StatusLog(self.log, what)
        loop = asyncio.get_running_loop()
        due = loop.time()
        with poll_grid.polling(self.poll_interval):
            while True:
                self.polls += 1
                response = await get_job_instance()
                detail = response.body.data.job_instance_detail
                status = InstanceStatus(detail.status)
                if status in SUCCESS_STATUSES or status in FAILURE_STATUSES:
                    yield TriggerEvent({"status": status.label, "instance": detail.to_map()})
                    return
                # The provider's logging and poll timing, so that only the clients differ.
                status_log.update(status, loop.time())
                response = detail = None
                due = poll_grid.next_poll_at(due, self.poll_interval, loop.time())
                await poll_grid.sleep_until(due)
