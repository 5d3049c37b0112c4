"""N triggers polling in one event loop, as in a triggerer process; prints its
measurements as JSON.

Control lines go to the original stdout (``ready``, ``window-start``, ``window-end``, then
the JSON); the triggers' own log lines are formatted as usual and written to /dev/null.

    python -m benchmarks.triggerer_child --impl provider --count 1000 --plan plan.json
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import psutil

from airflow_provider_schedulerx.triggers.poll_grid import poll_grid
from benchmarks.stats import percentile

LAG_SAMPLE_SECONDS = 0.02
#: The CPU window lasts long enough for this many polls: at small N, a short one would
#: hold too few for a steady figure.
MIN_WINDOW_POLLS = 500
IDLE_SECONDS = 2.0
TEAR_DOWN_SECONDS = 30.0


def control_channel() -> IO[str]:
    """Keep stdout for control lines and send everything else written there to /dev/null."""
    control = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return control


def cpu_window_seconds(window: float, interval: float, count: int) -> float:
    """How long the CPU window of ``count`` triggers polling every ``interval`` seconds
    lasts: at least ``window``, and long enough for ``MIN_WINDOW_POLLS`` polls."""
    return max(window, MIN_WINDOW_POLLS * interval / count)


@dataclass
class GarbageCollections:
    """Collections of the oldest generation while watched, and how long each took."""

    full: list[float] = field(default_factory=list)
    young: int = 0
    _started: float = 0.0

    def watch(self) -> None:
        gc.callbacks.append(self._on_collection)

    def clear(self) -> None:
        self.full.clear()
        self.young = 0

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif info["generation"] == 2:
            self.full.append(time.perf_counter() - self._started)
        else:
            self.young += 1


@dataclass
class Fleet:
    """The triggers of one run and their counters."""

    triggers: list[Any]
    polls: Callable[[], int]
    started: Callable[[], int]


@dataclass
class LoopLag:
    """How late the event loop wakes a sleeper, sampled every ``LAG_SAMPLE_SECONDS``."""

    samples: list[float] = field(default_factory=list)

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(LAG_SAMPLE_SECONDS)
            self.samples.append(loop.time() - started - LAG_SAMPLE_SECONDS)


def _provider_triggers(
    plan: dict[str, Any], interval: float, conn_ids: dict[str, str] | None = None
) -> Fleet:
    """The provider's triggers on the plan's connections, or on those ``conn_ids`` maps
    them to."""
    from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobInstanceTrigger

    clients: list[Any] = []

    class CountedTrigger(SchedulerXJobInstanceTrigger):
        """The provider's trigger, unchanged, with its client kept for its call count (its
        polls, and the ``GetLog`` calls of a log that brings nothing, fewer and fewer)."""

        async def _client(self) -> Any:
            client = await super()._client()
            clients.append(client)
            return client

    conn_ids = conn_ids or {}
    triggers = [
        CountedTrigger(
            plan["job_id"],
            instance_id,
            schedulerx_conn_id=conn_ids.get(conn_id, conn_id),
            poll_interval=interval,
            # As a task defers it: following the instance's log (which stays empty here).
            stream_logs=True,
        )
        for conn_id, instance_id in plan["assignments"]
    ]
    return Fleet(triggers, lambda: sum(client.stats.calls for client in clients), lambda: len(clients))


def _batched_triggers(plan: dict[str, Any], interval: float) -> Fleet:
    """The provider's triggers on connections with ``poll_batching``: one poll a round per job."""
    return _provider_triggers(plan, interval, plan["batched_conn_ids"])


def _no_grid_triggers(plan: dict[str, Any], interval: float) -> Fleet:
    """The provider's per-instance triggers sleeping plainly instead of on the poll grid."""
    from benchmarks.plain_sleeps import replace_the_grid

    replace_the_grid()
    return _provider_triggers(plan, interval)


def _job_batches(plan: dict[str, Any]) -> list[Any]:
    """The job batches of the batched triggers of this loop, one per connection."""
    from airflow_provider_schedulerx.triggers.job_batches import batch_of

    conn_ids = sorted({plan["batched_conn_ids"][conn_id] for conn_id, _ in plan["assignments"]})
    return [batch_of(conn_id, None, None, plan["job_id"]) for conn_id in conn_ids]


async def _after_next_round(batch: Any, give_up_after: float) -> None:
    """Return once the batch's next round has started."""
    rounds, loop = batch.rounds, asyncio.get_running_loop()
    give_up = loop.time() + give_up_after
    while batch.rounds == rounds and loop.time() < give_up:  # noqa: ASYNC110 - a plain counter
        await asyncio.sleep(0.01)


def _counted_polls_triggers(plan: dict[str, Any], interval: float, trigger_class: type[Any]) -> Fleet:
    urls = plan["urls"]
    triggers = [
        trigger_class(urls[conn_id], plan["job_id"], instance_id, poll_interval=interval)
        for conn_id, instance_id in plan["assignments"]
    ]
    return Fleet(
        triggers,
        lambda: sum(trigger.polls for trigger in triggers),
        lambda: sum(1 for trigger in triggers if trigger.polls),
    )


def _sdk_triggers(plan: dict[str, Any], interval: float) -> Fleet:
    from benchmarks.sdk_trigger import OfficialSdkJobInstanceTrigger

    return _counted_polls_triggers(plan, interval, OfficialSdkJobInstanceTrigger)


def _floor_triggers(plan: dict[str, Any], interval: float) -> Fleet:
    from benchmarks.floor_trigger import AiohttpFloorTrigger

    return _counted_polls_triggers(plan, interval, AiohttpFloorTrigger)


FLEETS = {
    "provider": _provider_triggers,
    "batched": _batched_triggers,
    "nogrid": _no_grid_triggers,
    "sdk": _sdk_triggers,
    "floor": _floor_triggers,
}


async def _drive(trigger: Any, delay: float, events: list[Any]) -> None:
    await asyncio.sleep(delay)
    async for event in trigger.run():
        events.append(event.payload)


def _open_connections(ports: set[int]) -> int:
    return sum(
        1
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.status == psutil.CONN_ESTABLISHED and conn.raddr and conn.raddr.port in ports
    )


async def measure(args: argparse.Namespace, plan: dict[str, Any], control: IO[str]) -> None:
    plan["assignments"] = plan["assignments"][: args.count]
    make = FLEETS[args.impl]
    fleet = make(plan, args.interval)
    process = psutil.Process()
    ports = {int(url.rsplit(":", 1)[1]) for url in plan["urls"].values()}
    loop = asyncio.get_running_loop()

    # A first trigger, polled once and dropped, so that every lazy import is done before
    # the memory and idle CPU are taken.
    warm = make({**plan, "assignments": plan["assignments"][:1]}, args.interval)
    warm_task = asyncio.create_task(_drive(warm.triggers[0], 0, []))
    await asyncio.sleep(1.0)
    warm_task.cancel()
    gc.collect()
    # What one wake-up of the idle loop costs: the lag probe's, before any trigger runs.
    lag = LoopLag()
    watcher = asyncio.create_task(lag.watch())
    idle_cpu, idle_wall = time.process_time(), time.perf_counter()
    await asyncio.sleep(IDLE_SECONDS)
    idle_rate = (time.process_time() - idle_cpu) / (time.perf_counter() - idle_wall)
    watcher.cancel()
    rss_before, tracked_before = process.memory_info().rss, len(gc.get_objects())

    # Triggers deferred over one poll interval, as tasks defer at different moments; the
    # windows open an interval after every one of them has polled, once those that started
    # while the grid was still coarse (few triggers polling) have spread out over it.
    events: list[Any] = []
    count = len(fleet.triggers)
    tasks = [
        asyncio.create_task(_drive(trigger, args.interval * index / count, events))
        for index, trigger in enumerate(fleet.triggers)
    ]
    await asyncio.sleep(args.interval)
    give_up = loop.time() + max(60.0, 3 * args.interval)
    while fleet.started() < count and loop.time() < give_up:  # noqa: ASYNC110 - plain counters
        await asyncio.sleep(0.2)
    await asyncio.sleep(args.interval)
    rss_after, tracked_after = process.memory_info().rss, len(gc.get_objects())

    # The CPU window: nothing in the loop but the triggers. It starts after a full collection,
    # so that the triggers' own start-up (every object they keep, promoted to the oldest
    # generation at once) does not set off one inside it; and it spans whole ticks of the
    # poll grid, from halfway between two of them, so that no tick's polls count twice or
    # not at all. Batched triggers poll in their job's rounds, one an interval: their window
    # spans whole intervals, from halfway between two rounds.
    gc.collect()
    batches = _job_batches(plan) if args.impl == "batched" else []
    if batches:
        await _after_next_round(batches[0], give_up_after=2 * args.interval)
        await asyncio.sleep(args.interval / 2)
        spacing = args.interval
    else:
        spacing = poll_grid.spacing(args.interval)
        await asyncio.sleep((math.floor(loop.time() / spacing) + 1.5) * spacing - loop.time())
    collections = GarbageCollections()
    collections.watch()
    control.write("window-start\n")
    rounds_before, list_calls_before = _round_counts(batches)
    polls, cpu, wall = fleet.polls(), time.process_time(), time.perf_counter()
    window = cpu_window_seconds(args.window, args.interval, count)
    await asyncio.sleep(math.ceil(window / spacing) * spacing)
    polls, cpu, wall = fleet.polls() - polls, time.process_time() - cpu, time.perf_counter() - wall
    rounds, list_calls = _round_counts(batches)
    rounds, list_calls = rounds - rounds_before, list_calls - list_calls_before
    gc.callbacks.clear()
    control.write("window-end\n")
    open_connections = _open_connections(ports)

    # The lag window: as long again, with the probe waking the loop as a sleeper would.
    watcher = asyncio.create_task(lag.watch())
    lag.samples.clear()
    await asyncio.sleep(args.window)
    lag_samples = list(lag.samples)

    failures = [
        task.exception() for task in tasks if task.done() and not task.cancelled() and task.exception()
    ]
    result = {
        "impl": args.impl,
        "count": count,
        "started": fleet.started(),
        "interval": args.interval,
        "polls": polls,
        "job_batches": len(batches),
        "rounds": rounds,
        "list_calls": list_calls,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "idle_core_share": idle_rate,
        "lag_samples": len(lag_samples),
        "lag_p50_ms": percentile(lag_samples, 0.50) * 1000,
        "lag_p99_ms": percentile(lag_samples, 0.99) * 1000,
        "lag_max_ms": max(lag_samples, default=float("nan")) * 1000,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "tracked_objects_per_trigger": (tracked_after - tracked_before) / count,
        "full_collections": len(collections.full),
        "longest_full_collection_ms": max(collections.full, default=0.0) * 1000,
        "young_collections": collections.young,
        "open_connections": open_connections,
        "ended_early": len(events) + len(failures),
        "first_failure": repr(failures[0]) if failures else (events[0] if events else None),
    }
    control.write(json.dumps(result) + "\n")
    control.flush()
    await _tear_down([*tasks, watcher], args.impl)


def _round_counts(batches: list[Any]) -> tuple[int, int]:
    """Rounds and ``GetJobInstanceList`` calls of the job batches so far."""
    return sum(batch.rounds for batch in batches), sum(batch.list_calls for batch in batches)


async def _tear_down(tasks: list[asyncio.Task[Any]], impl: str) -> None:
    """Cancel the triggers; one that does not stop is shown, and the process ends anyway
    (its figures are out already)."""
    for task in tasks:
        task.cancel()
    _, stuck = await asyncio.wait(tasks, timeout=TEAR_DOWN_SECONDS)
    if stuck:
        print(f"{len(stuck)} tasks did not stop when cancelled, the first one:", file=sys.stderr)
        next(iter(stuck)).print_stack(file=sys.stderr)
        sys.stderr.flush()
        os._exit(0)
    await _close_shared_session(impl)


async def _close_shared_session(impl: str) -> None:
    if impl != "sdk":
        from airflow_provider_schedulerx.rpc.aio import close_shared_session

        await close_shared_session()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", choices=sorted(FLEETS), required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--interval", type=float, required=True)
    parser.add_argument("--window", type=float, required=True)
    parser.add_argument("--plan", required=True, help="JSON: urls, job_id, assignments, batched_conn_ids")
    args = parser.parse_args()
    with open(args.plan, encoding="utf-8") as file:
        plan = json.load(file)
    asyncio.run(measure(args, plan, control_channel()))


if __name__ == "__main__":
    main()
