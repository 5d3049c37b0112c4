"""``python -m benchmarks``: run the three benchmarks and write the report and its plot."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from benchmarks import api_calls, machine, parse_cost, plot, report, triggerer
from benchmarks.environment import REPO


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--parse-runs", type=int, default=11, help="fresh interpreters per candidate")
    parser.add_argument("--call-rounds", type=int, default=21, help="rounds per sync client")
    parser.add_argument("--calls-per-round", type=int, default=100)
    parser.add_argument("--counts", default="100,1000,5000", help="numbers of concurrent triggers")
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval of the triggers (s)")
    parser.add_argument("--window", type=float, default=10.0, help="measured seconds per triggerer run")
    parser.add_argument("--emulators", type=int, default=2, help="emulator processes for the triggers")
    parser.add_argument(
        "--rounds", type=int, default=3, help="triggerer runs per client and N, merged by median"
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs and shorter windows: a smoke test")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "benchmarks.png")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.quick:
        args.parse_runs, args.call_rounds, args.calls_per_round = 3, 3, 100
        args.counts, args.interval, args.window, args.rounds = "100,1000", 2.0, 4.0, 1
    counts = [int(count) for count in args.counts.split(",")]
    command = shlex.join(["python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)])
    host = machine.describe()

    print(f"1/3 DAG-parse cost: {args.parse_runs} fresh interpreters per candidate", flush=True)
    parse = parse_cost.run(args.parse_runs)
    print(f"2/3 sync API calls: {args.call_rounds} rounds of {args.calls_per_round}", flush=True)
    calls = api_calls.run(args.call_rounds, args.calls_per_round)
    print(
        f"3/3 triggerer: N = {counts}, {args.interval:g} s interval, {args.window:g} s window, "
        f"{args.rounds} round(s)",
        flush=True,
    )
    trig = triggerer.run(counts, args.interval, args.window, args.emulators, args.rounds)
    host.finish()

    results = report.Results(machine=host, command=command, parse=parse, calls=calls, triggerer=trig)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    plot.plot(trig, args.plot)
    args.output.write_text(report.render(results, args.plot.name), encoding="utf-8")
    for row in report.summary_rows(results):
        print(" | ".join(cell for cell in row if cell))
    print(f"wrote {args.output} and {args.plot}")


if __name__ == "__main__":
    main()
