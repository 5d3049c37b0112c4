"""The sections of ``docs/benchmarks.md`` after its summary, and the helpers they share."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from contextlib import ExitStack

from airflow_provider_schedulerx.triggers.poll_grid import POLLS_PER_TICK, PollGrid
from benchmarks import targets
from benchmarks.api_calls import ApiCallResults
from benchmarks.parse_cost import ParseCostResults
from benchmarks.quota import QuotaResults
from benchmarks.stats import ratio
from benchmarks.triggerer import TriggererResults, TriggererRun
from benchmarks.triggerer_child import MIN_WINDOW_POLLS, cpu_window_seconds


def met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def ratio_text(value: float) -> str:
    return f"{value:.2f}x"


def scale_run(trig: TriggererResults) -> TriggererRun | None:
    if targets.SCALE_COUNT not in trig.counts:
        return None
    run = trig.get("provider", targets.SCALE_COUNT)
    return run if run.interval == targets.SCALE_INTERVAL else None


def cpu_windows(trig: TriggererResults) -> str:
    interval = trig.runs[0].interval
    return ", ".join(
        f"{cpu_window_seconds(trig.window_seconds, interval, count):.0f} s at N = {count:,}"
        for count in trig.counts
    )


def grid_spacings(counts: list[int], interval: float) -> str:
    """The poll grid's spacing for each N triggers polling every ``interval`` seconds."""
    spacings = []
    for count in counts:
        grid = PollGrid()
        with ExitStack() as stack:
            for _ in range(count):
                stack.enter_context(grid.polling(interval))
            spacings.append(f"{grid.spacing(interval) * 1000:g} ms at N = {count:,}")
    return ", ".join(spacings)


def prose(text: str) -> list[str]:
    """A paragraph, wrapped, and the blank line after it."""
    return [*textwrap.wrap(text, width=92, break_on_hyphens=False), ""]


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def parse_section(parse: ParseCostResults) -> list[str]:
    base = parse["schedulerx"]
    rows = [
        ("SchedulerX sensor", f"{base.first_module_import_ms:.1f}", "", "", "", ""),
        (
            "SchedulerX sensor + operators",
            f"{base.import_ms:.1f}",
            f"{base.import_cpu_ms:.1f}",
            f"{base.construct_ms_per_task * 1000:.0f}",
            f"{base.floor_construct_ms_per_task * 1000:.0f}",
            ", ".join(base.http_libraries) or "neither",
        ),
    ]
    for name, label in (("dbt-cloud-sensor", "dbt Cloud sensor"), ("airbyte-sensor", "Airbyte sensor")):
        cost = parse[name]
        rows.append(
            (
                label,
                f"{cost.import_ms:.1f}",
                f"{cost.import_cpu_ms:.1f}",
                f"{cost.construct_ms_per_task * 1000:.0f}",
                f"{cost.floor_construct_ms_per_task * 1000:.0f}",
                ", ".join(cost.http_libraries) or "neither",
            )
        )
    modules = ", ".join(
        f"`{name.split('.', 1)[1]}` {us / 1000:.1f}" for name, us in parse.provider_modules_us
    )
    return [
        "## 1. DAG-parse cost",
        "",
        *prose(
            f"Each candidate in {base.runs} fresh interpreters, taking turns; medians. Each run imports "
            "`airflow.sdk` first (every DAG file pays that anyway: "
            f"{base.sdk_import_ms / 1000:.1f} s here), then times the candidate's modules, then "
            "builds a DAG of 100 of its tasks (SchedulerX: 50 `SchedulerXExecuteJobOperator` and 50 "
            "`SchedulerXJobInstanceSensor`; the others: their sensor; all deferrable), then, as the "
            "floor, a DAG of 100 `EmptyOperator`s in the same interpreter. Bytecode is cached, as "
            "for any installed package."
        ),
        *table(
            (
                "candidate",
                "import added (ms)",
                "of which CPU (ms)",
                "construction per task (µs)",
                "EmptyOperator per task, same runs (µs)",
                "HTTP libraries imported",
            ),
            rows,
        ),
        "",
        *prose(f"The provider's modules by their own import time (ms, one `-X importtime` run): {modules}."),
    ]


def calls_section(calls: ApiCallResults) -> list[str]:
    rows = []
    for version in ("v3", "v1"):
        provider, sdk = calls[f"provider-{version}"], calls[f"sdk-{version}"]
        cpu_ratio, wall_ratio = calls.paired_ratios(f"provider-{version}", f"sdk-{version}")
        rows.append(
            (
                version.upper(),
                f"{provider.cpu_us:.0f}",
                f"{sdk.cpu_us:.0f}",
                ratio_text(cpu_ratio),
                f"{provider.wall_us:.0f}",
                f"{sdk.wall_us:.0f}",
                ratio_text(wall_ratio),
                f"{provider.connections_opened} / {sdk.connections_opened}",
            )
        )
    signing, reading = calls.signing_us, calls.reading_us
    return [
        "## 2. Cost per API call (sync)",
        "",
        *prose(
            f"`GetJobInstance` of one running instance, {calls.rounds} rounds of {calls.calls_per_round} "
            "calls per client, the clients taking turns against one emulator process over keep-alive "
            "HTTP; times are medians of the rounds, and each ratio is the median of the ratios "
            "within a round, where the two clients ran back to back. CPU is the calling process's "
            "own (user + system), so the "
            "emulator's work is not in it. The provider returns a parsed `JobInstance` (pendulum "
            "times), the SDK its response model."
        ),
        *table(
            (
                "signature",
                "provider CPU (µs)",
                "SDK CPU (µs)",
                "CPU ratio",
                "provider wall (µs)",
                "SDK wall (µs)",
                "wall ratio",
                "connections opened (provider / SDK)",
            ),
            rows,
        ),
        "",
        *prose("Signing alone, CPU µs per signature of the same request (best of 15 turns of 1000):"),
        *table(
            ("scheme", "provider", "official SDK", "ratio"),
            [
                (
                    version.upper(),
                    f"{signing[f'provider-{version}']:.1f}",
                    f"{signing[f'sdk-{version}']:.1f}",
                    ratio_text(ratio(signing[f"provider-{version}"], signing[f"sdk-{version}"])),
                )
                for version in ("v3", "v1")
            ],
        ),
        "",
        *prose(
            "A whole signed request of the provider (timestamp, nonce, headers, URL): "
            f"{signing['provider-prepare-v3']:.1f} µs (V3), {signing['provider-prepare-v1']:.1f} µs (V1). "
            "A call the client has made before (a poll) is signed from its template, with the URL, "
            "headers and canonical request laid out already: "
            f"{signing['provider-repeat-v3']:.1f} µs (V3)."
        ),
        "",
        *prose(
            "Reading the reply into a `JobInstance`, JSON included (best of 15 turns of 1000): "
            f"{reading['afresh']:.1f} µs with every field read and checked; "
            f"{reading['again']:.1f} µs when the poll finds the instance as the last poll did, "
            "value for value and type for type, and gets back the record read then."
        ),
    ]


def triggerer_section(trig: TriggererResults, plot_name: str | None) -> list[str]:
    rows = []
    for count in trig.counts:
        for impl in ("provider", "sdk", "floor"):
            if not trig.has(impl, count):
                continue
            run = trig.get(impl, count)
            rows.append(
                (
                    f"{count}",
                    client_name(run),
                    f"{run.polls_per_second:.1f} / {run.expected_polls_per_second:.0f}",
                    f"{run.cpu_per_poll_us:.0f}",
                    ratio_text(trig.cpu_ratios[count])
                    if impl == "provider" and count in trig.cpu_ratios
                    else "",
                    f"{run.core_share:.1%}",
                    f"{run.lag_p50_ms:.1f} / {run.lag_p99_ms:.1f}",
                    f"{run.memory_per_trigger_kib:.1f}",
                    f"{run.child['full_collections']:.0f} ({run.child['longest_full_collection_ms']:.0f})",
                    f"{run.child['open_connections']:.0f}",
                    f"{run.emulators.connections_accepted}",
                    f"{run.emulators.busiest_core_share:.0%}",
                )
            )
    interval = trig.runs[0].interval
    return [
        "## 3. Triggerer scale",
        "",
        *prose(
            "N triggers in one fresh process and one event loop, each polling its own running "
            f"instance every {interval:.0f} s, started over the first interval as tasks defer at "
            "different moments. An interval after every trigger has polled (those that started "
            "while the grid was still coarse have spread out by then), two windows follow: in the "
            "first, nothing but the triggers runs in the loop, and the CPU, polls, memory, "
            "collections and connections are taken; it lasts "
            f"{trig.window_seconds:.0f} s, or as long as {MIN_WINDOW_POLLS} polls take at small N "
            f"({cpu_windows(trig)}). In the second, {trig.window_seconds:.0f} s, a probe "
            "measures the loop's lag"
            + (
                f"; {trig.rounds} runs of each client per N, taking turns (ABC CBA ...), medians, "
                "and each ratio the median of the ratios within a round"
                if trig.rounds > 1
                else ""
            )
            + ". The baseline is the same trigger loop written with the "
            "official SDK's async client (`get_job_instance_with_options_async`, "
            "`benchmarks/sdk_trigger.py`); both log a status when it changes and every 5 minutes, "
            "and both poll on the provider's poll grid (1 s, halved until about "
            f"{POLLS_PER_TICK} polls fall on a tick: {grid_spacings(trig.counts, interval)}), "
            "each trigger polling once an interval on it, the triggers of one tick sharing one "
            "timer and one wake-up of the loop."
        ),
        *prose(
            "The floor is the same loop with nothing in it but what any aiohttp client must do "
            "(`benchmarks/floor_trigger.py`): each poll signs its `GetJobInstance` afresh, sends it "
            "over the provider's shared session with its timeouts to the same emulator, and reads "
            "the reply; no reply parsing, retries, credential lookup or logging. It is what the HTTP "
            "library, the signature and the event loop cost per poll on this machine, and what the "
            "provider's client is built on. "
            + " ".join(
                f"At N = {count:,}, the provider used {provider.cpu_per_poll_us - floor.cpu_per_poll_us:.0f} "
                f"µs per poll above the floor's {floor.cpu_per_poll_us:.0f} µs."
                for count in trig.counts
                if trig.has("provider", count) and trig.has("floor", count)
                for provider, floor in [(trig.get("provider", count), trig.get("floor", count))]
            )
        ),
        *prose(
            f"One wake-up of the idle event loop cost {trig.idle_wakeup_us:.0f} µs of CPU in these "
            "runs (the lag probe's own, before the triggers start), about as much as a poll. The "
            "polls of one tick share the wake-up for its timer, and often those for their "
            "replies, which come in together: the poll grid exists to make the most of that."
        ),
        *prose(
            "CPU per poll: the process's CPU over the first window divided by the polls made in "
            "it; the window starts halfway between two ticks and spans whole ticks, so that no "
            "tick's polls count twice, and after a full collection, so that the objects every "
            "trigger keeps, all promoted while the triggers start, do not set one off inside "
            "it (in a triggerer, triggers start a few at a time). Loop lag: how late a 20 ms "
            "sleep wakes. Memory: growth of "
            "the resident set per trigger. Full GCs: collections of the oldest generation during "
            "the window; each stops the loop for as long as it takes to walk every object of the "
            "process (Airflow's own are most of them), which is where the worst lags come from."
        ),
        *table(
            (
                "N",
                "client",
                "polls/s (done / due)",
                "CPU per poll (µs)",
                "ratio",
                "CPU (share of a core)",
                "loop lag p50 / p99 (ms)",
                "memory per trigger (KiB)",
                "full GCs in the window (longest, ms)",
                "connections open",
                "connections opened in the window",
                "busiest emulator's CPU",
            ),
            rows,
        ),
        "",
        *(
            [f"![CPU per poll, event-loop lag and calls per second against N]({plot_name})", ""]
            if plot_name
            else []
        ),
    ]


def emulator_section(
    calls: ApiCallResults | None, trig: TriggererResults | None, quota: QuotaResults | None = None
) -> list[str]:
    runs = trig.runs if trig is not None else []
    busy_emulator = [run for run in runs if run.emulators.busiest_core_share > targets.EMULATOR_BUSY_SHARE]
    # A batched run makes far fewer calls than one poll per trigger by design.
    behind = [
        run
        for run in runs
        if run.impl != "batched" and run.polls_per_second < 0.95 * run.expected_polls_per_second
    ]
    said = []
    if trig is not None:
        busiest = max(run.emulators.busiest_core_share for run in runs)
        said.append(
            f"The triggerer runs used {trig.emulator_processes} emulator processes, the triggers spread "
            "evenly across them, and each one's CPU was taken over the same window as the client's "
            f"(last column above): the busiest used {busiest:.0%} of a core at most, against the "
            f"{targets.EMULATOR_BUSY_SHARE:.0%} above which it could start to hold clients back."
        )
    if calls is not None:
        said.append(
            f"In the sync benchmark the emulator used {calls.emulator_core_share:.0%} of a core, and each "
            "client's CPU is taken in the client's own process, so the emulator's speed does not enter it."
        )
    if quota is not None:
        said.append(
            "In the account's-limit runs the one emulator used "
            + " and ".join(f"{run.emulator_core_share:.0%} ({run.name})" for run in quota.runs.values())
            + " of a core over each run, throttled replies included."
        )
    if not said:
        return []
    lines = [
        "## Was the emulator the bottleneck?",
        "",
        *prose(
            f"No run was limited by it{'' if not busy_emulator else ', except perhaps those named below'}. "
            + " ".join(said)
        ),
    ]
    for run in busy_emulator:
        lines.append(
            f"- {client_name(run)}, N={run.count}: an emulator process used "
            f"{run.emulators.busiest_core_share:.0%} of a core; treat this run's figures with care."
        )
    for run in behind:
        if run in busy_emulator:
            continue
        lines.append(
            f"- {client_name(run)}, N={run.count} fell behind its polls "
            f"({run.polls_per_second:.0f} of {run.expected_polls_per_second:.0f} a second) with its own "
            f"process at {run.core_share:.0%} of a core and a p99 loop lag of {run.lag_p99_ms:.0f} ms, "
            f"while the busiest emulator used {run.emulators.busiest_core_share:.0%}: the client "
            "was the limit."
        )
    return [*lines, ""] if busy_emulator or behind else lines


CLIENT_NAMES = {
    "provider": "this provider",
    "batched": "this provider, one poll per job",
    "nogrid": "this provider, plain sleeps",
    "sdk": "the official SDK",
    "floor": "floor: aiohttp and signing",
}


def client_name(run: TriggererRun) -> str:
    return CLIENT_NAMES[run.impl]
