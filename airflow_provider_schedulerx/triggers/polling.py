"""The wait that every SchedulerX trigger of a task runs in the triggerer's event loop: poll
until an instance reaches a final status, or until an absolute deadline, on the same waiting
policy as a sensor or operator polling from a worker
(:mod:`~airflow_provider_schedulerx.utils.waiting`).

All triggers of a triggerer process share one pooled ``aiohttp`` session; the connection is
read without blocking the event loop. Transient errors are retried by the client and then
ridden out here, up to ``MAX_FAILED_POLLS`` failed polls in a row; other errors end the wait
at once. No poll outlives the deadline. The status is logged when it changes, and every 5
minutes while it stays the same. Polls fall on a grid of the loop's clock
(:mod:`~airflow_provider_schedulerx.triggers.poll_grid`) so that the triggers due together
share a wake-up of the event loop: the first poll at once, the next ones every
``poll_interval``, each late by at most the smaller of 1 s and a tenth of the interval.
"""

from __future__ import annotations

import asyncio
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_schedulerx.hooks.connection_form import DEFAULT_CONN_ID
from airflow_provider_schedulerx.triggers.poll_grid import poll_grid
from airflow_provider_schedulerx.utils.waiting import ErrorStreak, StatusLog, Verdict, WaitPolicy

if TYPE_CHECKING:
    from airflow_provider_schedulerx.client import AsyncSchedulerXClient
    from airflow_provider_schedulerx.triggers.job_batches import JobBatch, Listing

__all__ = ["EVENT_STATUS", "PollingTrigger"]

#: The event's ``status`` for each verdict that ends a wait.
EVENT_STATUS = {Verdict.SUCCESS: "success", Verdict.FAILURE: "failed", Verdict.UNLISTED: "unlisted"}


class PollingTrigger(BaseTrigger):
    """Polls what :meth:`poller` looks at until it is an instance with a final status.

    Events: ``{"status": "success" | "failed" | "unlisted" | "timeout" | "error", "job_id",
    "job_instance_id", "instance": <dict, redacted, or None>, "message", "retryable"}``
    (``workflow_id`` and ``workflow_instance_id`` for a workflow).

    :param job_id: the SchedulerX job (or workflow).
    :param schedulerx_conn_id: the Airflow connection.
    :param namespace: namespace, if not the connection's.
    :param group_id: application group, if not the connection's.
    :param poll_interval: seconds between polls.
    :param deadline: epoch seconds after which a ``timeout`` event is sent.
    :param success_statuses: status values that end the wait successfully.
    :param failure_statuses: status values that end the wait as failed (an empty list stays
        empty).
    :param failed_polls: failed polls in a row before the trigger took over (a sensor's
        first poke), counted on with the trigger's own.
    :param stream_logs: log the instance's new SchedulerX log lines as it runs
        (:mod:`~airflow_provider_schedulerx.utils.remote_logs`); the event says how many
        were shown (``log_lines_shown``).
    :param log_lines_shown: lines of the log the task showed before it deferred.
    """

    #: What the wait says while there is no instance to look at yet.
    NOTHING_YET = "not there yet"
    #: What is waited on (``job``, ``workflow``), and the keys of its ids in the kwargs and
    #: the event.
    noun = "job"
    owner_key = "job_id"
    instance_key = "job_instance_id"

    def __init__(
        self,
        job_id: int,
        *,
        schedulerx_conn_id: str = DEFAULT_CONN_ID,
        namespace: str | None = None,
        group_id: str | None = None,
        poll_interval: float = 10.0,
        deadline: float | None = None,
        success_statuses: Iterable[int] | None = None,
        failure_statuses: Iterable[int] | None = None,
        failed_polls: int = 0,
        stream_logs: bool = False,
        log_lines_shown: int = 0,
    ) -> None:
        super().__init__()
        self.job_id = int(job_id)
        self.schedulerx_conn_id = schedulerx_conn_id
        self.namespace = namespace
        self.group_id = group_id
        self.poll_interval = float(poll_interval)
        self.deadline = None if deadline is None else float(deadline)
        default = WaitPolicy()
        self.policy = WaitPolicy.from_numbers(
            default.success if success_statuses is None else success_statuses,
            default.failure if failure_statuses is None else failure_statuses,
        )
        self.failed_polls = int(failed_polls)
        self.stream_logs = bool(stream_logs)
        self.log_lines_shown = int(log_lines_shown)
        self._follower: Any = None
        self._over = False
        #: Whether the poller waits for the next poll itself (a job's rounds), so that the
        #: wait does not sleep between polls.
        self.paced = False
        #: The connection's ``poll_batching``, once the client is made.
        self.poll_batching = False
        self._batch: JobBatch | None = None
        #: What the last poll found, for a round the deadline cut short.
        self._last: Any = None

    # -- what a subclass says -------------------------------------------------------------

    @property
    @abstractmethod
    def what(self) -> str:
        """The instance waited on, as the log lines and messages name it."""

    @abstractmethod
    def poller(self, client: AsyncSchedulerXClient) -> Callable[[], Awaitable[Any]]:
        """One poll: the instance as it stands (a job or workflow instance), or ``None``
        while there is none."""

    @abstractmethod
    def own_kwargs(self) -> dict[str, Any]:
        """The subclass's own constructor arguments, to serialize."""

    def instance_id_of(self, instance: dict[str, Any] | None) -> int | None:
        return None if instance is None else int(instance["instance_id"])

    def seen(self, instance: Any) -> None:
        """Hears of every instance polled that has not ended the wait."""

    # -- the job's rounds (the connection's poll_batching) ---------------------------------

    def join_rounds(self, start_ms: int, end_ms: int, instance_id: int | None = None) -> None:
        """From now on, poll in the job's rounds
        (:mod:`~airflow_provider_schedulerx.triggers.job_batches`), which list the schedule
        times ``[start_ms, end_ms)`` for this trigger."""
        from airflow_provider_schedulerx.triggers.job_batches import Member, batch_of

        self._batch = batch_of(self.schedulerx_conn_id, self.namespace, self.group_id, self.job_id)
        self._batch.join(id(self), Member(start_ms, end_ms, self.poll_interval, instance_id))
        self.paced = True

    async def next_listing(self, client: AsyncSchedulerXClient) -> Listing | None:
        """What the job's next round listed; ``None`` if the deadline comes first."""
        assert self._batch is not None
        left = None if self.deadline is None else max(0.0, self.deadline - time.time())
        try:
            return await asyncio.wait_for(self._batch.next_round(client), left)
        except asyncio.TimeoutError:
            return None

    def done_polling(self) -> None:
        """The wait is over, however it ended: leave the job's rounds."""
        if self._batch is not None:
            self._batch.leave(id(self))
            self._batch = None

    # -- serializing ----------------------------------------------------------------------

    def serialize(self) -> tuple[str, dict[str, Any]]:
        success, failure = self.policy.numbers()
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                self.owner_key: self.job_id,
                **self.own_kwargs(),
                "schedulerx_conn_id": self.schedulerx_conn_id,
                "namespace": self.namespace,
                "group_id": self.group_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "success_statuses": success,
                "failure_statuses": failure,
                "failed_polls": self.failed_polls,
                "stream_logs": self.stream_logs,
                "log_lines_shown": self.log_lines_shown,
            },
        )

    # -- the wait -------------------------------------------------------------------------

    async def _follow_log(self, client: AsyncSchedulerXClient, instance: Any) -> None:
        """Log the job instance's new log lines (none for a workflow instance)."""
        from airflow_provider_schedulerx.exceptions import SchedulerXError
        from airflow_provider_schedulerx.utils.remote_logs import LogFollower

        job_id = getattr(instance, "job_id", None)
        if job_id is None:
            return
        if self._follower is None or self._follower.job_instance_id != instance.instance_id:
            self._follower = LogFollower(job_id, instance.instance_id, self.log_lines_shown)
        # In the job's rounds, a quiet log is looked at again only once the instance moves on.
        call = self._follower.next_call((instance.status, instance.progress), only_on_change=self.paced)
        if call is None:
            return
        try:
            lines = await client.run(call, deadline=self.deadline)
        except SchedulerXError as error:
            self.log.warning("Could not read the log of instance %d: %s", instance.instance_id, error)
            return
        self._follower.take(lines, self.log)

    def _event(
        self, status: str, message: str, instance: dict[str, Any] | None = None, *, retryable: bool = False
    ) -> dict[str, Any]:
        from airflow_provider_schedulerx.utils.tasks import redacted

        return {
            "status": status,
            self.owner_key: self.job_id,
            self.instance_key: self.instance_id_of(instance),
            "instance": None if instance is None else redacted(instance),
            "message": message,
            "retryable": retryable,
            "log_lines_shown": self._follower.shown if self._follower is not None else 0,
        }

    async def _client(self) -> AsyncSchedulerXClient:
        from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook

        hook = SchedulerXHook(self.schedulerx_conn_id, namespace=self.namespace, group_id=self.group_id)
        client = await hook.get_async_client()
        self.poll_batching = hook.settings.poll_batching
        return client

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_schedulerx.rpc.aio import session_in_use

        # The session is let go of before the event is yielded: a loop made for this
        # trigger alone (dag.test) may never resume the generator after it.
        async with session_in_use():
            try:
                event = await self._wait()
            finally:
                self.done_polling()
        self._over = True
        yield TriggerEvent(event)

    async def _wait(self) -> dict[str, Any]:
        from airflow_provider_schedulerx.exceptions import SchedulerXError

        try:
            client = await self._client()
            poll = self.poller(client)
        except SchedulerXError as error:
            return self._event("error", f"{self.what}: {error}", retryable=error.retryable)
        streak = ErrorStreak(self.failed_polls)
        last_status = None
        status_log = StatusLog(self.log, self.what)
        loop = asyncio.get_running_loop()
        due = loop.time()
        with poll_grid.polling(self.poll_interval):
            while True:
                if self.deadline is not None and time.time() >= self.deadline:
                    seen = f" (last seen {last_status.label})" if last_status is not None else ""
                    return self._event("timeout", f"{self.what} did not finish before the deadline{seen}")
                try:
                    instance = await poll()
                except SchedulerXError as error:
                    if not streak.tolerates(error, self.log):
                        return self._event("error", f"{self.what}: {error}", retryable=error.retryable)
                else:
                    streak.reset()
                    if instance is None:
                        status_log.update(self.NOTHING_YET, loop.time())
                    else:
                        verdict = self.policy.verdict(instance.status)
                        if verdict is not Verdict.WAIT:
                            result = f": {instance.result}" if instance.result else ""
                            return self._event(
                                EVENT_STATUS[verdict],
                                f"SchedulerX {self.noun} {self.job_id} instance {instance.instance_id} "
                                f"ended {instance.status.label}{result}",
                                instance.to_dict(),
                            )
                        last_status = instance.status
                        status_log.update(instance.status, loop.time())
                        self.seen(instance)
                        if self.stream_logs:
                            await self._follow_log(client, instance)
                    # Keep nothing of this poll through the sleep: thousands of replies held
                    # for an interval each would be promoted to the oldest GC generation, and
                    # lengthen every full collection of the triggerer.
                    del instance
                if self.paced:
                    continue
                loop_time = loop.time()
                due = poll_grid.next_poll_at(due, self.poll_interval, loop_time)
                if self.deadline is not None and self.deadline - time.time() < due - loop_time:
                    await asyncio.sleep(max(self.deadline - time.time(), 0.0))
                else:
                    await poll_grid.sleep_until(due)
