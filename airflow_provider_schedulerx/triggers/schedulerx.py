"""Waiting on SchedulerX in the triggerer's event loop: on one job instance, on a job's
instance for a time window, and on a job's instances as they finish (for asset watchers,
defined in :mod:`~airflow_provider_schedulerx.triggers.events`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger

from airflow_provider_schedulerx.triggers.events import SchedulerXJobEventTrigger
from airflow_provider_schedulerx.triggers.polling import PollingTrigger

if TYPE_CHECKING:
    from airflow_provider_schedulerx.client import AsyncSchedulerXClient
    from airflow_provider_schedulerx.models import JobInstance

__all__ = ["SchedulerXJobEventTrigger", "SchedulerXJobInstanceTrigger", "SchedulerXJobWindowTrigger"]

#: Task instance states in which a trigger that Airflow cancels is not being killed by a
#: user: the triggerer is stopping or handing it over, or the task resumes from its event.
NOT_A_KILL = (None, "deferred", "success")


class SchedulerXJobInstanceTrigger(PollingTrigger):
    """Polls ``GetJobInstance`` until the instance reaches a final status, or until an
    absolute deadline (:mod:`~airflow_provider_schedulerx.triggers.polling`).

    :param job_id: the SchedulerX job.
    :param job_instance_id: the instance to wait on.
    :param stop_on_kill: stop the instance when a user marks the deferred task failed or
        clears it (set for instances the task started itself); a task marked successful
        leaves it running.
    :param max_consecutive_errors: ignored; kept so that triggers serialized by 0.1 load.

    The other arguments are :class:`~airflow_provider_schedulerx.triggers.polling.PollingTrigger`'s.
    """

    def __init__(
        self,
        job_id: int,
        job_instance_id: int,
        *,
        stop_on_kill: bool = False,
        max_consecutive_errors: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(job_id, **kwargs)
        self.job_instance_id = int(job_instance_id)
        self.stop_on_kill = stop_on_kill

    def own_kwargs(self) -> dict[str, Any]:
        return {"job_instance_id": self.job_instance_id, "stop_on_kill": self.stop_on_kill}

    @property
    def what(self) -> str:
        return f"SchedulerX job {self.job_id} instance {self.job_instance_id}"

    def instance_id_of(self, instance: dict[str, Any] | None) -> int | None:
        return self.job_instance_id

    def poller(self, client: AsyncSchedulerXClient) -> Callable[[], Awaitable[JobInstance | None]]:
        from airflow_provider_schedulerx.rpc import actions

        return client.prepared(
            actions.get_job_instance(self.job_id, self.job_instance_id), deadline=self.deadline
        )

    async def on_kill(self) -> None:
        """A user marked the deferred task failed or successful, or cleared it (Airflow 3.3
        calls this): stop the instance if this task started it, unless it was marked
        successful."""
        if not self.stop_on_kill or self._over:
            return
        from airflow_provider_schedulerx.utils.lifecycle import stop_on_kill
        from airflow_provider_schedulerx.utils.ti_state import current_state_async

        state = await current_state_async(getattr(self, "task_instance", None))
        if stop_on_kill(state):
            await self._stop(f"the deferred task is now {state or 'no longer deferred'}")
        else:
            self.log.info("%s: the task was marked successful; the instance keeps running", self.what)

    async def cleanup(self) -> None:
        """Where Airflow has no ``on_kill`` for triggers (before 3.3), a trigger cancelled
        because a user marked the task failed or cleared it stops the instance here; one
        cancelled because the triggerer stops, or whose task was marked successful, leaves it."""
        if not self.stop_on_kill or self._over or hasattr(BaseTrigger, "on_kill"):
            return
        from airflow_provider_schedulerx.utils.ti_state import current_state_async

        state = await current_state_async(getattr(self, "task_instance", None))
        if state not in NOT_A_KILL:
            await self._stop(f"the deferred task is now {state}")

    async def _stop(self, reason: str) -> None:
        """Stop the instance, shielded: the triggerer gives a killed trigger about a second
        and may cancel it again, but a stop once sent should finish (within 10 s)."""
        from airflow_provider_schedulerx.exceptions import SchedulerXError
        from airflow_provider_schedulerx.hooks.schedulerx import STOP_WITHIN
        from airflow_provider_schedulerx.rpc import actions
        from airflow_provider_schedulerx.rpc.aio import session_in_use

        async def stop() -> None:
            deadline = time.time() + STOP_WITHIN
            async with session_in_use():
                client = await self._client()
                instance = await client.run(
                    actions.get_job_instance(self.job_id, self.job_instance_id), deadline=deadline
                )
                if not instance.is_finished:
                    await client.run(
                        actions.stop_instance(self.job_id, self.job_instance_id), deadline=deadline
                    )
                    self.log.info("Stopped %s (%s)", self.what, reason)

        try:
            await asyncio.shield(stop())
        except SchedulerXError as error:
            self.log.error("Could not stop %s: %s", self.what, error)


class SchedulerXJobWindowTrigger(PollingTrigger):
    """Polls a job's instances until its newest one in a time window reaches a final status,
    or until an absolute deadline: the deferred half of
    :class:`~airflow_provider_schedulerx.sensors.schedulerx.SchedulerXJobSensor`.

    :param job_id: the SchedulerX job.
    :param window_start: epoch seconds, the window's start (included).
    :param window_end: epoch seconds, the window's end (excluded).
    :param match_on: ``data_time`` or ``schedule_time``: which of an instance's times places
        it in the window.

    The other arguments are :class:`~airflow_provider_schedulerx.triggers.polling.PollingTrigger`'s.
    """

    def __init__(
        self,
        job_id: int,
        window_start: float,
        window_end: float,
        *,
        match_on: str = "data_time",
        **kwargs: Any,
    ) -> None:
        from airflow_provider_schedulerx.rpc.windows import Window

        super().__init__(job_id, **kwargs)
        self.window = Window(float(window_start), float(window_end), match_on)

    def own_kwargs(self) -> dict[str, Any]:
        return {
            "window_start": self.window.start,
            "window_end": self.window.end,
            "match_on": self.window.match_on,
        }

    @property
    def what(self) -> str:
        return f"SchedulerX job {self.job_id}'s instance for {self.window}"

    def poller(self, client: AsyncSchedulerXClient) -> Callable[[], Awaitable[JobInstance | None]]:
        from airflow_provider_schedulerx.rpc.windows import WindowSearch

        search = WindowSearch(self.job_id, self.window)
        return lambda: client.find_in_window(search, deadline=self.deadline)
