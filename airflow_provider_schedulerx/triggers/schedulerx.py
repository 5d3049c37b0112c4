"""Waiting on SchedulerX in the triggerer's event loop: on one job or workflow instance, on a job's
instance for a time window, and on a job's instances as they finish (for asset watchers,
defined in :mod:`~airflow_provider_schedulerx.triggers.events`)."""

from __future__ import annotations

import asyncio
import functools
import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger

from airflow_provider_schedulerx.triggers.events import SchedulerXJobEventTrigger
from airflow_provider_schedulerx.triggers.polling import PollingTrigger

if TYPE_CHECKING:
    from airflow_provider_schedulerx.client import AsyncSchedulerXClient
    from airflow_provider_schedulerx.models import JobInstance
    from airflow_provider_schedulerx.rpc.windows import WindowSearch

__all__ = [
    "SchedulerXJobEventTrigger",
    "SchedulerXJobInstanceTrigger",
    "SchedulerXJobWindowTrigger",
    "SchedulerXWorkflowInstanceTrigger",
]

#: Task instance states in which a trigger that Airflow cancels is not being killed by a
#: user: the triggerer is stopping or handing it over, or the task resumes from its event.
NOT_A_KILL = (None, "deferred", "success")


class _StartedInstanceTrigger(PollingTrigger):
    """A wait on an instance that the task may have started itself, and then stops when a
    user marks the deferred task failed or clears it.

    :param stop_on_kill: stop the instance when a user marks the deferred task failed or
        clears it (set for instances the task started itself); a task marked successful
        leaves it running.
    """

    def __init__(self, job_id: int, *, stop_on_kill: bool = False, **kwargs: Any) -> None:
        super().__init__(job_id, **kwargs)
        self.stop_on_kill = stop_on_kill

    @abstractmethod
    async def stop_remote(self, client: AsyncSchedulerXClient, deadline: float) -> bool:
        """Stop the instance unless it has ended; True if it was stopped."""

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
        from airflow_provider_schedulerx.rpc.aio import session_in_use

        async def stop() -> None:
            deadline = time.time() + STOP_WITHIN
            async with session_in_use():
                if await self.stop_remote(await self._client(), deadline):
                    self.log.info("Stopped %s (%s)", self.what, reason)

        try:
            await asyncio.shield(stop())
        except SchedulerXError as error:
            self.log.error("Could not stop %s: %s", self.what, error)


class SchedulerXJobInstanceTrigger(_StartedInstanceTrigger):
    """Polls ``GetJobInstance`` until the instance reaches a final status, or until an
    absolute deadline (:mod:`~airflow_provider_schedulerx.triggers.polling`).

    :param job_id: the SchedulerX job.
    :param job_instance_id: the instance to wait on.
    :param stop_on_kill: see :class:`_StartedInstanceTrigger`.
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
        super().__init__(job_id, stop_on_kill=stop_on_kill, **kwargs)
        self.job_instance_id = int(job_instance_id)

    def own_kwargs(self) -> dict[str, Any]:
        return {"job_instance_id": self.job_instance_id, "stop_on_kill": self.stop_on_kill}

    @property
    def what(self) -> str:
        return f"SchedulerX job {self.job_id} instance {self.job_instance_id}"

    def instance_id_of(self, instance: dict[str, Any] | None) -> int | None:
        return self.job_instance_id

    def poller(self, client: AsyncSchedulerXClient) -> Callable[[], Awaitable[JobInstance | None]]:
        from airflow_provider_schedulerx.rpc import actions

        own_poll = client.prepared(
            actions.get_job_instance(self.job_id, self.job_instance_id), deadline=self.deadline
        )
        if not self.poll_batching:
            return own_poll
        return functools.partial(self._batched_poll, client, own_poll)

    async def _batched_poll(
        self, client: AsyncSchedulerXClient, own_poll: Callable[[], Awaitable[JobInstance]]
    ) -> JobInstance:
        """The first poll on its own; then the job's rounds, and one more on its own for
        the instance that ended (or that a round did not show)."""
        from airflow_provider_schedulerx.triggers.job_batches import SCHEDULE_MARGIN_MS, schedule_ms

        if self._batch is None:
            instance = await own_poll()
            at = schedule_ms(instance)
            if at is not None and not instance.is_finished:
                self.join_rounds(at - SCHEDULE_MARGIN_MS, at + SCHEDULE_MARGIN_MS, self.job_instance_id)
            self._last = instance
            return instance
        listing = await self.next_listing(client)
        if listing is None:
            return self._last  # the deadline has come: the wait says so
        listed = listing.instance(self.job_instance_id)
        whole = listed is not None and (listing.whole or not listed.is_finished)
        self._last = listed if whole else await own_poll()
        return self._last

    async def stop_remote(self, client: AsyncSchedulerXClient, deadline: float) -> bool:
        from airflow_provider_schedulerx.rpc import actions

        instance = await client.run(
            actions.get_job_instance(self.job_id, self.job_instance_id), deadline=deadline
        )
        if instance.is_finished:
            return False
        await client.run(actions.stop_instance(self.job_id, self.job_instance_id), deadline=deadline)
        return True


class SchedulerXWorkflowInstanceTrigger(_StartedInstanceTrigger):
    """Polls ``GetWorkflowInstance`` until the workflow instance succeeds or fails, or until
    an absolute deadline, logging each node whose status changed. Stopping it (on a kill)
    stops every node still running.

    :param workflow_id: the SchedulerX workflow.
    :param workflow_instance_id: the workflow instance to wait on.
    :param stop_on_kill: see :class:`_StartedInstanceTrigger`.

    The other arguments are :class:`~airflow_provider_schedulerx.triggers.polling.PollingTrigger`'s
    (its success and failure statuses are workflow statuses: 4 success, 5 failed).
    """

    noun = "workflow"
    owner_key = "workflow_id"
    instance_key = "workflow_instance_id"

    def __init__(
        self, workflow_id: int, workflow_instance_id: int, *, stop_on_kill: bool = False, **kwargs: Any
    ) -> None:
        from airflow_provider_schedulerx.utils.waiting import NodeLog

        kwargs.setdefault("success_statuses", [4])
        kwargs.setdefault("failure_statuses", [5])
        super().__init__(workflow_id, stop_on_kill=stop_on_kill, **kwargs)
        self.workflow_instance_id = int(workflow_instance_id)
        self._nodes = NodeLog(self.log)

    def own_kwargs(self) -> dict[str, Any]:
        return {"workflow_instance_id": self.workflow_instance_id, "stop_on_kill": self.stop_on_kill}

    @property
    def what(self) -> str:
        return f"SchedulerX workflow {self.job_id} instance {self.workflow_instance_id}"

    def instance_id_of(self, instance: dict[str, Any] | None) -> int | None:
        return self.workflow_instance_id

    def seen(self, instance: Any) -> None:
        self._nodes.update(instance)

    def poller(self, client: AsyncSchedulerXClient) -> Callable[[], Awaitable[Any]]:
        from airflow_provider_schedulerx.rpc import workflows

        call = workflows.get_workflow_instance(self.job_id, self.workflow_instance_id)
        return client.prepared(call, deadline=self.deadline)

    async def stop_remote(self, client: AsyncSchedulerXClient, deadline: float) -> bool:
        from airflow_provider_schedulerx.exceptions import SchedulerXBusinessError
        from airflow_provider_schedulerx.rpc import actions, workflows

        instance = await client.run(
            workflows.get_workflow_instance(self.job_id, self.workflow_instance_id), deadline=deadline
        )
        stopped = False
        for node in instance.running_nodes():
            assert node.job_instance_id is not None
            try:
                await client.run(actions.stop_instance(node.job_id, node.job_instance_id), deadline=deadline)
            except SchedulerXBusinessError:  # it ended meanwhile
                continue
            self.log.info("Stopped %s", node.describe())
            stopped = True
        return stopped


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

        def own_poll() -> Awaitable[JobInstance | None]:
            return client.find_in_window(search, deadline=self.deadline)

        if not self.poll_batching:
            return own_poll
        return functools.partial(self._batched_poll, client, search, own_poll)

    async def _batched_poll(
        self,
        client: AsyncSchedulerXClient,
        search: WindowSearch,
        own_poll: Callable[[], Awaitable[JobInstance | None]],
    ) -> JobInstance | None:
        """The first poll on its own (it reads the job's data offset); then the job's
        rounds, and a search of its own when a round did not reach back to the window."""
        if self._batch is None:
            found = await own_poll()
            span = search.listing_span()
            if span is not None and (found is None or not found.is_finished):
                self.join_rounds(*span)
            self._last = found
            return found
        listing = await self.next_listing(client)
        if listing is None:
            return self._last
        span = search.listing_span()
        listed = None if span is None else listing.within(*span)
        self._last = await own_poll() if listed is None else self.window.newest(listed)
        return self._last
