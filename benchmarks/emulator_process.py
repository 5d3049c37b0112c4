"""One emulator process for the benchmarks, counting the TCP connections it accepts.

Prints ``READY <url>`` once listening; then answers each command line on stdin with one
JSON line, and ends at end of input:

- ``stats``: connections accepted so far, connections open now, requests by action, and
  the calls its flow control refused;
- ``start N``: the ids of N new instances of the benchmark job (started directly, not
  through the API, which takes one start of a job per second);
- ``run [[job_id, run_seconds, outcome], ...]``: one new instance of each job, running that
  long and ending so; ``[instance_id, epoch time it ends]`` of each;
- ``reset-flow-control``: its flow-control buckets full again (``true``).

    python -m benchmarks.emulator_process --jobs FILE [--rate-limit N]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from typing import Any

from aiohttp import web_server

from airflow_provider_schedulerx.emulator import Emulator
from benchmarks.emulators import BENCH_JOB_ID


class ConnectionCounter:
    """Counts the connections an aiohttp server accepts, by wrapping its hook for them."""

    def __init__(self) -> None:
        self.accepted = 0
        self.servers: set[web_server.Server] = set()

    def install(self) -> None:
        original = web_server.Server.connection_made
        counter = self

        def connection_made(server: web_server.Server, handler: Any, transport: Any) -> None:
            counter.accepted += 1
            counter.servers.add(server)
            original(server, handler, transport)

        web_server.Server.connection_made = connection_made  # type: ignore[method-assign,assignment]

    @property
    def open(self) -> int:
        return sum(len(server.connections) for server in self.servers)


def _start(emulator: Emulator, count: int) -> list[int]:
    state = emulator.state
    job = state.job(state.default_namespace, state.default_group, BENCH_JOB_ID)
    return [state.execute(job).instance_id for _ in range(count)]


def _run(emulator: Emulator, runs: list[list[Any]]) -> list[list[float]]:
    state = emulator.state
    started = []
    for job_id, run_seconds, outcome in runs:
        job = state.job(state.default_namespace, state.default_group, int(job_id))
        instance = state.execute(replace(job, run_seconds=float(run_seconds), outcome=outcome))
        started.append([instance.instance_id, instance.created_at + job.wait_seconds + float(run_seconds)])
    return started


def _answer(emulator: Emulator, counter: ConnectionCounter, line: str) -> Any:
    command, _, argument = line.strip().partition(" ")
    if command == "start":
        return _start(emulator, int(argument))
    if command == "run":
        return _run(emulator, json.loads(argument))
    if command == "reset-flow-control":
        emulator.rate_limit = emulator.rate_limit
        return True
    if command == "stats":
        return {
            "connections_accepted": counter.accepted,
            "connections_open": counter.open,
            "calls": dict(emulator.stats.calls),
            "throttled": emulator.stats.throttled.total(),
        }
    raise ValueError(f"unknown command {line!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", required=True)
    parser.add_argument("--rate-limit", type=float, default=None, help="calls per second per AccessKey")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    counter = ConnectionCounter()
    counter.install()
    with Emulator(jobs_file=args.jobs, keep_instances=100_000, rate_limit=args.rate_limit) as emulator:
        print(f"READY {emulator.url}", flush=True)
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(_answer(emulator, counter, line)), flush=True)


if __name__ == "__main__":
    main()
