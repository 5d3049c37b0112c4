"""Scheduling DAGs on SchedulerX events: a trigger for Airflow 3's asset watchers that yields
one event for each instance of a job that finished with one of the watched statuses.

The watch lists the job's newest instances every ``poll_interval``, from a horizon that
follows the oldest instance still unfinished, so that a poll costs one call however long
the job's history. Each trigger keeps what it has sent (the instance ids, and when its
watch began) in the asset state store of Airflow 3.3, so that a triggerer restart sends no
instance twice and misses none that finished meanwhile (within :data:`LOOKBACK_SECONDS`).
Before 3.3 the same is kept in memory: a restart may send an instance again that finished
in the last day, or none that finished while no triggerer ran.

Where Airflow shares streams (3.3), the assets that watch the same job through the same
connection share one poll; each trigger filters it by its own statuses and state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Hashable, Iterable
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_schedulerx.hooks.connection_form import DEFAULT_CONN_ID

try:
    from airflow.triggers.base import BaseEventTrigger
except ImportError:  # Airflow 2: no asset watchers; the class still imports
    from airflow.triggers.base import BaseTrigger as BaseEventTrigger  # type: ignore[assignment]

if TYPE_CHECKING:
    from airflow_provider_schedulerx.client import AsyncSchedulerXClient
    from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
    from airflow_provider_schedulerx.models import JobInstance

__all__ = ["LOOKBACK_SECONDS", "SchedulerXJobEventTrigger"]

log = logging.getLogger(__name__)

#: How far before the watch's start (or a restart) the first poll looks for instances.
LOOKBACK_SECONDS = 86400.0
#: Where a trigger keeps its state in the asset state store.
STATE_KEY = "schedulerx.watch"
#: Pages of one poll at the most (100 instances a page, newest first).
MAX_WATCH_PAGES = 5
#: The longest wait between polls while SchedulerX keeps failing.
MAX_BACKOFF_SECONDS = 600.0


class SchedulerXJobEventTrigger(BaseEventTrigger):
    """Watches a SchedulerX job for an ``AssetWatcher``: one event per instance that reached
    one of ``statuses`` since the watch began.

    .. code-block:: python

        from airflow.sdk import DAG, Asset, AssetWatcher

        nightly_export = Asset(
            "schedulerx://cn-hangzhou/my-namespace/my.group/1234",
            watchers=[
                AssetWatcher(name="nightly_export", trigger=SchedulerXJobEventTrigger(job_id=1234))
            ],
        )
        with DAG(dag_id="load_the_export", schedule=[nightly_export]): ...

    Event payload: ``job_id``, ``job_instance_id``, ``status`` (the name, ``"success"``),
    ``schedule_time`` and ``data_time`` (ISO 8601), ``result`` and ``console_url``.
    A transient error never ends the watch: it backs off (up to 10 minutes) and polls on;
    so does an error a retry cannot fix, logged as such, until the connection is fixed.

    :param job_id: the SchedulerX job.
    :param job_name: the job's name instead of its id (looked up when the watch starts).
    :param statuses: the final statuses that send an event (names or numbers; default
        ``["success"]``).
    :param poll_interval: seconds between polls (default 60).
    :param schedulerx_conn_id: the Airflow connection.
    :param namespace: namespace, if not the connection's.
    :param group_id: application group, if not the connection's.
    """

    def __init__(
        self,
        job_id: int | None = None,
        job_name: str | None = None,
        statuses: Iterable[int | str] = ("success",),
        poll_interval: float = 60.0,
        schedulerx_conn_id: str = DEFAULT_CONN_ID,
        namespace: str | None = None,
        group_id: str | None = None,
    ) -> None:
        from airflow_provider_schedulerx.config import validate_id, validate_name
        from airflow_provider_schedulerx.exceptions import SchedulerXConfigError
        from airflow_provider_schedulerx.statuses import FINISHED_STATUSES, InstanceStatus, parse_statuses
        from airflow_provider_schedulerx.utils.waiting import check_poll_interval

        super().__init__()
        if (job_id is None) == (job_name is None):
            raise SchedulerXConfigError("job_id or job_name: give one of the two")
        self.job_id = None if job_id is None else validate_id(job_id, "job_id")
        self.job_name = None if job_name is None else validate_name(job_name, "job_name")
        try:
            watched = parse_statuses(statuses, "statuses")
        except ValueError as error:
            raise SchedulerXConfigError(str(error)) from None
        ending = FINISHED_STATUSES | {InstanceStatus.KILLED, InstanceStatus.REJECTED}
        if not watched or not watched <= ending:
            names = ", ".join(sorted(s.label for s in ending))
            raise SchedulerXConfigError(f"statuses: give final statuses ({names})")
        self.statuses = sorted(int(status) for status in watched)
        self.poll_interval = check_poll_interval(poll_interval)
        self.schedulerx_conn_id = schedulerx_conn_id
        self.namespace = validate_name(namespace, "namespace", required=False)
        self.group_id = validate_name(group_id, "group_id", required=False)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_schedulerx.triggers.schedulerx.SchedulerXJobEventTrigger",
            {
                "job_id": self.job_id,
                "job_name": self.job_name,
                "statuses": self.statuses,
                "poll_interval": self.poll_interval,
                "schedulerx_conn_id": self.schedulerx_conn_id,
                "namespace": self.namespace,
                "group_id": self.group_id,
            },
        )

    # -- the shared poll --------------------------------------------------------------

    def shared_stream_key(self) -> Hashable | None:
        """Assets watching one job through one connection, at one interval, share a poll."""
        return (
            self.schedulerx_conn_id,
            self.namespace,
            self.group_id,
            self.job_id,
            self.job_name,
            self.poll_interval,
        )

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        """Every final instance of the job as the polls find it (each once in the stream's
        life), as an event payload with its ``status`` number and ``end_time`` added;
        forever."""
        from airflow_provider_schedulerx.rpc.aio import session_in_use

        watch = _Watch(cls(**kwargs))
        async with session_in_use():
            while True:
                for payload in await watch.poll():
                    yield payload
                await asyncio.sleep(watch.next_wait())

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        """This trigger's events of the stream: its statuses, finished since its watch
        began, not sent before."""
        state = await _SentState.load(self)
        async for payload in shared_stream:
            if payload["status_code"] not in self.statuses or payload["end_time"] < state.since:
                continue
            if not await state.first_time(payload):
                continue
            event = {k: v for k, v in payload.items() if k not in ("status_code", "end_time")}
            self.log.info(
                "SchedulerX job %s instance %s ended %s",
                event["job_id"],
                event["job_instance_id"],
                event["status"],
            )
            yield TriggerEvent(event)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Where Airflow does not share streams: this trigger's own poll, filtered alike."""
        async for event in self.filter_shared_stream(type(self).open_shared_stream(self.serialize()[1])):
            yield event


class _Watch:
    """One poll loop of a job's instances: the horizon, the instances already passed on,
    and the back-off while SchedulerX fails."""

    def __init__(self, trigger: SchedulerXJobEventTrigger) -> None:
        self.trigger = trigger
        self.job_id = trigger.job_id
        self.horizon_ms = int((time.time() - LOOKBACK_SECONDS) * 1000)
        self.passed: dict[int, int] = {}  # instance id: schedule time (ms)
        self.failures = 0
        self._client: AsyncSchedulerXClient | None = None
        self.hook: SchedulerXHook | None = None

    def next_wait(self) -> float:
        if not self.failures:
            return self.trigger.poll_interval
        return min(self.trigger.poll_interval * 2 ** min(self.failures, 10), MAX_BACKOFF_SECONDS)

    async def poll(self) -> list[dict[str, Any]]:
        from airflow_provider_schedulerx.exceptions import SchedulerXError

        try:
            found = await self._finished_instances()
        except SchedulerXError as error:
            self.failures += 1
            what = self.trigger.job_name if self.job_id is None else self.job_id
            level = logging.WARNING if error.retryable else logging.ERROR
            self.trigger.log.log(
                level, "Watching SchedulerX job %s: %s; polling again in %.1fs", what, error, self.next_wait()
            )
            return []
        self.failures = 0
        return found

    async def _finished_instances(self) -> list[dict[str, Any]]:
        from airflow_provider_schedulerx.rpc.actions import MAX_PAGE_SIZE, job_instance_page

        client = await self._connect()
        assert self.job_id is not None
        unfinished: list[int] = []
        newest = self.horizon_ms
        found = []
        for page in range(1, MAX_WATCH_PAGES + 1):
            items = await client.run(
                job_instance_page(self.job_id, start=self.horizon_ms, page=page, page_size=MAX_PAGE_SIZE)
            )
            for instance in items:
                scheduled = _millis(instance.schedule_time) or self.horizon_ms
                newest = max(newest, scheduled)
                if not instance.is_finished:
                    unfinished.append(scheduled)
                elif instance.instance_id not in self.passed:
                    self.passed[instance.instance_id] = scheduled
                    found.append(self._payload(instance))
            if len(items) < MAX_PAGE_SIZE:
                break
        self.horizon_ms = min(unfinished) if unfinished else newest
        self.passed = {i: at for i, at in self.passed.items() if at >= self.horizon_ms}
        return sorted(found, key=lambda payload: payload["end_time"])

    async def _connect(self) -> AsyncSchedulerXClient:
        from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook

        if self._client is None:
            trigger = self.trigger
            hook = SchedulerXHook(
                trigger.schedulerx_conn_id, namespace=trigger.namespace, group_id=trigger.group_id
            )
            client = await hook.get_async_client()
            if self.job_id is None:
                self.job_id = await client.find_job(str(trigger.job_name))
                trigger.log.info("Watching SchedulerX job %r, job %d", trigger.job_name, self.job_id)
            self.hook = hook
            self._client = client
        return self._client

    def _hook(self) -> SchedulerXHook:
        if self.hook is None:
            raise RuntimeError("the watch has not connected yet")
        return self.hook

    def _payload(self, instance: JobInstance) -> dict[str, Any]:
        from airflow_provider_schedulerx.utils.tasks import redacted

        def iso(value: Any) -> str | None:
            return None if value is None else value.isoformat()

        return redacted(
            {
                "job_id": instance.job_id or self.job_id,
                "job_instance_id": instance.instance_id,
                "status": instance.status.label,
                "schedule_time": iso(instance.schedule_time),
                "data_time": iso(instance.data_time),
                "result": instance.result,
                "console_url": self._hook().job_console_url(
                    instance.job_id or self.job_id, instance.instance_id, namespace=self.trigger.namespace
                ),
                "status_code": int(instance.status),
                "end_time": (_millis(instance.end_time) or int(time.time() * 1000)) / 1000,
            }
        )


class _SentState:
    """When a trigger's watch began, and the instances it sent: in the asset state store
    where Airflow has one for it (3.3, one watched asset), else in memory."""

    def __init__(self, store: Any, since: float, sent: dict[str, float]) -> None:
        self.store = store
        self.since = since
        self.sent = sent

    @classmethod
    async def load(cls, trigger: SchedulerXJobEventTrigger) -> _SentState:
        store = getattr(trigger, "asset_state_store", None)
        saved: Any = None
        if store is not None:
            try:
                saved = await store.aget(STATE_KEY)
            except ValueError:  # several assets share the trigger: no single place to keep it
                trigger.log.warning("The watch is kept in memory: several assets share this trigger")
                store = None
        if isinstance(saved, dict) and isinstance(saved.get("since"), (int, float)):
            sent = {str(k): float(v) for k, v in dict(saved.get("sent") or {}).items()}
            return cls(store, float(saved["since"]), sent)
        state = cls(store, time.time(), {})
        await state.save()
        return state

    async def first_time(self, payload: dict[str, Any]) -> bool:
        """Whether the instance was not sent before; if so, it is noted as sent (and saved)
        before its event goes out, so that a restart does not send it again."""
        key = str(payload["job_instance_id"])
        if key in self.sent:
            return False
        self.sent[key] = float(payload["end_time"])
        oldest = time.time() - 2 * LOOKBACK_SECONDS
        self.sent = {k: at for k, at in self.sent.items() if at >= oldest}
        await self.save()
        return True

    async def save(self) -> None:
        if self.store is not None:
            await self.store.aset(STATE_KEY, {"since": self.since, "sent": self.sent})


def _millis(value: Any) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)
