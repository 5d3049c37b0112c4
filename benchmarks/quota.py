"""Benchmark 4, the account's limit: N deferred tasks, each on a job of its own, against one
emulator whose flow control lets ``limit`` calls a second through per AccessKey, the
provider's triggers polling every ``interval`` seconds in one fresh process
(``waits_child``). Two runs on the same emulator, each on fresh instances that all run for
the same time: one with the connection's call budget at the limit, one without a budget.
For each: the replies the emulator throttled, the tasks that completed, those that failed
(an error event, or none by the end of the run), and how long after its instance ended each
completion came."""

from __future__ import annotations

import time
from dataclasses import dataclass

from benchmarks import targets
from benchmarks.emulators import EmulatorFleet, FleetMeter
from benchmarks.environment import connection_json
from benchmarks.stats import percentile
from benchmarks.waits import Assignment, Event, run_waits

#: The quota jobs' ids: QUOTA_JOB_BASE, QUOTA_JOB_BASE + 1, ...
QUOTA_JOB_BASE = 100_000
#: The two runs: their names and the connection's ``max_calls_per_second`` (None: the limit).
RUNS = {"budget": None, "no budget": 0.0}


@dataclass(frozen=True)
class QuotaRun:
    """One run: what the tasks got, and what the emulator saw."""

    name: str
    budget: float
    count: int
    events: list[Event | None]
    ends: list[float]
    #: Epoch seconds when the instances started.
    started_at: float
    throttled: int
    calls: dict[str, int]
    wall_seconds: float
    retries: int
    client_errors: dict[str, int]
    #: The emulator's CPU over the run, as a share of one core.
    emulator_core_share: float

    @property
    def completed(self) -> int:
        return sum(1 for event in self.events if event is not None and event.status == "success")

    @property
    def error_events(self) -> int:
        return sum(1 for event in self.events if event is not None and event.status != "success")

    @property
    def throttling_events(self) -> int:
        """Error events that a throttling reply caused."""
        return sum(
            1
            for event in self.events
            if event is not None and event.status != "success" and "throttl" in event.message.lower()
        )

    @property
    def unfinished(self) -> int:
        return sum(1 for event in self.events if event is None)

    @property
    def failed(self) -> int:
        """Tasks that failed: an error event, or none by the end of the run."""
        return self.count - self.completed

    @property
    def delays(self) -> list[float]:
        """Seconds from each completed instance's end to its trigger's event."""
        return [
            event.at - ends_at
            for event, ends_at in zip(self.events, self.ends)
            if event is not None and event.status == "success"
        ]

    def delay(self, share: float) -> float:
        return percentile(self.delays, share)

    @property
    def max_delay(self) -> float:
        return max(self.delays, default=float("nan"))

    @property
    def last_event_seconds(self) -> float:
        """Seconds from the start of the instances to the last event."""
        return max((event.at for event in self.events if event is not None), default=self.started_at) - (
            self.started_at
        )

    @property
    def accepted_calls_per_second(self) -> float:
        return (sum(self.calls.values()) - self.throttled) / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def first_error(self) -> str | None:
        return next(
            (event.message for event in self.events if event is not None and event.status != "success"), None
        )


@dataclass(frozen=True)
class QuotaResults:
    count: int
    limit: float
    interval: float
    run_seconds: float
    spare_seconds: float
    #: The connections' ``poll_batching`` (``None``: their default).
    poll_batching: bool | None
    runs: dict[str, QuotaRun]

    @property
    def line_seconds(self) -> float:
        """N / budget: how long every task's poll takes to pass through the budget once."""
        return self.count / self.limit


def quota_jobs(count: int, run_seconds: float) -> list[dict[str, object]]:
    """Jobs-file entries of ``count`` jobs whose instances start at once and run
    ``run_seconds``."""
    return [
        {
            "job_id": QUOTA_JOB_BASE + index,
            "name": f"benchmark-quota-{index}",
            "wait_seconds": 0.0,
            "run_seconds": run_seconds,
            "outcome": "success",
        }
        for index in range(count)
    ]


def run(
    count: int = targets.QUOTA_COUNT,
    limit: float = targets.QUOTA_LIMIT,
    interval: float = targets.QUOTA_INTERVAL,
    run_seconds: float = targets.QUOTA_RUN_SECONDS,
    spare_seconds: float = targets.QUOTA_SPARE_SECONDS,
    poll_batching: bool | None = None,
) -> QuotaResults:
    """Both runs, each stopped ``spare_seconds`` after its last instance ended; the
    connections' ``poll_batching`` is their default unless given."""
    runs = {}
    with EmulatorFleet(1, extra_jobs=quota_jobs(count, run_seconds), rate_limit=limit) as fleet:
        for name, budget in RUNS.items():
            runs[name] = _run_once(
                fleet,
                name,
                limit if budget is None else budget,
                count,
                interval,
                run_seconds,
                spare_seconds,
                poll_batching,
            )
    return QuotaResults(count, limit, interval, run_seconds, spare_seconds, poll_batching, runs)


def _run_once(
    fleet: EmulatorFleet,
    name: str,
    budget: float,
    count: int,
    interval: float,
    run_seconds: float,
    spare_seconds: float,
    poll_batching: bool | None,
) -> QuotaRun:
    conn_id = f"schedulerx_quota_{name.replace(' ', '_')}"
    extra: dict[str, object] = {"max_calls_per_second": budget}
    if poll_batching is not None:
        extra["poll_batching"] = poll_batching
    env = {f"AIRFLOW_CONN_{conn_id.upper()}": connection_json(fleet.urls[0], **extra)}
    ends: list[float] = []
    started_at: list[float] = []
    meter = FleetMeter(fleet)

    def start() -> tuple[list[Assignment], float]:
        fleet.reset_flow_control()
        meter.start()
        started_at.append(time.time())
        jobs = [QUOTA_JOB_BASE + index for index in range(count)]
        started = fleet.run_instances(0, [(job_id, run_seconds, "success") for job_id in jobs])
        ends.extend(ends_at for _, ends_at in started)
        assignments = [(conn_id, job_id, instance_id) for job_id, (instance_id, _) in zip(jobs, started)]
        return assignments, max(ends) + spare_seconds

    print(f"   {name}: {count} tasks, budget {budget:g} calls/s", flush=True)
    waits = run_waits(interval, env, start, run_seconds + spare_seconds + 2 * interval)
    usage = meter.stop()
    return QuotaRun(
        name=name,
        budget=budget,
        count=count,
        events=waits.events,
        ends=ends,
        started_at=started_at[0],
        throttled=usage.throttled,
        calls=usage.calls,
        wall_seconds=usage.wall_seconds,
        retries=sum(waits.retries.values()),
        client_errors=waits.errors,
        emulator_core_share=usage.busiest_core_share,
    )
