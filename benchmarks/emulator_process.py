"""One emulator process for the benchmarks, counting the TCP connections it accepts.

Prints ``READY <url>`` once listening; then answers each ``stats`` line on stdin with one
JSON line (connections accepted so far, connections open now, requests by action), and each
``start N`` line with the JSON list of the ids of N new instances of the benchmark job
(started directly, not through the API, which takes one start of a job per second). Ends at
end of input.

    python -m benchmarks.emulator_process --jobs FILE
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    counter = ConnectionCounter()
    counter.install()
    with Emulator(jobs_file=args.jobs, keep_instances=100_000) as emulator:
        print(f"READY {emulator.url}", flush=True)
        for line in sys.stdin:
            if line.startswith("start "):
                job = emulator.state.job(
                    emulator.state.default_namespace, emulator.state.default_group, BENCH_JOB_ID
                )
                ids = [emulator.state.execute(job).instance_id for _ in range(int(line.split()[1]))]
                print(json.dumps(ids), flush=True)
            elif line.strip() == "stats":
                stats = {
                    "connections_accepted": counter.accepted,
                    "connections_open": counter.open,
                    "calls": dict(emulator.stats.calls),
                }
                print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
