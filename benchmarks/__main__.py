"""``python -m benchmarks``: run the benchmarks and write the report and its plot."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from benchmarks import api_calls, machine, parse_cost, plot, quota, report, targets, triggerer
from benchmarks.environment import REPO
from benchmarks.sections_polls import grid_trials, grid_verdict

BENCHMARKS = ("parse", "calls", "triggerer", "quota")
POLL_BATCHING = {"default": None, "on": True, "off": False}


def _names(text: str, known: tuple[str, ...], what: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if unknown := sorted(set(names) - set(known)):
        raise argparse.ArgumentTypeError(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return names


def _counts(text: str) -> list[int]:
    return [int(count) for count in text.split(",") if count.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        type=lambda text: _names(text, BENCHMARKS, "benchmark"),
        default=list(BENCHMARKS),
        help=f"the benchmarks to run, of {','.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument("--parse-runs", type=int, default=11, help="fresh interpreters per candidate")
    parser.add_argument("--call-rounds", type=int, default=21, help="rounds per sync client")
    parser.add_argument("--calls-per-round", type=int, default=100)
    parser.add_argument(
        "--counts", type=_counts, default=[100, 1000, 5000], help="numbers of concurrent triggers"
    )
    parser.add_argument(
        "--impls",
        type=lambda text: _names(text, triggerer.IMPLEMENTATIONS, "implementation"),
        default=list(triggerer.IMPLEMENTATIONS),
        help=f"the triggerer benchmark's arms, of {','.join(triggerer.IMPLEMENTATIONS)} (default: all)",
    )
    parser.add_argument(
        "--grid-counts",
        type=_counts,
        default=list(targets.GRID_TRIAL_COUNTS),
        help="the N at which the poll grid is tried against plain sleeps (the nogrid arm)",
    )
    parser.add_argument(
        "--parity-count", type=int, default=targets.BATCHED_COUNT, help="instances of the parity phase"
    )
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval of the triggers (s)")
    parser.add_argument("--window", type=float, default=10.0, help="measured seconds per triggerer run")
    parser.add_argument("--emulators", type=int, default=2, help="emulator processes for the triggers")
    parser.add_argument(
        "--rounds", type=int, default=3, help="triggerer runs per client and N, merged by median"
    )
    parser.add_argument("--quota-count", type=int, default=targets.QUOTA_COUNT, help="tasks on distinct jobs")
    parser.add_argument(
        "--quota-limit", type=float, default=targets.QUOTA_LIMIT, help="the emulator's calls/s and the budget"
    )
    parser.add_argument(
        "--quota-interval", type=float, default=targets.QUOTA_INTERVAL, help="their poll interval (s)"
    )
    parser.add_argument(
        "--quota-run-seconds",
        type=float,
        default=targets.QUOTA_RUN_SECONDS,
        help="how long each instance runs",
    )
    parser.add_argument(
        "--quota-spare-seconds",
        type=float,
        default=targets.QUOTA_SPARE_SECONDS,
        help="how long after the last instance ended a run gives up",
    )
    parser.add_argument(
        "--quota-poll-batching",
        choices=sorted(POLL_BATCHING),
        default="default",
        help="the quota connections' poll_batching (default: the connection's default)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs and shorter windows: a smoke test")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "benchmarks.png")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.quick:
        args.parse_runs, args.call_rounds, args.calls_per_round = 3, 3, 100
        args.counts, args.interval, args.window, args.rounds = [100, 1000], 2.0, 4.0, 1
        args.quota_count, args.quota_interval, args.quota_run_seconds, args.quota_spare_seconds = (
            500,
            2.0,
            15.0,
            60.0,
        )
    command = shlex.join(["python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)])
    host = machine.describe()
    steps = [name for name in BENCHMARKS if name in args.only]
    step = iter(f"{index}/{len(steps)}" for index in range(1, len(steps) + 1))

    parse = calls = trig = limit = None
    if "parse" in steps:
        print(f"{next(step)} DAG-parse cost: {args.parse_runs} fresh interpreters per candidate", flush=True)
        parse = parse_cost.run(args.parse_runs)
    if "calls" in steps:
        print(f"{next(step)} sync API calls: {args.call_rounds} rounds of {args.calls_per_round}", flush=True)
        calls = api_calls.run(args.call_rounds, args.calls_per_round)
    if "triggerer" in steps:
        print(
            f"{next(step)} triggerer: N = {args.counts}, {','.join(args.impls)}, "
            f"{args.interval:g} s interval, {args.window:g} s window, {args.rounds} round(s)",
            flush=True,
        )
        trig = triggerer.run(
            args.counts,
            args.interval,
            args.window,
            args.emulators,
            args.rounds,
            impls=args.impls,
            grid_trial_counts=args.grid_counts,
            parity_count=args.parity_count,
        )
    if "quota" in steps:
        print(
            f"{next(step)} the account's limit: {args.quota_count} tasks on distinct jobs, "
            f"{args.quota_limit:g} calls/s, {args.quota_interval:g} s interval",
            flush=True,
        )
        limit = quota.run(
            args.quota_count,
            args.quota_limit,
            args.quota_interval,
            args.quota_run_seconds,
            args.quota_spare_seconds,
            POLL_BATCHING[args.quota_poll_batching],
        )
    host.finish()

    results = report.Results(
        machine=host, command=command, parse=parse, calls=calls, triggerer=trig, quota=limit
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if trig is not None:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot.plot(trig, args.plot)
    args.output.write_text(report.render(results, args.plot.name if trig else None), encoding="utf-8")
    for row in report.summary_rows(results):
        print(" | ".join(cell for cell in row if cell))
    if trig is not None and (trials := grid_trials(trig)):
        print(grid_verdict(trials))
    print(f"wrote {args.output}" + (f" and {args.plot}" if trig is not None else ""))


if __name__ == "__main__":
    main()
