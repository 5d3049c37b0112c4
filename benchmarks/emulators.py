"""Emulator processes for the benchmarks, with their CPU time, the connections they accepted
and the calls they answered or throttled, so that a report can show the emulator was not the
bottleneck and that clients reuse their connections."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from benchmarks.environment import PYTHON, REPO, child_env

#: The job every benchmark polls: its instances start at once and run for a day.
BENCH_JOB_ID = 900
_JOBS = {
    "jobs": [
        {
            "job_id": BENCH_JOB_ID,
            "name": "benchmark-long-running",
            "wait_seconds": 0.0,
            "run_seconds": 86400,
            "outcome": "success",
        }
    ]
}


@dataclass(frozen=True)
class EmulatorSnapshot:
    """One emulator's counters at a moment."""

    cpu_seconds: float
    connections_accepted: int
    connections_open: int
    calls: dict[str, int]
    throttled: int = 0

    def get_job_instance_calls(self) -> int:
        return self.calls.get("GetJobInstance", 0)


@dataclass(frozen=True)
class FleetUsage:
    """What the emulators did between two snapshots."""

    wall_seconds: float
    cpu_seconds: list[float]
    connections_accepted: int
    connections_open: int
    get_job_instance_calls: int
    #: Calls by action, throttled ones included.
    calls: dict[str, int] = field(default_factory=dict)
    #: Calls the emulators' flow control refused.
    throttled: int = 0

    @property
    def busiest_core_share(self) -> float:
        """CPU of the busiest emulator process, as a share of one core."""
        return max(self.cpu_seconds) / self.wall_seconds if self.wall_seconds else 0.0


class EmulatorFleet:
    """``count`` emulator processes on loopback ports, all knowing the benchmark job.

    :param count: emulator processes.
    :param extra_jobs: jobs-file entries of more jobs they all know.
    :param rate_limit: the emulators' flow control, calls per second per AccessKey
        (``None``: no limit).
    """

    def __init__(
        self, count: int = 1, extra_jobs: Sequence[dict[str, Any]] = (), rate_limit: float | None = None
    ) -> None:
        self.count = count
        self.extra_jobs = list(extra_jobs)
        self.rate_limit = rate_limit
        self._processes: list[subprocess.Popen[str]] = []
        self.urls: list[str] = []
        self._jobs_file = Path(tempfile.mkstemp(prefix="schedulerx-bench-jobs-", suffix=".json")[1])

    def __enter__(self) -> EmulatorFleet:
        jobs = {"jobs": [*_JOBS["jobs"], *self.extra_jobs]}
        self._jobs_file.write_text(json.dumps(jobs), encoding="utf-8")
        command = [PYTHON, "-m", "benchmarks.emulator_process", "--jobs", str(self._jobs_file)]
        if self.rate_limit is not None:
            command += ["--rate-limit", f"{self.rate_limit:g}"]
        for _ in range(self.count):
            process = subprocess.Popen(
                command,
                cwd=REPO,
                env=child_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            self._processes.append(process)
        for process in self._processes:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            if not line.startswith("READY "):
                self.__exit__()
                raise RuntimeError(f"an emulator did not start: {line!r}")
            self.urls.append(line.split(" ", 1)[1])
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in self._processes:
            if process.stdin is not None:
                process.stdin.close()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()
        self._jobs_file.unlink(missing_ok=True)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._processes]

    def _ask(self, process: subprocess.Popen[str], command: str) -> Any:
        """Send one command line to an emulator process and read its JSON answer."""
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(command + "\n")
        process.stdin.flush()
        return json.loads(process.stdout.readline())

    def start_instances(self, per_emulator: int) -> list[list[int]]:
        """Start ``per_emulator`` instances of the benchmark job on each emulator; their ids."""
        return [self._ask(process, f"start {per_emulator}") for process in self._processes]

    def run_instances(self, emulator: int, runs: Sequence[tuple[int, float, str]]) -> list[tuple[int, float]]:
        """Start one instance for each ``(job id, run seconds, outcome)`` on one emulator, each
        running that long and ending so; the id and the epoch time it ends, of each."""
        answer = self._ask(self._processes[emulator], f"run {json.dumps([list(run) for run in runs])}")
        return [(int(instance_id), float(ends_at)) for instance_id, ends_at in answer]

    def reset_flow_control(self) -> None:
        """Every emulator's flow-control buckets full again, as after a quiet spell."""
        for process in self._processes:
            self._ask(process, "reset-flow-control")

    def snapshot(self) -> list[EmulatorSnapshot]:
        snapshots = []
        for process in self._processes:
            stats = self._ask(process, "stats")
            cpu = psutil.Process(process.pid).cpu_times()
            snapshots.append(
                EmulatorSnapshot(
                    cpu_seconds=cpu.user + cpu.system,
                    connections_accepted=stats["connections_accepted"],
                    connections_open=stats["connections_open"],
                    calls=stats["calls"],
                    throttled=stats["throttled"],
                )
            )
        return snapshots


class FleetMeter:
    """Measures a fleet between ``start()`` and ``stop()``."""

    def __init__(self, fleet: EmulatorFleet) -> None:
        self.fleet = fleet
        self._started_at = 0.0
        self._before: list[EmulatorSnapshot] = []

    def start(self) -> None:
        self._before = self.fleet.snapshot()
        self._started_at = time.perf_counter()

    def stop(self) -> FleetUsage:
        after = self.fleet.snapshot()
        wall = time.perf_counter() - self._started_at
        return FleetUsage(
            wall_seconds=wall,
            cpu_seconds=[a.cpu_seconds - b.cpu_seconds for a, b in zip(after, self._before)],
            connections_accepted=sum(
                a.connections_accepted - b.connections_accepted for a, b in zip(after, self._before)
            ),
            connections_open=sum(a.connections_open for a in after),
            get_job_instance_calls=sum(
                a.get_job_instance_calls() - b.get_job_instance_calls() for a, b in zip(after, self._before)
            ),
            calls=_calls_between(self._before, after),
            throttled=sum(a.throttled - b.throttled for a, b in zip(after, self._before)),
        )


def _calls_between(before: list[EmulatorSnapshot], after: list[EmulatorSnapshot]) -> dict[str, int]:
    """Calls by action that the emulators answered between two snapshots."""
    calls: dict[str, int] = {}
    for earlier, later in zip(before, after):
        for action, count in later.calls.items():
            calls[action] = calls.get(action, 0) + count - earlier.calls.get(action, 0)
    return {action: count for action, count in calls.items() if count}
