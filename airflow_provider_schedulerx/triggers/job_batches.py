"""One poll a round for all the triggers of a process that wait on one job (one connection,
namespace and group): the account's API quota, not the triggerer's CPU, is what limits how
many tasks can wait (a thousand mapped tasks on one job would otherwise be a thousand
pollers of the same job's instances).

Each trigger polls once on its own, which tells it the schedule times it needs: those of its
instance (an instance trigger), or those its window's instances are scheduled at (a job
sensor's window trigger). From then on it waits for the job's next round: one paged
``GetJobInstanceList`` over the schedule times of every trigger waiting (pages of
:data:`~airflow_provider_schedulerx.rpc.actions.MAX_PAGE_SIZE`, newest first, until every
instance waited on and every window has been seen, or the pages end) answers all of them.
What a round does not show (an instance not on its pages, a window older than the pages
reached) is polled on its own, and an instance that has ended is read once more with
``GetJobInstance``, so that the trigger's event carries all of it. A round for one instance
alone is that instance's ``GetJobInstance``: no list, and no read after it. Rounds come every poll
interval (the shortest of the triggers waiting). A round that fails fails the poll of every
trigger waiting for it, as its own poll would have.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_schedulerx.rpc.actions import MAX_PAGE_SIZE, get_job_instance, job_instance_page

if TYPE_CHECKING:
    from airflow_provider_schedulerx.client import AsyncSchedulerXClient
    from airflow_provider_schedulerx.models import JobInstance

__all__ = ["MAX_ROUND_PAGES", "SCHEDULE_MARGIN_MS", "JobBatch", "Listing", "Member", "batch_of"]

#: Schedule times are read to the second: an instance's span reaches this far either side.
SCHEDULE_MARGIN_MS = 1000
#: Pages of one round at the most, beyond those the instances waited on fill.
MAX_ROUND_PAGES = 10

BatchKey = tuple[Any, ...]


def schedule_ms(instance: JobInstance) -> int | None:
    at = instance.schedule_time
    return None if at is None else int(at.timestamp() * 1000)


@dataclass(frozen=True)
class Member:
    """A trigger waiting in a batch: the schedule times it needs listed, ``[start, end)`` in
    epoch ms, its poll interval, and the instance it waits on (none for a window)."""

    start: int
    end: int
    interval: float
    instance_id: int | None = None


@dataclass
class Listing:
    """What a round listed: the job's instances newest first, every one scheduled from
    ``complete_from`` (epoch ms) up to the round's end among them."""

    items: list[JobInstance]
    complete_from: int
    #: The items are whole instances (``GetJobInstance``'s), not a list's.
    whole: bool = False
    _by_id: dict[int, JobInstance] | None = field(default=None, repr=False)

    def instance(self, instance_id: int) -> JobInstance | None:
        if self._by_id is None:
            self._by_id = {item.instance_id: item for item in self.items}
        return self._by_id.get(instance_id)

    def within(self, start: int, end: int) -> list[JobInstance] | None:
        """The instances scheduled in ``[start, end)``, or ``None`` if the round did not
        reach back to ``start``."""
        if start < self.complete_from:
            return None
        return [item for item in self.items if start <= (schedule_ms(item) or -1) < end]


class JobBatch:
    """The triggers of one event loop waiting on one job, and their rounds.

    :param key: what identifies the batch (loop, connection, namespace, group, job).
    :param job_id: the job.
    """

    def __init__(self, key: BatchKey, job_id: int) -> None:
        self.key = key
        self.job_id = job_id
        self.members: dict[int, Member] = {}
        self.rounds = 0
        self.list_calls = 0
        self._next: asyncio.Future[Listing] | None = None
        self._last_round_at: float | None = None
        self._running: asyncio.Future[None] | None = None

    @property
    def interval(self) -> float:
        return min(member.interval for member in self.members.values())

    def join(self, key: int, member: Member) -> None:
        self.members[key] = member

    def leave(self, key: int) -> None:
        self.members.pop(key, None)
        if not self.members:
            _batches.pop(self.key, None)

    async def next_round(self, client: AsyncSchedulerXClient) -> Listing:
        """What the next round listed (it starts one interval after the last one started,
        or at once if that has passed)."""
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

    async def _round(self, client: AsyncSchedulerXClient, result: asyncio.Future[Listing]) -> None:
        from airflow_provider_schedulerx.exceptions import SchedulerXError

        self._last_round_at = asyncio.get_running_loop().time()
        self.rounds += 1
        try:
            listing = await self._list(client)
        except SchedulerXError as error:
            if not result.done():
                result.set_exception(error)
            return
        if not result.done():
            result.set_result(listing)

    async def _list(self, client: AsyncSchedulerXClient) -> Listing:
        members = list(self.members.values())
        if not members:
            return Listing([], 0)
        start, end = min(m.start for m in members), max(m.end for m in members)
        wanted = {m.instance_id for m in members if m.instance_id is not None}
        if len(members) == 1 and wanted:
            # One instance alone: its own poll, which reads all of it, is the round.
            (instance_id,) = wanted
            self.list_calls += 1
            return Listing([await client.run(get_job_instance(self.job_id, instance_id))], end, whole=True)
        windows_from = min((m.start for m in members if m.instance_id is None), default=end)
        items: list[JobInstance] = []
        oldest: int | None = None
        for page in range(1, MAX_ROUND_PAGES + len(wanted) // MAX_PAGE_SIZE + 1):
            call = job_instance_page(self.job_id, start=start, end=end, page=page, page_size=MAX_PAGE_SIZE)
            self.list_calls += 1
            page_items = await client.run(call)
            items += page_items
            wanted -= {item.instance_id for item in page_items}
            if len(page_items) < MAX_PAGE_SIZE:
                return Listing(items, start)
            oldest = schedule_ms(page_items[-1])
            if oldest is None:
                break
            if not wanted and oldest < windows_from:
                return Listing(items, oldest + 1)
        return Listing(items, end if oldest is None else oldest + 1)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """A round's error is read even when every trigger waiting for it was cancelled."""
    if not future.cancelled():
        future.exception()


_batches: dict[BatchKey, JobBatch] = {}


def batch_of(conn_id: str, namespace: str | None, group_id: str | None, job_id: int) -> JobBatch:
    """The batch of the running loop's triggers that wait on ``job_id``."""
    key = (id(asyncio.get_running_loop()), conn_id, namespace, group_id, job_id)
    batch = _batches.get(key)
    if batch is None:
        batch = _batches[key] = JobBatch(key, job_id)
    return batch
