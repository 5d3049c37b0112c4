"""Benchmark 3, triggerer scale: for each N, the provider's trigger and the official-SDK
baseline each run N triggers in a fresh process (``triggerer_child``) against the same
emulator processes, whose CPU and accepted connections are taken over the same window."""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.emulators import BENCH_JOB_ID, EmulatorFleet, FleetMeter, FleetUsage
from benchmarks.environment import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    GROUP_ID,
    NAMESPACE,
    PYTHON,
    REGION_ID,
    REPO,
    child_env,
)
from benchmarks.stats import median
from benchmarks.triggerer_child import LAG_SAMPLE_SECONDS, cpu_window_seconds

#: The provider's trigger, the official SDK's (the baseline), and the floor: the same loop
#: with only aiohttp and signing in it.
IMPLEMENTATIONS = ("provider", "sdk", "floor")
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

    def get(self, impl: str, count: int) -> TriggererRun:
        return next(run for run in self.runs if run.impl == impl and run.count == count)

    @property
    def counts(self) -> list[int]:
        return sorted({run.count for run in self.runs})

    @property
    def idle_wakeup_us(self) -> float:
        """CPU of one wake-up of an idle event loop, median over the runs."""
        return median([run.idle_wakeup_us for run in self.runs])


def run(
    counts: list[int], interval: float, window: float, emulators: int, rounds: int = 1
) -> TriggererResults:
    """Each N: ``rounds`` runs of each client, in the order AB BA AB..., merged by median."""
    with EmulatorFleet(emulators) as fleet:
        conn_ids = [f"schedulerx_bench_{index}" for index in range(emulators)]
        per_emulator = -(-max(counts) // emulators)
        instance_ids = fleet.start_instances(per_emulator)
        plan = {
            "job_id": BENCH_JOB_ID,
            "urls": dict(zip(conn_ids, fleet.urls)),
            "assignments": [
                [conn_ids[index % emulators], instance_ids[index % emulators][index // emulators]]
                for index in range(max(counts))
            ],
        }
        env = {
            f"AIRFLOW_CONN_{conn_id.upper()}": _connection_json(url)
            for conn_id, url in zip(conn_ids, fleet.urls)
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
            json.dump(plan, file)
        plan_file = Path(file.name)
        runs = []
        cpu_ratios = {}
        try:
            for count in counts:
                samples: dict[str, list[TriggererRun]] = {impl: [] for impl in IMPLEMENTATIONS}
                for round_ in range(rounds):
                    order = IMPLEMENTATIONS if round_ % 2 == 0 else IMPLEMENTATIONS[::-1]
                    for impl in order:
                        samples[impl].append(_run_child(fleet, plan_file, impl, count, interval, window, env))
                runs += [_merge(samples[impl]) for impl in IMPLEMENTATIONS]
                cpu_ratios[count] = median(
                    [
                        provider.cpu_per_poll_us / sdk.cpu_per_poll_us
                        for provider, sdk in zip(samples["provider"], samples["sdk"])
                    ]
                )
        finally:
            plan_file.unlink(missing_ok=True)
    return TriggererResults(
        runs=runs, emulator_processes=emulators, window_seconds=window, rounds=rounds, cpu_ratios=cpu_ratios
    )


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
    )
    return TriggererRun(first.impl, first.count, first.interval, child, emulators)


def _connection_json(url: str) -> str:
    return json.dumps(
        {
            "conn_type": "schedulerx",
            "login": ACCESS_KEY_ID,
            "password": ACCESS_KEY_SECRET,
            "host": url,
            "extra": {
                "namespace": NAMESPACE,
                "group_id": GROUP_ID,
                "region_id": REGION_ID,
                "max_calls_per_second": 0,
            },
        }
    )


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
