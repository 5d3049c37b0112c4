"""The part of ``docs/benchmarks.md`` on benchmark 4, the account's limit, with its rows of
the summary."""

from __future__ import annotations

from benchmarks import targets
from benchmarks.quota import QuotaResults, QuotaRun
from benchmarks.sections import met, prose, ratio_text, table

Row = tuple[str, str, str, str, str, str]


def _setting(quota: QuotaResults) -> str:
    return f"{quota.count:,} tasks on distinct jobs, emulator at {quota.limit:g} calls/s"


def quota_rows(quota: QuotaResults | None) -> list[Row]:
    if quota is None:
        return []
    limited, free = quota.runs["budget"], quota.runs["no budget"]
    line = quota.line_seconds
    return [
        (
            f"Account's limit: throttling errors reaching tasks ({_setting(quota)}, "
            f"budget {limited.budget:g})",
            f"{limited.throttling_events} ({limited.error_events} error events in all; "
            f"{limited.throttled} throttled replies, retried)",
            f"no budget: {free.throttling_events} ({free.throttled:,} throttled replies)",
            "",
            "0",
            met(limited.error_events == 0),
        ),
        (
            "Account's limit: tasks completed",
            f"{limited.completed:,} of {limited.count:,}",
            f"no budget: {free.completed:,} ({free.failed:,} failed)",
            "",
            "all",
            met(limited.completed == limited.count),
        ),
        (
            "Account's limit: extra delay of a completion, p99 (max)",
            f"{limited.delay(0.99):.0f} s ({limited.max_delay:.0f} s)",
            f"N / budget = {line:.0f} s; no budget {free.delay(0.99):.0f} s ({free.max_delay:.0f} s)",
            ratio_text(limited.delay(0.99) / line),
            f"within about N / budget (<= {targets.QUOTA_DELAY_ALLOWANCE}x)",
            met(limited.delay(0.99) <= targets.QUOTA_DELAY_ALLOWANCE * line),
        ),
    ]


def _run_row(run: QuotaRun) -> tuple[str, ...]:
    errors = ", ".join(f"{code} {count:,}" for code, count in sorted(run.client_errors.items())) or "none"
    return (
        run.name,
        f"{run.budget:g}" if run.budget else "none",
        f"{run.completed:,}",
        f"{run.error_events:,} ({run.throttling_events:,})",
        f"{run.unfinished:,}",
        f"{run.throttled:,}",
        f"{run.retries:,}; {errors}",
        f"{run.accepted_calls_per_second:.1f}",
        " / ".join(f"{run.delay(share):.1f}" for share in (0.5, 0.99)) + f" / {run.max_delay:.1f}",
        f"{run.last_event_seconds:.0f}",
    )


def quota_section(quota: QuotaResults | None) -> list[str]:
    if quota is None:
        return []
    batching = {None: "its default", True: "on", False: "off"}[quota.poll_batching]
    lines = [
        "## 4. The account's limit",
        "",
        *prose(
            f"{quota.count:,} deferred tasks, each waiting on an instance of a job of its own, "
            f"against one emulator process whose flow control lets {quota.limit:g} calls a second "
            "through per AccessKey and answers the rest `Throttling.User`, as the service does. "
            f"The provider's triggers poll every {quota.interval:g} s ({quota.count / quota.interval:.0f} "
            "calls a second wanted) in one fresh process (`benchmarks/waits_child.py`), started "
            "over the first interval as tasks defer at different moments; the connection keeps "
            f"its retries (`max_retries` 5) and its `poll_batching` at {batching}. Two runs on "
            "the same emulator, each on fresh instances that start together and run for "
            f"{quota.run_seconds:g} s: one with the connection's call budget "
            f"(`max_calls_per_second`) at {quota.limit:g}, one without a budget (0). A task "
            "completed when its trigger sent a success event; it failed with an error event, "
            f"or with none {quota.spare_seconds:g} s after the last instance ended, when the run "
            "stops. The extra delay of a completion is its event's time less its instance's end: "
            f"with a budget, every trigger's poll waits its turn in one line, which takes N / "
            f"budget = {quota.line_seconds:.0f} s to pass."
        ),
        *table(
            (
                "run",
                "budget (calls/s)",
                "completed",
                "error events (of them throttling)",
                "no event",
                "throttled replies",
                "client retries; errors seen",
                "calls/s let through",
                "extra delay p50 / p99 / max (s)",
                "last event (s after the start)",
            ),
            [_run_row(run) for run in quota.runs.values()],
        ),
        "",
    ]
    first_errors = [f"{run.name}: {run.first_error}" for run in quota.runs.values() if run.first_error]
    if first_errors:
        lines += prose("The first error event of each run: " + "; ".join(first_errors) + ".")
    return lines
