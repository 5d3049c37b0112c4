"""Benchmark 3's parity phase: instances of the benchmark job waited on by the provider's
per-instance and batched triggers side by side, in one fresh process, and ended during the
phase (half successful, half failed, one after another): does each pair send the same event,
and how long after the instance's end does each come?"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.emulators import BENCH_JOB_ID, EmulatorFleet
from benchmarks.environment import connection_json
from benchmarks.waits import Assignment, Event, run_waits

#: How each instance ends, in turn, and the event status it should bring.
OUTCOMES = {"success": "success", "failed": "failed"}
MODES = ("per-instance", "batched")
#: Beyond the last end: the last poll or round, its final read, start-up.
SPARE_INTERVALS = 3


@dataclass(frozen=True)
class ParityResults:
    """The pairs of events of one phase."""

    count: int
    job_batches: int
    interval: float
    #: Pairs whose two events have the same status and message.
    same_events: int
    #: Events whose status is the one their instance ended with, by mode.
    expected_status: dict[str, int]
    #: Triggers without an event by the end of the phase, by mode.
    missing: dict[str, int]
    #: Event time less the instance's end, of each event, by mode (seconds).
    delays: dict[str, list[float]]
    #: API calls the triggers made during the phase, by mode.
    calls: dict[str, int]

    @property
    def same_verdicts(self) -> bool:
        return self.same_events == self.count and all(
            self.expected_status[mode] == self.count for mode in MODES
        )


def run(fleet: EmulatorFleet, count: int, interval: float) -> ParityResults:
    """``count`` new instances of the benchmark job, spread over the fleet's emulators,
    ending 2 to 5 intervals after they start; a per-instance and a batched trigger on each."""
    conn_ids = {
        mode: [f"schedulerx_parity_{mode.replace('-', '_')}_{index}" for index in range(fleet.count)]
        for mode in MODES
    }
    env = {
        f"AIRFLOW_CONN_{conn_ids[mode][index].upper()}": connection_json(
            url, max_calls_per_second=0, poll_batching=mode == "batched"
        )
        for mode in MODES
        for index, url in enumerate(fleet.urls)
    }
    outcomes = [list(OUTCOMES)[index % len(OUTCOMES)] for index in range(count)]
    expected = [OUTCOMES[outcome] for outcome in outcomes]
    ends = [0.0] * count

    def start() -> tuple[list[Assignment], float]:
        """Instance ``index`` on emulator ``index % emulators``, ending ``2 + 3 * index / count``
        intervals after it starts."""
        instance_ids = [0] * count
        for emulator in range(fleet.count):
            indexes = range(emulator, count, fleet.count)
            runs = [(BENCH_JOB_ID, interval * (2 + 3 * index / count), outcomes[index]) for index in indexes]
            for index, (instance_id, ends_at) in zip(indexes, fleet.run_instances(emulator, runs)):
                instance_ids[index], ends[index] = instance_id, ends_at
        assignments = [
            (conn_ids[mode][index % fleet.count], BENCH_JOB_ID, instance_ids[index])
            for index in range(count)
            for mode in MODES
        ]
        return assignments, max(ends) + SPARE_INTERVALS * interval

    give_up_after = (5 + SPARE_INTERVALS) * interval + 60
    waits = run_waits(interval, env, start, give_up_after)
    pairs = [
        (waits.events[2 * index], waits.events[2 * index + 1]) for index in range(len(waits.events) // 2)
    ]
    by_mode: dict[str, list[Event | None]] = {
        mode: [pair[position] for pair in pairs] for position, mode in enumerate(MODES)
    }
    return ParityResults(
        count=len(pairs),
        job_batches=fleet.count,
        interval=interval,
        same_events=sum(
            1
            for first, second in pairs
            if first is not None
            and second is not None
            and (first.status, first.message) == (second.status, second.message)
        ),
        expected_status={
            mode: sum(
                1 for event, status in zip(events, expected) if event is not None and event.status == status
            )
            for mode, events in by_mode.items()
        },
        missing={mode: sum(1 for event in events if event is None) for mode, events in by_mode.items()},
        delays={
            mode: [event.at - ends_at for event, ends_at in zip(events, ends) if event is not None]
            for mode, events in by_mode.items()
        },
        calls={mode: sum(waits.calls.get(conn_id, 0) for conn_id in conn_ids[mode]) for mode in MODES},
    )
