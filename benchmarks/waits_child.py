"""The provider's triggers waiting on instances until they end, as in a triggerer process;
prints each one's event and when it came, as JSON.

Prints ``ready`` once its imports are done, then reads one JSON line on stdin:
``{"assignments": [[conn_id, job_id, instance_id], ...], "stop_at": <epoch seconds>}``. It
starts a ``SchedulerXJobInstanceTrigger`` for each, spread over one poll interval as tasks
defer at different moments, and waits until every one has sent its event or ``stop_at`` has
come; then prints one JSON line: ``events`` (``[status, message, epoch seconds]`` of each
trigger, or ``null`` for one that sent none), and the calls, attempts, retries and errors
of the clients of each connection. Control lines and the JSON go to the original stdout; the
triggers' own log lines are formatted as usual and written to /dev/null.

    python -m benchmarks.waits_child --interval 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from typing import IO, Any

from benchmarks.triggerer_child import TEAR_DOWN_SECONDS, control_channel


def _triggers(assignments: list[list[Any]], interval: float) -> tuple[list[Any], dict[str, list[Any]]]:
    """A trigger for each assignment, and the clients they made, by connection."""
    from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobInstanceTrigger

    clients: dict[str, list[Any]] = {}

    class CountedTrigger(SchedulerXJobInstanceTrigger):
        """The provider's trigger, unchanged, with its client kept for its call count."""

        async def _client(self) -> Any:
            client = await super()._client()
            clients.setdefault(self.schedulerx_conn_id, []).append(client)
            return client

    triggers = [
        CountedTrigger(job_id, instance_id, schedulerx_conn_id=conn_id, poll_interval=interval)
        for conn_id, job_id, instance_id in assignments
    ]
    return triggers, clients


def _client_figures(clients: dict[str, list[Any]]) -> dict[str, Any]:
    errors: Counter[str] = Counter()
    for of_conn in clients.values():
        for client in of_conn:
            errors.update(client.stats.errors)
    return {
        "calls": {conn: sum(client.stats.calls for client in of) for conn, of in clients.items()},
        "attempts": {conn: sum(client.stats.attempts for client in of) for conn, of in clients.items()},
        "retries": {conn: sum(client.stats.retries for client in of) for conn, of in clients.items()},
        "errors": dict(errors),
    }


async def wait_all(interval: float, plan: dict[str, Any], control: IO[str]) -> None:
    triggers, clients = _triggers(plan["assignments"], interval)
    events: list[list[Any] | None] = [None] * len(triggers)

    async def drive(index: int, trigger: Any, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            async for event in trigger.run():
                events[index] = [event.payload["status"], event.payload["message"], time.time()]
                return
        except Exception as error:  # a trigger that raises is a failed task
            events[index] = ["raised", repr(error), time.time()]

    count = len(triggers)
    tasks = [
        asyncio.create_task(drive(index, trigger, interval * index / count))
        for index, trigger in enumerate(triggers)
    ]
    await asyncio.wait(tasks, timeout=max(0.0, plan["stop_at"] - time.time()))
    result = {
        "events": events,
        "started": sum(len(of) for of in clients.values()),
        **_client_figures(clients),
    }
    control.write(json.dumps(result) + "\n")
    control.flush()
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=TEAR_DOWN_SECONDS)
    from airflow_provider_schedulerx.rpc.aio import close_shared_session

    await close_shared_session()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=float, required=True, help="poll interval of the triggers (s)")
    args = parser.parse_args()
    control = control_channel()
    import airflow_provider_schedulerx.triggers.schedulerx  # noqa: F401 - imported before "ready"

    control.write("ready\n")
    control.flush()
    plan = json.loads(sys.stdin.readline())
    asyncio.run(wait_all(args.interval, plan, control))


if __name__ == "__main__":
    main()
