"""Benchmark 3, triggerer scale: for each N, the provider's trigger (polling each instance,
polling in the job's rounds, and without the poll grid) and the official-SDK baseline each
run N triggers in a fresh process (``triggerer_child``) against the same emulator processes,
whose CPU, accepted connections and calls are taken over the same window; then the parity
phase (:mod:`benchmarks.parity`)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import parity, targets
from benchmarks.emulators import BENCH_JOB_ID, EmulatorFleet, FleetMeter, FleetUsage
from benchmarks.environment import PYTHON, REPO, child_env, connection_json
from benchmarks.stats import median, ratio
from benchmarks.triggerer_child import LAG_SAMPLE_SECONDS, cpu_window_seconds

#: The provider's trigger polling each instance (``provider``), the same trigger without
#: the poll grid (``nogrid``, at the grid's trial counts only), the same trigger polling in
#: its job's rounds (``batched``), the official SDK's (the baseline), and the floor: the
#: same loop with only aiohttp and signing in it.
IMPLEMENTATIONS = ("provider", "nogrid", "batched", "sdk", "floor")
#: Beyond the run's own time: start-up, connection lookups, tear-down.
CHILD_SPARE_SECONDS = 240.0


@dataclass(frozen=True)
class TriggererRun:
    """One implementation at one N: the child's own figures and the emulators' side."""

    impl: str
    count: int
    interval: float
    child: dict[str, Any]
    emulators: FleetUsage

    @property
    def polls_per_second(self) -> float:
        return self.child["polls"] / self.child["wall_seconds"]

    @property
    def expected_polls_per_second(self) -> float:
        return self.count / self.interval

    @property
    def core_share(self) -> float:
        """The process's CPU over the window, as a share of one core."""
        return self.child["cpu_seconds"] / self.child["wall_seconds"]

    @property
    def cpu_per_poll_us(self) -> float:
        """The process's CPU over the window (nothing but the triggers ran) per poll."""
        polls = self.child["polls"]
        return self.child["cpu_seconds"] / polls * 1e6 if polls else float("nan")

    @property
    def idle_wakeup_us(self) -> float:
        """CPU of one wake-up of the idle loop: the lag probe's, measured before the
        triggers start."""
        return float(self.child["idle_core_share"]) * LAG_SAMPLE_SECONDS * 1e6

    @property
    def memory_per_trigger_kib(self) -> float:
        return (self.child["rss_after"] - self.child["rss_before"]) / self.count / 1024

    @property
    def calls_per_tick(self) -> float:
        """API calls per poll interval over the window (each trigger's poll, the job
        batches' pages and the reads of instances a page did not show)."""
        return self.polls_per_second * self.interval

    @property
    def lag_p50_ms(self) -> float:
        return float(self.child["lag_p50_ms"])

    @property
    def lag_p99_ms(self) -> float:
        return float(self.child["lag_p99_ms"])


@dataclass(frozen=True)
class TriggererResults:
    runs: list[TriggererRun]
    emulator_processes: int
    window_seconds: float
    rounds: int = 1
    #: For each N, the provider's CPU per poll over the official SDK's: the median of the
    #: ratios within a round, where the two ran back to back.
    cpu_ratios: dict[int, float] = field(default_factory=dict)
    #: Each implementation's runs at each N, one a round, before they were merged.
    samples: dict[tuple[str, int], list[TriggererRun]] = field(default_factory=dict)
    #: For each N, the instances waited on per job batch (one per emulator).
    batch_sizes: dict[int, list[int]] = field(default_factory=dict)
    parity: parity.ParityResults | None = None

    def get(self, impl: str, count: int) -> TriggererRun:
        return next(run for run in self.runs if run.impl == impl and run.count == count)

    def has(self, impl: str, count: int) -> bool:
        return any(run.impl == impl and run.count == count for run in self.runs)

    def paired_ratio(
        self, impl: str, baseline: str, count: int, measure: Callable[[TriggererRun], float]
    ) -> float:
        """``measure`` of ``impl`` over that of ``baseline`` at N = ``count``: the median of
        the ratios within a round, where the two ran one after the other."""
        pairs = zip(self.samples[(impl, count)], self.samples[(baseline, count)])
        return median([ratio(measure(mine), measure(theirs)) for mine, theirs in pairs])

    @property
    def counts(self) -> list[int]:
        return sorted({run.count for run in self.runs})

    def counts_of(self, impl: str) -> list[int]:
        return sorted({run.count for run in self.runs if run.impl == impl})

    @property
    def idle_wakeup_us(self) -> float:
        """CPU of one wake-up of an idle event loop, median over the runs."""
        return median([run.idle_wakeup_us for run in self.runs])


def implementations_at(count: int, impls: Sequence[str], grid_trial_counts: Sequence[int]) -> list[str]:
    """What runs at N = ``count``, of ``impls``: the grid's trial only at its counts."""
    return [impl for impl in impls if impl != "nogrid" or count in grid_trial_counts]


def run(
    counts: list[int],
    interval: float,
    window: float,
    emulators: int,
    rounds: int = 1,
    impls: Sequence[str] = IMPLEMENTATIONS,
    grid_trial_counts: Sequence[int] = targets.GRID_TRIAL_COUNTS,
    parity_count: int | None = None,
) -> TriggererResults:
    """Each N: ``rounds`` runs of each implementation, in the order AB BA AB..., merged by
    median; then, with ``batched`` among them, the parity phase on ``parity_count`` instances."""
    with EmulatorFleet(emulators) as fleet:
        conn_ids = [f"schedulerx_bench_{index}" for index in range(emulators)]
        batched_conn_ids = [f"schedulerx_bench_batched_{index}" for index in range(emulators)]
        per_emulator = -(-max(counts) // emulators)
        instance_ids = fleet.start_instances(per_emulator)
        # Newest first: the first N are the newest instances of the job, so that a job
        # batch's round, which pages newest first, finds them before the older ones that the
        # larger N wait on (all of them started within the same second).
        plan = {
            "job_id": BENCH_JOB_ID,
            "urls": dict(zip(conn_ids, fleet.urls)),
            "batched_conn_ids": dict(zip(conn_ids, batched_conn_ids)),
            "assignments": [
                [conn_ids[index % emulators], instance_ids[index % emulators][-1 - index // emulators]]
                for index in range(max(counts))
            ],
        }
        # The per-instance arms poll each instance on its own, as the official SDK does;
        # the batched arm polls the same instances in their job's rounds.
        env = {
            f"AIRFLOW_CONN_{conn_id.upper()}": connection_json(
                url, max_calls_per_second=0, poll_batching=batched
            )
            for ids, batched in ((conn_ids, False), (batched_conn_ids, True))
            for conn_id, url in zip(ids, fleet.urls)
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
            json.dump(plan, file)
        plan_file = Path(file.name)
        runs: list[TriggererRun] = []
        samples: dict[tuple[str, int], list[TriggererRun]] = {}
        try:
            for count in counts:
                here = implementations_at(count, impls, grid_trial_counts)
                for round_ in range(rounds):
                    for impl in here if round_ % 2 == 0 else here[::-1]:
                        samples.setdefault((impl, count), []).append(
                            _run_child(fleet, plan_file, impl, count, interval, window, env)
                        )
                runs += [_merge(samples[(impl, count)]) for impl in here]
        finally:
            plan_file.unlink(missing_ok=True)
        ending = None
        if "batched" in impls:
            print(
                f"   parity: {parity_count or max(counts)} instances ending while both kinds wait", flush=True
            )
            ending = parity.run(fleet, parity_count or max(counts), interval)
    results = TriggererResults(
        runs=runs,
        emulator_processes=emulators,
        window_seconds=window,
        rounds=rounds,
        samples=samples,
        batch_sizes={
            count: [len(range(index, count, emulators)) for index in range(min(emulators, count))]
            for count in counts
        },
        parity=ending,
    )
    cpu_ratios = {
        count: results.paired_ratio("provider", "sdk", count, lambda run: run.cpu_per_poll_us)
        for count in counts
        if results.has("provider", count) and results.has("sdk", count)
    }
    return dataclasses.replace(results, cpu_ratios=cpu_ratios)


def _merge(runs: list[TriggererRun]) -> TriggererRun:
    """One run's figures from several: medians of the child's numbers; the emulators'
    work added up."""
    first = runs[0]
    child = dict(first.child)
    for key, value in first.child.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            child[key] = median([run.child[key] for run in runs])
    usages = [run.emulators for run in runs]
    emulators = FleetUsage(
        wall_seconds=sum(usage.wall_seconds for usage in usages),
        cpu_seconds=[sum(cpu) for cpu in zip(*(usage.cpu_seconds for usage in usages))],
        connections_accepted=sum(usage.connections_accepted for usage in usages),
        connections_open=max(usage.connections_open for usage in usages),
        get_job_instance_calls=sum(usage.get_job_instance_calls for usage in usages),
        calls={
            action: sum(usage.calls.get(action, 0) for usage in usages)
            for action in {action for usage in usages for action in usage.calls}
        },
        throttled=sum(usage.throttled for usage in usages),
    )
    return TriggererRun(first.impl, first.count, first.interval, child, emulators)


def _run_child(
    fleet: EmulatorFleet,
    plan_file: Path,
    impl: str,
    count: int,
    interval: float,
    window: float,
    env: dict[str, str],
) -> TriggererRun:
    command = [
        PYTHON,
        "-m",
        "benchmarks.triggerer_child",
        f"--impl={impl}",
        f"--count={count}",
        f"--interval={interval}",
        f"--window={window}",
        f"--plan={plan_file}",
    ]
    meter = FleetMeter(fleet)
    usage: FleetUsage | None = None
    child: dict[str, Any] | None = None
    with subprocess.Popen(
        command, cwd=REPO, env=child_env(**env), stdout=subprocess.PIPE, text=True
    ) as process:
        # A run that hangs is ended, so that the suite always stops by itself.
        run_seconds = 4 * interval + window + cpu_window_seconds(window, interval, count)
        watchdog = threading.Timer(run_seconds + CHILD_SPARE_SECONDS, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if line == "window-start\n":
                    meter.start()
                elif line == "window-end\n":
                    usage = meter.stop()
                elif line.startswith("{"):
                    child = json.loads(line)
        finally:
            watchdog.cancel()
        if process.wait() != 0 or usage is None or child is None:
            raise RuntimeError(f"{' '.join(command)} failed (exit {process.returncode})")
    return TriggererRun(impl=impl, count=count, interval=interval, child=child, emulators=usage)
