"""The plot of ``docs/benchmarks.md``: CPU per poll, loop lag and API calls per second
against N."""

from __future__ import annotations

from pathlib import Path

from benchmarks import targets
from benchmarks.triggerer import TriggererResults

STYLES = {
    "provider": ("this provider", "tab:orange"),
    "batched": ("this provider, one poll per job", "tab:green"),
    "nogrid": ("this provider, plain sleeps", "tab:red"),
    "sdk": ("official SDK async", "tab:blue"),
    "floor": ("floor: aiohttp and signing", "tab:gray"),
}
#: What each panel shows: the CPU and lag of the per-instance pollers, the calls of the
#: per-instance and batched triggers and of the SDK.
CPU_AND_LAG = ("provider", "sdk", "floor")
CALLS = ("provider", "batched", "sdk")


def plot(trig: TriggererResults, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (cpu_axis, lag_axis, calls_axis) = plt.subplots(1, 3, figsize=(16, 4.6))
    for impl in CPU_AND_LAG:
        label, color = STYLES[impl]
        counts = trig.counts_of(impl)
        runs = [trig.get(impl, n) for n in counts]
        cpu_axis.plot(counts, [r.cpu_per_poll_us for r in runs], "o-", color=color, label=label)
        lag_axis.plot(counts, [r.lag_p99_ms for r in runs], "o-", color=color, label=f"{label}, p99")
        lag_axis.plot(
            counts, [r.lag_p50_ms for r in runs], "o--", color=color, alpha=0.6, label=f"{label}, p50"
        )
    # Per instance, the provider and the SDK make the same calls: the provider's line is
    # drawn wider, under the SDK's, so that both show.
    for impl, style, width in zip(CALLS, ("s-", "o-", "o-"), (5, 1.5, 1.5)):
        label, color = STYLES[impl]
        label = "this provider, one poll per instance" if impl == "provider" else label
        counts = trig.counts_of(impl)
        calls = [trig.get(impl, n).polls_per_second for n in counts]
        calls_axis.plot(counts, calls, style, color=color, label=label, linewidth=width, markersize=width + 4)
    cpu_axis.set(xscale="log", xlabel="concurrent triggers (N)", ylabel="CPU per poll (µs)", ylim=(0, None))
    cpu_axis.set_title("CPU per poll")
    # Logarithmic: the baseline's worst lags are a hundred times the provider's.
    lag_axis.set(xscale="log", yscale="log", xlabel="concurrent triggers (N)", ylabel="event-loop lag (ms)")
    lag_axis.axhline(targets.SCALE_LAG_P99_MS, color="grey", linestyle=":", label="p99 target")
    lag_axis.set_title("Event-loop lag")
    # Logarithmic: one poll per job makes a hundredth of the calls.
    calls_axis.set(
        xscale="log", yscale="log", xlabel="instances of one job waited on (N)", ylabel="API calls per second"
    )
    calls_axis.set_title("API calls per second")
    for axis in (cpu_axis, lag_axis, calls_axis):
        axis.set_xticks(trig.counts, [str(n) for n in trig.counts])
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(f"Triggerer: N triggers polling every {trig.runs[0].interval:.0f} s in one process")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
