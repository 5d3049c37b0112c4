"""Command line of the emulator: ``schedulerx-emulator`` /
``python -m airflow_provider_schedulerx.emulator``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from airflow_provider_schedulerx.config import DEFAULT_TIMEZONE
from airflow_provider_schedulerx.emulator.faults import FAULT_KINDS
from airflow_provider_schedulerx.emulator.identities import DEFAULT_OIDC_PROVIDER_ARN
from airflow_provider_schedulerx.emulator.server import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    DEFAULT_GROUP_ID,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_NAMESPACE,
    DEFAULT_REGION_ID,
    Emulator,
)
from airflow_provider_schedulerx.emulator.store import DEFAULT_KEEP_INSTANCES

__all__ = ["build_parser", "main"]

READY_LINE = "SchedulerX emulator listening on {url}"
SECRET_ENVIRONMENT_VARIABLE = "SCHEDULERX_EMULATOR_ACCESS_KEY_SECRET"


def access_key_secret(args: argparse.Namespace) -> str:
    """The secret from the flag, the file, the environment or the demo default, in that order."""
    if args.access_key_secret:
        return str(args.access_key_secret)
    if args.access_key_secret_file is not None:
        secret = args.access_key_secret_file.read_text(encoding="utf-8").strip()
        if not secret:
            raise ValueError(f"{args.access_key_secret_file} holds no secret")
        return secret
    return os.environ.get(SECRET_ENVIRONMENT_VARIABLE) or DEFAULT_ACCESS_KEY_SECRET


def _flag(kind: str) -> str:
    return kind.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the flags)."""
    parser = argparse.ArgumentParser(
        prog="schedulerx-emulator",
        description="A local SchedulerX OpenAPI server (with STS) for demos and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8866, help="port, 0 for any (default 8866)")
    parser.add_argument("--access-key-id", default=DEFAULT_ACCESS_KEY_ID)
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument(
        "--access-key-secret",
        help=f"the AccessKey secret (default: ${SECRET_ENVIRONMENT_VARIABLE}, else the demo one); "
        "on the command line it shows in the process list, so prefer the file or the variable",
    )
    secret.add_argument(
        "--access-key-secret-file",
        type=Path,
        metavar="FILE",
        help="read the AccessKey secret from this file",
    )
    parser.add_argument("--jobs", type=Path, metavar="FILE", help="JSON jobs file")
    parser.add_argument(
        "--strict-jobs",
        action="store_true",
        help="refuse unknown job ids instead of creating a default job",
    )
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE)
    parser.add_argument("--group-id", default=DEFAULT_GROUP_ID)
    parser.add_argument("--region-id", default=DEFAULT_REGION_ID)
    parser.add_argument("--timezone", default=DEFAULT_TIMEZONE, help="zone of reply times")
    parser.add_argument(
        "--sts-max-lifetime",
        type=float,
        metavar="SECONDS",
        help="cap on the lifetime of STS credentials it issues",
    )
    parser.add_argument("--oidc-provider-arn", default=DEFAULT_OIDC_PROVIDER_ARN)
    parser.add_argument(
        "--oidc-token-file",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="accept the OIDC token in this file for AssumeRoleWithOIDC (repeatable)",
    )
    parser.add_argument("--seed", type=int, help="seed of rate-based faults")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=DEFAULT_IDLE_TIMEOUT,
        metavar="SECONDS",
        help=f"close connections idle or stuck in a request this long (default {DEFAULT_IDLE_TIMEOUT:g})",
    )
    parser.add_argument(
        "--keep-instances",
        type=int,
        default=DEFAULT_KEEP_INSTANCES,
        metavar="N",
        help=f"finished instances to keep; older ones are forgotten (default {DEFAULT_KEEP_INSTANCES})",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        metavar="N",
        help="flow control: answer HTTP 400 Throttling.User, without running the action, to "
        "SchedulerX calls beyond N per second per AccessKey (a token bucket: bursts of up to N); "
        "default: no limit",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        help="log level of the request log (default INFO)",
    )

    faults = parser.add_argument_group("fault injection")
    for kind, meaning in FAULT_KINDS.items():
        flag = _flag(kind)
        faults.add_argument(
            f"--{flag}-rate",
            type=float,
            metavar="P",
            help=f"probability: {meaning}",
        )
        faults.add_argument(
            f"--{flag}-count",
            type=int,
            metavar="N",
            help=f"the next N requests: {meaning}",
        )
    faults.add_argument(
        "--slow-seconds",
        type=float,
        metavar="S",
        help="delay of slow replies (default 1)",
    )
    faults.add_argument(
        "--throttle-retry-after-ms",
        type=int,
        metavar="MS",
        help="x-acs-retry-after of throttled replies (default 100, 0 for none)",
    )
    faults.add_argument(
        "--fault-actions",
        metavar="A,B",
        help="limit every fault set on the command line to these actions",
    )
    return parser


def configure_faults(emulator: Emulator, args: argparse.Namespace) -> None:
    """Apply the fault flags to an emulator."""
    actions = None
    if args.fault_actions:
        actions = [name.strip() for name in args.fault_actions.split(",") if name.strip()]
    for kind in FAULT_KINDS:
        rate = getattr(args, f"{kind}_rate")
        count = getattr(args, f"{kind}_count")
        if rate is None and count is None:
            continue
        seconds = None
        if kind == "slow":
            seconds = args.slow_seconds
        elif kind == "throttle" and args.throttle_retry_after_ms is not None:
            seconds = args.throttle_retry_after_ms / 1000
        emulator.faults.set(kind, rate=rate, count=count, actions=actions, seconds=seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until Ctrl-C or SIGTERM.

    :param argv: arguments (default: ``sys.argv[1:]``).
    :returns: the exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        oidc_tokens = [path.read_text(encoding="utf-8").strip() for path in args.oidc_token_file]
        emulator = Emulator(
            args.access_key_id,
            access_key_secret(args),
            jobs_file=args.jobs,
            strict_jobs=args.strict_jobs,
            namespace=args.namespace,
            group_id=args.group_id,
            region_id=args.region_id,
            host=args.host,
            port=args.port,
            sts_max_lifetime=args.sts_max_lifetime,
            seed=args.seed,
            timezone=args.timezone,
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_tokens=oidc_tokens,
            idle_timeout=args.idle_timeout,
            keep_instances=args.keep_instances,
            rate_limit=args.rate_limit,
        )
        configure_faults(emulator, args)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        emulator.start()
    except OSError as exc:
        print(
            f"schedulerx-emulator: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    print(READY_LINE.format(url=emulator.url), flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
