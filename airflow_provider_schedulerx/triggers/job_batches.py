"""One poll a round for all the triggers of a process that wait on instances of one job (one
connection, namespace and group): the account's API quota, not the triggerer's CPU, is
what limits how many tasks can wait (a thousand mapped tasks on one job would otherwise be
a thousand pollers of the same job's instances).

A trigger's first poll is a ``GetJobInstance`` of its own, which tells the instance's
schedule time. From then on it waits for the job's next round: one paged
``GetJobInstanceList`` over the schedule times of every instance the process waits on
(pages of :data:`~airflow_provider_schedulerx.rpc.actions.MAX_PAGE_SIZE`, newest first,
until every instance waited on was seen or the pages end) answers all of them. An
instance no page shows is polled with a ``GetJobInstance`` of its own, and an instance
that has ended is read once more with one, so that the trigger's event carries all of it.
Rounds come every poll interval (the shortest of the triggers waiting). A round that fails
fails the poll of every trigger waiting for it, as its own poll would have.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow_provider_schedulerx.rpc.actions import MAX_PAGE_SIZE, job_instance_page

if TYPE_CHECKING:
    from airflow_provider_schedulerx.client import AsyncSchedulerXClient
    from airflow_provider_schedulerx.models import JobInstance

__all__ = ["SCHEDULE_MARGIN_MS", "JobBatch", "batch_of"]

#: Schedule times are read to the second: the window of a round reaches this far past the
#: earliest and the latest of them.
SCHEDULE_MARGIN_MS = 1000

BatchKey = tuple[Any, ...]


class JobBatch:
    """The instances of one job waited on in one event loop, and their rounds.

    :param key: what identifies the batch (loop, connection, namespace, group, job).
    :param job_id: the job.
    """

    def __init__(self, key: BatchKey, job_id: int) -> None:
        self.key = key
        self.job_id = job_id
        #: Instance id: (schedule time in epoch ms, poll interval).
        self.members: dict[int, tuple[int, float]] = {}
        self.rounds = 0
        self.list_calls = 0
        self._next: asyncio.Future[dict[int, JobInstance]] | None = None
        self._last_round_at: float | None = None
        self._running: asyncio.Future[None] | None = None

    @property
    def interval(self) -> float:
        return min(interval for _, interval in self.members.values())

    def join(self, instance_id: int, schedule_ms: int, interval: float) -> None:
        self.members[instance_id] = (schedule_ms, interval)

    def leave(self, instance_id: int) -> None:
        self.members.pop(instance_id, None)
        if not self.members:
            _batches.pop(self.key, None)

    async def next_round(self, client: AsyncSchedulerXClient) -> dict[int, JobInstance]:
        """The instances the next round found, by id (it starts one interval after the
        last one started, or at once if that has passed)."""
        if self._next is None:
            loop = asyncio.get_running_loop()
            self._next = loop.create_future()
            self._next.add_done_callback(_retrieve)
            last = self._last_round_at
            delay = 0.0 if last is None else max(0.0, last + self.interval - loop.time())
            loop.call_later(delay, self._start, client)
        return await asyncio.shield(self._next)

    def _start(self, client: AsyncSchedulerXClient) -> None:
        """The round's time has come: the triggers asking from now on wait for the next one."""
        result, self._next = self._next, None
        if result is not None:
            self._running = asyncio.ensure_future(self._round(client, result))

    async def _round(self, client: AsyncSchedulerXClient, result: asyncio.Future[dict[int, Any]]) -> None:
        from airflow_provider_schedulerx.exceptions import SchedulerXError

        self._last_round_at = asyncio.get_running_loop().time()
        self.rounds += 1
        try:
            found = await self._list(client)
        except SchedulerXError as error:
            if not result.done():
                result.set_exception(error)
            return
        if not result.done():
            result.set_result(found)

    async def _list(self, client: AsyncSchedulerXClient) -> dict[int, JobInstance]:
        if not self.members:
            return {}
        wanted = set(self.members)
        times = [schedule_ms for schedule_ms, _ in self.members.values()]
        start, end = min(times) - SCHEDULE_MARGIN_MS, max(times) + SCHEDULE_MARGIN_MS
        found: dict[int, JobInstance] = {}
        page = 1
        while True:
            call = job_instance_page(self.job_id, start=start, end=end, page=page, page_size=MAX_PAGE_SIZE)
            self.list_calls += 1
            items = await client.run(call)
            found.update((item.instance_id, item) for item in items if item.instance_id in wanted)
            if len(items) < MAX_PAGE_SIZE or wanted <= found.keys():
                return found
            page += 1


def _retrieve(future: asyncio.Future[Any]) -> None:
    """A round's error is read even when every trigger waiting for it was cancelled."""
    if not future.cancelled():
        future.exception()


_batches: dict[BatchKey, JobBatch] = {}


def batch_of(conn_id: str, namespace: str | None, group_id: str | None, job_id: int) -> JobBatch:
    """The batch of the running loop's triggers that wait on instances of ``job_id``."""
    key = (id(asyncio.get_running_loop()), conn_id, namespace, group_id, job_id)
    batch = _batches.get(key)
    if batch is None:
        batch = _batches[key] = JobBatch(key, job_id)
    return batch
