"""The parts of ``docs/benchmarks.md`` on how the provider's triggers poll: one poll per job
(the batched arm and the parity phase of benchmark 3) and the poll grid on trial (the
``nogrid`` arm), with their rows of the summary."""

from __future__ import annotations

import math
from dataclasses import dataclass

from airflow_provider_schedulerx.rpc.actions import MAX_PAGE_SIZE
from benchmarks import targets
from benchmarks.parity import MODES, ParityResults
from benchmarks.sections import met, prose, ratio_text, table
from benchmarks.stats import percentile
from benchmarks.triggerer import TriggererResults, TriggererRun

Row = tuple[str, str, str, str, str, str]


def calls_bound(batch_size: int) -> int:
    """The most calls a job batch of ``batch_size`` waiting instances may make in a tick:
    its round's pages and one more."""
    return math.ceil(batch_size / MAX_PAGE_SIZE) + 1


def batched_count(trig: TriggererResults) -> int | None:
    """The N at which the batched arm is held to its targets: ``BATCHED_COUNT`` if it ran,
    else the largest N it ran at next to per-instance polling."""
    counts = [count for count in trig.counts_of("batched") if trig.has("provider", count)]
    if not counts:
        return None
    return targets.BATCHED_COUNT if targets.BATCHED_COUNT in counts else max(counts)


def batch_text(sizes: list[int]) -> str:
    """``2 job batches of 500`` (or of their sizes, if they differ)."""
    each = f"{sizes[0]:,}" if len(set(sizes)) == 1 else " / ".join(f"{size:,}" for size in sizes)
    return f"{len(sizes)} job batch{'es' if len(sizes) > 1 else ''} of {each}"


def batching_rows(trig: TriggererResults) -> list[Row]:
    count = batched_count(trig)
    if count is None:
        return []
    batched, single = trig.get("batched", count), trig.get("provider", count)
    sizes = trig.batch_sizes[count]
    bound = sum(calls_bound(size) for size in sizes)
    cpu_ratio = trig.paired_ratio("batched", "provider", count, lambda run: run.core_share)
    rows: list[Row] = [
        (
            f"One poll per job: API calls per tick, {count:,} waiting instances of one job "
            f"({batch_text(sizes)})",
            f"{batched.calls_per_tick:.1f} ({batched.calls_per_tick / len(sizes):.1f} a batch)",
            f"per instance {single.calls_per_tick:.0f}",
            ratio_text(batched.calls_per_tick / single.calls_per_tick),
            f"<= {bound} (ceil(size / {MAX_PAGE_SIZE}) + 1 a batch)",
            met(batched.calls_per_tick <= bound),
        ),
        (
            f"One poll per job: triggerer CPU, N={count:,}",
            f"{batched.core_share:.1%} of a core",
            f"per instance {single.core_share:.1%}",
            ratio_text(cpu_ratio),
            f"<= {targets.BATCHED_CPU_RATIO}x",
            met(cpu_ratio <= targets.BATCHED_CPU_RATIO),
        ),
        (
            f"One poll per job: event-loop lag p99, N={count:,}",
            f"{batched.lag_p99_ms:.1f} ms",
            f"per instance {single.lag_p99_ms:.1f} ms",
            ratio_text(batched.lag_p99_ms / single.lag_p99_ms),
            "",
            "",
        ),
    ]
    if trig.parity is not None:
        ending = trig.parity
        rows.append(
            (
                f"One poll per job: the same verdicts, {ending.count:,} instances ending while both wait",
                f"{ending.same_events:,} of {ending.count:,} pairs alike; event p99 "
                f"{percentile(ending.delays['batched'], 0.99):.1f} s after the end",
                f"per instance p99 {percentile(ending.delays['per-instance'], 0.99):.1f} s",
                "",
                "the same events",
                met(ending.same_verdicts),
            )
        )
    return rows


@dataclass(frozen=True)
class GridTrial:
    """The poll grid against plain sleeps at one N: grid over plain sleeps, of CPU per poll
    and of p99 loop lag (medians of the ratios within a round)."""

    count: int
    cpu_ratio: float
    lag_ratio: float

    @property
    def cpu_saving(self) -> float:
        return 1 - self.cpu_ratio

    @property
    def lag_saving(self) -> float:
        return 1 - self.lag_ratio


def grid_trials(trig: TriggererResults) -> list[GridTrial]:
    return [
        GridTrial(
            count,
            trig.paired_ratio("provider", "nogrid", count, lambda run: run.cpu_per_poll_us),
            trig.paired_ratio("provider", "nogrid", count, lambda run: run.lag_p99_ms),
        )
        for count in trig.counts_of("nogrid")
        if trig.has("provider", count)
    ]


def keep_the_grid(trials: list[GridTrial]) -> bool:
    """The decision rule: keep the grid only if it saves at least ``GRID_MIN_SAVING`` of the
    CPU per poll or of the p99 loop lag at any N of the trial."""
    return any(max(trial.cpu_saving, trial.lag_saving) >= targets.GRID_MIN_SAVING for trial in trials)


def grid_verdict(trials: list[GridTrial]) -> str:
    """The trial's outcome in a sentence."""
    rule = (
        f"keep the grid only if it saves at least {targets.GRID_MIN_SAVING:.0%} of the CPU per "
        "poll or of the p99 event-loop lag at either N"
    )
    savings = "; ".join(
        f"at N = {trial.count:,} it saves {trial.cpu_saving:.0%} of the CPU per poll and "
        f"{trial.lag_saving:.0%} of the p99 lag"
        for trial in trials
    )
    decision = "keep the grid" if keep_the_grid(trials) else "replace the grid with plain sleeps"
    return (
        f"Rule: {rule}. {savings[0].upper()}{savings[1:]} (a negative saving is a cost). Verdict: {decision}."
    )


def grid_rows(trig: TriggererResults) -> list[Row]:
    trials = grid_trials(trig)
    if not trials:
        return []
    rows: list[Row] = []
    for trial in trials:
        grid, plain = trig.get("provider", trial.count), trig.get("nogrid", trial.count)
        rows.append(
            (
                f"Poll grid on trial, N={trial.count:,}: CPU per poll / event-loop lag p99",
                f"{grid.cpu_per_poll_us:.0f} µs / {grid.lag_p99_ms:.1f} ms",
                f"plain sleeps {plain.cpu_per_poll_us:.0f} µs / {plain.lag_p99_ms:.1f} ms",
                f"{ratio_text(trial.cpu_ratio)} / {ratio_text(trial.lag_ratio)}",
                f"saves >= {targets.GRID_MIN_SAVING:.0%} of either",
                "keeps" if max(trial.cpu_saving, trial.lag_saving) >= targets.GRID_MIN_SAVING else "does not",
            )
        )
    keep = keep_the_grid(trials)
    rows.append(
        (
            "Poll grid: the verdict",
            "keep the grid" if keep else "replace it with plain sleeps",
            "",
            "",
            f"saves >= {targets.GRID_MIN_SAVING:.0%} at either N",
            "**keep**" if keep else "**replace**",
        )
    )
    return rows


def batching_section(trig: TriggererResults) -> list[str]:
    counts = [count for count in trig.counts_of("batched") if trig.has("provider", count)]
    if not counts:
        return []
    interval = trig.runs[0].interval
    rows = []
    for count in counts:
        batched, single = trig.get("batched", count), trig.get("provider", count)
        sizes = trig.batch_sizes[count]
        # Rounds of all the batches, each paging on its own.
        rounds = batched.child["rounds"]
        pages = batched.child["list_calls"] / rounds if rounds else float("nan")
        rows.append(
            (
                f"{count:,}",
                batch_text(sizes),
                f"{sum(calls_bound(size) for size in sizes)}",
                f"{batched.calls_per_tick:.1f} ({_emulator_calls_per_tick(batched):.1f})",
                f"{pages:.1f}",
                f"{single.calls_per_tick:.0f}",
                f"{batched.core_share:.1%} / {single.core_share:.1%}",
                ratio_text(trig.paired_ratio("batched", "provider", count, lambda run: run.core_share)),
                f"{batched.lag_p99_ms:.1f} / {single.lag_p99_ms:.1f}",
            )
        )
    lines = [
        "### One poll per job",
        "",
        *prose(
            "The provider's trigger again, on a connection with `poll_batching` (its default), "
            "waiting on the same instances as the per-instance rows above (whose connections "
            "set `poll_batching: false`, so that they poll each instance as the official SDK "
            "does): after its first `GetJobInstance`, each trigger waits for its job's next "
            "round, one paged `GetJobInstanceList` (pages of "
            f"{MAX_PAGE_SIZE}) for all the instances of the job that the process waits on. The "
            "instances are all of one job, spread evenly over the emulator processes: each "
            "emulator is a connection of its own, so each makes a job batch of its own, and the "
            "bound on calls per tick (one poll interval, "
            f"{interval:g} s) is ceil(batch size / {MAX_PAGE_SIZE}) + 1 per batch, added up "
            "over the batches. The instances waited on at each N are the newest of the job; "
            "those the larger N wait on were started a moment before, within the same second, "
            "and a round, which pages newest first, stops once it has seen every instance "
            "waited on. The window spans whole intervals from halfway between two rounds."
        ),
        *table(
            (
                "N",
                "job batches",
                "bound (calls per tick)",
                "calls per tick, batched (as the emulators counted them)",
                "pages per round and batch",
                "calls per tick, per instance",
                "CPU batched / per instance (share of a core)",
                "CPU ratio",
                "loop lag p99 batched / per instance (ms)",
            ),
            rows,
        ),
        "",
    ]
    if trig.parity is not None:
        lines += parity_lines(trig.parity)
    else:
        lines += prose(
            "The parity phase did not run: that each trigger's verdict, timing and events are "
            "the same either way is tested side by side in `tests/integration/test_job_batches.py`."
        )
    return lines


def _emulator_calls_per_tick(run: TriggererRun) -> float:
    usage = run.emulators
    return (
        sum(usage.calls.values()) / usage.wall_seconds * run.interval if usage.wall_seconds else float("nan")
    )


def parity_lines(ending: ParityResults) -> list[str]:
    rows = [
        (
            mode,
            f"{ending.expected_status[mode]:,} of {ending.count:,}",
            f"{ending.missing[mode]}",
            " / ".join(f"{percentile(ending.delays[mode], share):.2f}" for share in (0.5, 0.99, 1.0)),
            f"{ending.calls[mode]:,}",
        )
        for mode in MODES
    ]
    return [
        *prose(
            f"The same verdicts: {ending.count:,} new instances of the job, "
            f"{batch_text([ending.count // ending.job_batches] * ending.job_batches)}, waited on "
            "by a per-instance and a batched trigger each, side by side in one fresh process, "
            "and ending during the phase, one after another over three intervals, half "
            f"successful and half failed. {ending.same_events:,} of the {ending.count:,} pairs "
            "sent the same event (status and message); the delay is the event's time less the "
            "instance's end (seconds). The calls include each trigger's first poll and the final "
            "read of each instance that ended; the side-by-side test of verdicts, timing and "
            "events is `tests/integration/test_job_batches.py`."
        ),
        *table(
            (
                "polling",
                "events with the instance's verdict",
                "no event",
                "delay p50 / p99 / max (s)",
                "API calls",
            ),
            rows,
        ),
        "",
    ]


def grid_section(trig: TriggererResults) -> list[str]:
    trials = grid_trials(trig)
    if not trials:
        return []
    rows = []
    for trial in trials:
        grid, plain = trig.get("provider", trial.count), trig.get("nogrid", trial.count)
        rows.append(
            (
                f"{trial.count:,}",
                f"{grid.cpu_per_poll_us:.0f} / {plain.cpu_per_poll_us:.0f}",
                ratio_text(trial.cpu_ratio),
                f"{trial.cpu_saving:.0%}",
                f"{grid.lag_p99_ms:.1f} / {plain.lag_p99_ms:.1f}",
                ratio_text(trial.lag_ratio),
                f"{trial.lag_saving:.0%}",
                f"{grid.core_share:.1%} / {plain.core_share:.1%}",
            )
        )
    return [
        "### The poll grid on trial",
        "",
        *prose(
            "The provider's per-instance trigger with the poll grid replaced by plain sleeps "
            "(`benchmarks/plain_sleeps.py`, in its child process only): each poll due one "
            "interval after the previous one was due, each trigger on a timer of its own. Same "
            "instances, same windows; ratios are grid over plain sleeps, the median of the "
            "ratios within a round."
        ),
        *table(
            (
                "N",
                "CPU per poll, grid / plain (µs)",
                "ratio",
                "saved by the grid",
                "loop lag p99, grid / plain (ms)",
                "ratio",
                "saved by the grid",
                "CPU, grid / plain (share of a core)",
            ),
            rows,
        ),
        "",
        *prose(grid_verdict(trials)),
    ]
