"""Benchmark 1, DAG-parse cost: each candidate in many fresh interpreters, interleaved so
that the machine's noise falls on all of them alike; medians of the runs."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from typing import Any

from benchmarks.environment import PYTHON, REPO, child_env, run_module
from benchmarks.parse_probe import SDK_IMPORTED_MARK
from benchmarks.stats import median

CANDIDATES = ("schedulerx", "dbt-cloud-sensor", "airbyte-sensor")
_IMPORTTIME_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


@dataclass(frozen=True)
class ParseCost:
    """Medians over the runs of one candidate."""

    candidate: str
    runs: int
    import_ms: float
    import_cpu_ms: float
    #: The first module alone: for SchedulerX, the sensor without the operators.
    first_module_import_ms: float
    construct_ms_per_task: float
    #: ``EmptyOperator`` tasks built in the same interpreters right after.
    floor_construct_ms_per_task: float
    sdk_import_ms: float
    http_libraries: list[str]


@dataclass(frozen=True)
class ParseCostResults:
    costs: dict[str, ParseCost]
    #: The provider's own modules imported by the sensor and operators, by self time
    #: (microseconds, from one ``-X importtime`` run).
    provider_modules_us: list[tuple[str, int]]
    command: str

    def __getitem__(self, candidate: str) -> ParseCost:
        return self.costs[candidate]


def run(runs: int) -> ParseCostResults:
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in CANDIDATES}
    for name in CANDIDATES:  # compiles bytecode and warms the file cache: not counted
        run_module("benchmarks.parse_probe", name)
    for _ in range(runs):
        for name in CANDIDATES:
            samples[name].append(json.loads(run_module("benchmarks.parse_probe", name)))
    costs = {}
    for name, runs_of_one in samples.items():
        http: set[str] = set()
        for sample in runs_of_one:
            http.update(sample["http_libraries_after_dag"])
        costs[name] = ParseCost(
            candidate=name,
            runs=len(runs_of_one),
            import_ms=median([s["import_ms"] for s in runs_of_one]),
            import_cpu_ms=median([s["import_cpu_ms"] for s in runs_of_one]),
            first_module_import_ms=median([s["first_module_import_ms"] for s in runs_of_one]),
            construct_ms_per_task=median([s["construct_ms_per_task"] for s in runs_of_one]),
            floor_construct_ms_per_task=median([s["floor_construct_ms_per_task"] for s in runs_of_one]),
            sdk_import_ms=median([s["sdk_import_ms"] for s in runs_of_one]),
            http_libraries=sorted(http),
        )
    return ParseCostResults(
        costs=costs,
        provider_modules_us=provider_module_breakdown(),
        command=f"{PYTHON} -m benchmarks.parse_probe <candidate>",
    )


def provider_module_breakdown() -> list[tuple[str, int]]:
    """Self time of each provider module the sensor and operators import after
    ``airflow.sdk``, largest first."""
    completed = subprocess.run(
        [PYTHON, "-X", "importtime", "-m", "benchmarks.parse_probe", "schedulerx"],
        cwd=REPO,
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    after_sdk = completed.stderr.split(SDK_IMPORTED_MARK, 1)[-1]
    modules = []
    for match in _IMPORTTIME_LINE.finditer(after_sdk):
        self_us, name = int(match.group(1)), match.group(4)
        if name.startswith("airflow_provider_schedulerx"):
            modules.append((name, self_us))
    return sorted(modules, key=lambda item: -item[1])
