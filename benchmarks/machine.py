"""What the benchmarks ran on: machine, load, versions and revision."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata

import psutil

from benchmarks.environment import REPO

PACKAGES = (
    "apache-airflow",
    "apache-airflow-task-sdk",
    "airflow-provider-schedulerx",
    "alibabacloud-schedulerx220190430",
    "alibabacloud-tea-openapi",
    "darabonba-core",
    "apache-airflow-providers-dbt-cloud",
    "apache-airflow-providers-airbyte",
    "aiohttp",
    "requests",
    "urllib3",
    "pendulum",
)


@dataclass
class Machine:
    started: str
    cpu: str
    cores: int
    memory_gib: float
    system: str
    python: str
    revision: str
    versions: dict[str, str]
    load_at_start: tuple[float, float, float]
    load_at_end: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0))

    def finish(self) -> None:
        self.load_at_end = os.getloadavg()


def describe() -> Machine:
    return Machine(
        started=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        cpu=_cpu_model(),
        cores=os.cpu_count() or 0,
        memory_gib=psutil.virtual_memory().total / 2**30,
        system=platform.platform(),
        python=sys.version.split()[0],
        revision=_revision(),
        versions={name: _version(name) for name in PACKAGES},
        load_at_start=os.getloadavg(),
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _revision() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} (with uncommitted changes)" if dirty else commit
