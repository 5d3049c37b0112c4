"""Waiting on a SchedulerX job instance in the triggerer's event loop."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_schedulerx.hooks.connection_form import DEFAULT_CONN_ID
from airflow_provider_schedulerx.statuses import FAILURE_STATUSES, SUCCESS_STATUSES
from airflow_provider_schedulerx.triggers.poll_grid import poll_grid

if TYPE_CHECKING:
    from airflow_provider_schedulerx.models import InstanceStatus

__all__ = ["SchedulerXJobInstanceTrigger", "StatusLog"]

#: While the status stays the same, it is logged again after this many seconds, not on
#: every poll: a log line costs a triggerer about as much as a poll, and thousands of
#: waiting triggers would otherwise write hundreds of identical lines a second between them.
STILL_WAITING_LOG_SECONDS = 300.0


class StatusLog:
    """Logs an instance's status when it changes, and again every
    ``STILL_WAITING_LOG_SECONDS`` while it stays the same, with how long it has.

    :param log: the trigger's logger.
    :param what: the instance, as the lines name it.
    """

    __slots__ = ("_log", "_logged_at", "_since", "_status", "_what")

    def __init__(self, log: Any, what: str) -> None:
        self._log = log
        self._what = what
        self._status: InstanceStatus | None = None
        self._since = self._logged_at = 0.0

    def update(self, status: InstanceStatus, now: float) -> None:
        """Note the status seen at ``now`` (seconds of a monotonic clock)."""
        if status != self._status:
            self._log.info("%s is %s", self._what, status.label)
            self._status, self._since, self._logged_at = status, now, now
        elif now - self._logged_at >= STILL_WAITING_LOG_SECONDS:
            minutes = round((now - self._since) / 60)
            self._log.info("%s is still %s, for %d min now", self._what, status.label, minutes)
            self._logged_at = now


class SchedulerXJobInstanceTrigger(BaseTrigger):
    """Polls ``GetJobInstance`` until the instance reaches a success or failure status, or
    until an absolute deadline.

    All triggers of a triggerer process share one pooled ``aiohttp`` session; the connection
    is read without blocking the event loop. Transient errors (throttling, 5xx, dropped
    connections) are retried by the client and then ridden out here, up to
    ``max_consecutive_errors`` failed polls in a row; other errors end the wait at once.
    The status is logged when it changes, and every 5 minutes while it stays the same. Polls
    fall on a grid of the loop's clock (:mod:`~airflow_provider_schedulerx.triggers.poll_grid`)
    so that the triggers due together share a wake-up of the event loop: the first poll at
    once, the next ones every ``poll_interval``, each late by at most the smaller of 1 s and
    a tenth of the interval.

    Events: ``{"status": "success" | "failed" | "timeout" | "error", "job_id", "job_instance_id",
    "instance": <dict or None>, "message"}``.

    :param job_id: the SchedulerX job.
    :param job_instance_id: the instance to wait on.
    :param schedulerx_conn_id: the Airflow connection.
    :param namespace: namespace, if not the connection's.
    :param group_id: application group, if not the connection's.
    :param poll_interval: seconds between polls.
    :param deadline: epoch seconds after which a ``timeout`` event is sent.
    :param success_statuses: status values that end the wait successfully.
    :param failure_statuses: status values that end the wait as failed.
    :param stop_on_kill: stop the instance when a user kills the deferred task (set for
        instances the task started itself).
    :param max_consecutive_errors: failed polls in a row before giving up.
    """

    def __init__(
        self,
        job_id: int,
        job_instance_id: int,
        *,
        schedulerx_conn_id: str = DEFAULT_CONN_ID,
        namespace: str | None = None,
        group_id: str | None = None,
        poll_interval: float = 10.0,
        deadline: float | None = None,
        success_statuses: Iterable[int] | None = None,
        failure_statuses: Iterable[int] | None = None,
        stop_on_kill: bool = False,
        max_consecutive_errors: int = 10,
    ) -> None:
        super().__init__()
        self.job_id = int(job_id)
        self.job_instance_id = int(job_instance_id)
        self.schedulerx_conn_id = schedulerx_conn_id
        self.namespace = namespace
        self.group_id = group_id
        self.poll_interval = float(poll_interval)
        self.deadline = None if deadline is None else float(deadline)
        self.success_statuses = sorted(int(s) for s in (success_statuses or SUCCESS_STATUSES))
        self.failure_statuses = sorted(int(s) for s in (failure_statuses or FAILURE_STATUSES))
        self.stop_on_kill = stop_on_kill
        self.max_consecutive_errors = max_consecutive_errors

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "job_instance_id": self.job_instance_id,
                "schedulerx_conn_id": self.schedulerx_conn_id,
                "namespace": self.namespace,
                "group_id": self.group_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "success_statuses": self.success_statuses,
                "failure_statuses": self.failure_statuses,
                "stop_on_kill": self.stop_on_kill,
                "max_consecutive_errors": self.max_consecutive_errors,
            },
        )

    def _event(self, status: str, message: str, instance: dict[str, Any] | None = None) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": status,
                "job_id": self.job_id,
                "job_instance_id": self.job_instance_id,
                "instance": instance,
                "message": message,
            }
        )

    async def _client(self) -> Any:
        from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook

        hook = SchedulerXHook(self.schedulerx_conn_id, namespace=self.namespace, group_id=self.group_id)
        return await hook.get_async_client()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_schedulerx.exceptions import SchedulerXError

        what = f"SchedulerX job {self.job_id} instance {self.job_instance_id}"
        try:
            client = await self._client()
        except SchedulerXError as error:
            yield self._event("error", f"{what}: {error}")
            return
        from airflow_provider_schedulerx.rpc import actions

        poll = client.prepared(
            actions.get_job_instance(self.job_id, self.job_instance_id), deadline=self.deadline
        )
        errors = 0
        last_status = None
        status_log = StatusLog(self.log, what)
        loop = asyncio.get_running_loop()
        due = loop.time()
        with poll_grid.polling(self.poll_interval):
            while True:
                if self.deadline is not None and time.time() >= self.deadline:
                    seen = f" (last seen {last_status.label})" if last_status is not None else ""
                    yield self._event("timeout", f"{what} did not finish before the deadline{seen}")
                    return
                try:
                    instance = await poll()
                    errors = 0
                except SchedulerXError as error:
                    errors += 1
                    if not error.retryable or errors >= self.max_consecutive_errors:
                        yield self._event("error", f"{what}: {error}")
                        return
                    self.log.warning("%s: poll failed (%s); polling on", what, error)
                else:
                    if instance.status in self.success_statuses:
                        yield self._event("success", f"{what} succeeded", instance.to_dict())
                        return
                    if instance.status in self.failure_statuses:
                        yield self._event(
                            "failed",
                            f"{what} ended {instance.status.label}: {instance.result or ''}",
                            instance.to_dict(),
                        )
                        return
                    last_status = instance.status
                    status_log.update(instance.status, loop.time())
                    # Keep nothing of this poll through the sleep: thousands of replies held
                    # for an interval each would be promoted to the oldest GC generation, and
                    # lengthen every full collection of the triggerer.
                    del instance
                loop_time = loop.time()
                due = poll_grid.next_poll_at(due, self.poll_interval, loop_time)
                remaining = math.inf if self.deadline is None else self.deadline - time.time()
                if remaining < due - loop_time:
                    await asyncio.sleep(max(remaining, 0.0))
                else:
                    await poll_grid.sleep_until(due)

    async def on_kill(self) -> None:
        """A user killed the deferred task: stop the instance if this task started it."""
        if not self.stop_on_kill:
            return
        client = await self._client()
        instance = await client.get_job_instance(self.job_id, self.job_instance_id)
        if not instance.is_finished:
            await client.stop_instance(self.job_id, self.job_instance_id)
            self.log.info("Stopped SchedulerX job %s instance %s", self.job_id, self.job_instance_id)
