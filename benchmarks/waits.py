"""Runs ``waits_child``: the provider's triggers in a fresh process (so that the process's
call budget starts fresh) waiting on instances that the caller starts once the child is
ready, until they end."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.environment import PYTHON, REPO, child_env
from benchmarks.triggerer_child import TEAR_DOWN_SECONDS

#: Beyond the stop time: start-up and tear-down.
CHILD_SPARE_SECONDS = 120.0

#: A trigger's assignment: connection id, job id, instance id.
Assignment = tuple[str, int, int]


@dataclass(frozen=True)
class Event:
    status: str
    message: str
    at: float


@dataclass(frozen=True)
class WaitsRun:
    """Each trigger's event (``None``: none by the stop) and its clients' figures."""

    events: list[Event | None]
    started: int
    calls: dict[str, int]
    attempts: dict[str, int]
    retries: dict[str, int]
    errors: dict[str, int]


def run_waits(
    interval: float,
    env: dict[str, str],
    start: Callable[[], tuple[list[Assignment], float]],
    give_up_after: float,
) -> WaitsRun:
    """Start the child; once it is ready, ``start()`` starts the instances and says what
    each trigger waits on and when the child stops waiting (epoch seconds)."""
    command = [PYTHON, "-m", "benchmarks.waits_child", f"--interval={interval}"]
    result: dict[str, Any] | None = None
    with subprocess.Popen(
        command, cwd=REPO, env=child_env(**env), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as process:
        # A run that hangs is ended, so that the suite always stops by itself.
        watchdog = threading.Timer(give_up_after + TEAR_DOWN_SECONDS + CHILD_SPARE_SECONDS, process.kill)
        watchdog.start()
        try:
            assert process.stdin is not None and process.stdout is not None
            if process.stdout.readline() == "ready\n":
                assignments, stop_at = start()
                process.stdin.write(json.dumps({"assignments": assignments, "stop_at": stop_at}) + "\n")
                process.stdin.flush()
                for line in process.stdout:
                    if line.startswith("{"):
                        result = json.loads(line)
        finally:
            watchdog.cancel()
        if process.wait() != 0 or result is None:
            raise RuntimeError(f"{' '.join(command)} failed (exit {process.returncode})")
    return WaitsRun(
        events=[None if event is None else Event(*event) for event in result["events"]],
        started=result["started"],
        calls=result["calls"],
        attempts=result["attempts"],
        retries=result["retries"],
        errors=result["errors"],
    )
