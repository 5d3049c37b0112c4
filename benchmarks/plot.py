"""The plot of ``docs/benchmarks.md``: CPU per poll and loop lag against N."""

from __future__ import annotations

from pathlib import Path

from benchmarks import targets
from benchmarks.triggerer import TriggererResults


def plot(trig: TriggererResults, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = trig.counts
    figure, (cpu_axis, lag_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {
        "provider": ("this provider", "tab:orange"),
        "sdk": ("official SDK async", "tab:blue"),
        "floor": ("floor: aiohttp and signing", "tab:gray"),
    }
    for impl, (label, color) in styles.items():
        runs = [trig.get(impl, n) for n in counts]
        cpu_axis.plot(counts, [r.cpu_per_poll_us for r in runs], "o-", color=color, label=label)
        lag_axis.plot(counts, [r.lag_p99_ms for r in runs], "o-", color=color, label=f"{label}, p99")
        lag_axis.plot(
            counts, [r.lag_p50_ms for r in runs], "o--", color=color, alpha=0.6, label=f"{label}, p50"
        )
    cpu_axis.set(xscale="log", xlabel="concurrent triggers (N)", ylabel="CPU per poll (µs)", ylim=(0, None))
    cpu_axis.set_title("CPU per poll")
    # Logarithmic: the baseline's worst lags are a hundred times the provider's.
    lag_axis.set(xscale="log", yscale="log", xlabel="concurrent triggers (N)", ylabel="event-loop lag (ms)")
    lag_axis.axhline(targets.SCALE_LAG_P99_MS, color="grey", linestyle=":", label="p99 target")
    lag_axis.set_title("Event-loop lag")
    for axis in (cpu_axis, lag_axis):
        axis.set_xticks(counts, [str(n) for n in counts])
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(f"Triggerer: N triggers polling every {trig.runs[0].interval:.0f} s in one process")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
