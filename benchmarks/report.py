"""``docs/benchmarks.md`` from one run's results: its summary table, and the page."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks import targets
from benchmarks.api_calls import ApiCallResults
from benchmarks.machine import Machine
from benchmarks.parse_cost import ParseCostResults
from benchmarks.quota import QuotaResults
from benchmarks.sections import (
    calls_section,
    emulator_section,
    met,
    parse_section,
    prose,
    ratio_text,
    scale_run,
    table,
    triggerer_section,
)
from benchmarks.sections_polls import batching_rows, batching_section, grid_rows, grid_section
from benchmarks.sections_quota import quota_rows, quota_section
from benchmarks.stats import ratio
from benchmarks.triggerer import TriggererResults

Row = tuple[str, str, str, str, str, str]


@dataclass(frozen=True)
class Results:
    """One run's results; a benchmark left out of the run (``--only``) is ``None``."""

    machine: Machine
    command: str
    parse: ParseCostResults | None
    calls: ApiCallResults | None
    triggerer: TriggererResults | None
    quota: QuotaResults | None = None


def summary_rows(results: Results) -> list[Row]:
    """(measure, provider, baseline, ratio, target, verdict) for the headline table."""
    trig = results.triggerer
    rows = _parse_rows(results.parse) + _calls_rows(results.calls)
    if trig is not None:
        rows += _triggerer_rows(trig) + batching_rows(trig) + grid_rows(trig)
    return rows + quota_rows(results.quota)


def _parse_rows(parse: ParseCostResults | None) -> list[Row]:
    if parse is None:
        return []
    provider_import = parse["schedulerx"].import_ms
    http = parse["schedulerx"].http_libraries
    rows = [
        (
            "DAG parse: import added on top of `airflow.sdk` (sensor + operators)",
            f"{provider_import:.1f} ms",
            f"dbt Cloud sensor {parse['dbt-cloud-sensor'].import_ms:.0f} ms",
            ratio_text(ratio(provider_import, parse["dbt-cloud-sensor"].import_ms)),
            f"<= {targets.PARSE_IMPORT_MS:.0f} ms",
            met(provider_import <= targets.PARSE_IMPORT_MS),
        ),
        (
            "DAG parse: import added, sensor alone",
            f"{parse['schedulerx'].first_module_import_ms:.1f} ms",
            f"Airbyte sensor {parse['airbyte-sensor'].import_ms:.0f} ms",
            ratio_text(ratio(parse["schedulerx"].first_module_import_ms, parse["airbyte-sensor"].import_ms)),
            "",
            "",
        ),
        (
            "DAG parse: `requests` / `aiohttp` imported",
            ", ".join(http) or "neither",
            f"dbt Cloud: {', '.join(parse['dbt-cloud-sensor'].http_libraries) or 'neither'}",
            "",
            "neither",
            met(not http),
        ),
        (
            "DAG construction, per task (100-task DAG)",
            f"{parse['schedulerx'].construct_ms_per_task * 1000:.0f} µs",
            f"EmptyOperator {parse['schedulerx'].floor_construct_ms_per_task * 1000:.0f} µs",
            ratio_text(
                ratio(
                    parse["schedulerx"].construct_ms_per_task, parse["schedulerx"].floor_construct_ms_per_task
                )
            ),
            "",
            "",
        ),
    ]
    return rows


def _calls_rows(calls: ApiCallResults | None) -> list[Row]:
    if calls is None:
        return []
    rows = []
    for version in ("v3", "v1"):
        provider, sdk = calls[f"provider-{version}"], calls[f"sdk-{version}"]
        cpu_ratio, _ = calls.paired_ratios(f"provider-{version}", f"sdk-{version}")
        rows.append(
            (
                f"Sync `GetJobInstance`, client CPU per call ({version.upper()})",
                f"{provider.cpu_us:.0f} µs",
                f"official SDK {sdk.cpu_us:.0f} µs",
                ratio_text(cpu_ratio),
                f"<= {targets.SYNC_CPU_RATIO}x",
                met(cpu_ratio <= targets.SYNC_CPU_RATIO),
            )
        )
    return rows


def _triggerer_rows(trig: TriggererResults) -> list[Row]:
    rows: list[Row] = []
    if trig.cpu_ratios:
        worst = max((trig.cpu_ratios[n], n) for n in trig.cpu_ratios)
        rows.append(
            (
                "Triggerer: CPU per poll (worst N)",
                f"{trig.get('provider', worst[1]).cpu_per_poll_us:.0f} µs at N={worst[1]}",
                f"official SDK async {trig.get('sdk', worst[1]).cpu_per_poll_us:.0f} µs",
                ratio_text(worst[0]),
                f"<= {targets.TRIGGER_CPU_RATIO}x",
                met(worst[0] <= targets.TRIGGER_CPU_RATIO),
            )
        )
    scale = scale_run(trig)
    if scale is not None and trig.has("sdk", scale.count) and trig.has("floor", scale.count):
        sdk_scale, floor_scale = trig.get("sdk", scale.count), trig.get("floor", scale.count)
        rows += [
            (
                f"Triggerer: {scale.count} triggers at {scale.interval:.0f} s, CPU of the process",
                f"{scale.core_share:.1%} of a core",
                f"official SDK async {sdk_scale.core_share:.1%}",
                ratio_text(ratio(scale.core_share, sdk_scale.core_share)),
                f"<= {targets.SCALE_CORE_SHARE:.0%}",
                met(scale.core_share <= targets.SCALE_CORE_SHARE),
            ),
            (
                f"Triggerer: {scale.count} triggers, CPU of the process, next to the floor",
                f"{scale.core_share:.1%} of a core",
                f"aiohttp and signing alone {floor_scale.core_share:.1%}",
                ratio_text(ratio(scale.core_share, floor_scale.core_share)),
                "",
                "",
            ),
            (
                f"Triggerer: {scale.count} triggers, event-loop lag p99",
                f"{scale.lag_p99_ms:.1f} ms",
                f"official SDK async {sdk_scale.lag_p99_ms:.1f} ms",
                ratio_text(ratio(scale.lag_p99_ms, sdk_scale.lag_p99_ms)),
                f"< {targets.SCALE_LAG_P99_MS:.0f} ms",
                met(scale.lag_p99_ms < targets.SCALE_LAG_P99_MS),
            ),
        ]
    pooled = all(
        run.emulators.connections_accepted * 10 < max(run.child["polls"], 1)
        for run in trig.runs
        if run.impl == "provider"
    )
    opened = sum(run.emulators.connections_accepted for run in trig.runs if run.impl == "provider")
    sdk_opened = sum(run.emulators.connections_accepted for run in trig.runs if run.impl == "sdk")
    polls = sum(run.child["polls"] for run in trig.runs if run.impl == "provider")
    rows.append(
        (
            "Triggerer: TCP connections opened during the windows",
            f"{opened} for {polls:.0f} polls",
            f"official SDK async {sdk_opened}" if any(run.impl == "sdk" for run in trig.runs) else "",
            "",
            "pooled, not per poll",
            met(pooled),
        )
    )
    return rows


def render(results: Results, plot_name: str | None) -> str:
    """The page; ``plot_name`` is the plot's file, next to it (``None``: no plot)."""
    m, parse, calls, trig = results.machine, results.parse, results.calls, results.triggerer
    plot = f" and `docs/{plot_name}`" if plot_name else ""
    lines = [
        "# Benchmarks",
        "",
        *prose(
            "What the provider costs the people who run it, each figure next to a baseline measured "
            "side by side in the same run. Ratios are what count: absolute times depend on the "
            "machine and on what else it was doing."
        ),
        *prose(f"Regenerate with `make bench` (here: `{results.command}`); it rewrites this file{plot}."),
        "## Where it ran",
        "",
        f"- {m.started}, revision {m.revision}",
        f"- {m.cpu}, {m.cores} cores, {m.memory_gib:.0f} GiB; {m.system}; Python {m.python}",
        f"- load average {m.load_at_start[0]:.2f} at the start, {m.load_at_end[0]:.2f} at the end"
        + (
            " (a busy machine: the absolute figures are noisy)"
            if max(m.load_at_start[0], m.load_at_end[0]) > 1
            else ""
        ),
        "- " + ", ".join(f"{name} {version}" for name, version in m.versions.items()),
        "",
        "## Summary",
        "",
        *table(
            ("measure", "this provider", "baseline", "ratio", "target", ""),
            summary_rows(results),
        ),
        "",
        *(parse_section(parse) if parse is not None else []),
        *(calls_section(calls) if calls is not None else []),
        *(triggerer_section(trig, plot_name) if trig is not None else []),
        *(batching_section(trig) + grid_section(trig) if trig is not None else []),
        *quota_section(results.quota),
        *emulator_section(calls, trig, results.quota),
    ]
    return "\n".join(lines) + "\n"
