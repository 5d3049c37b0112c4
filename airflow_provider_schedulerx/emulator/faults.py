"""Fault injection: which requests the emulator spoils, and how."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["FAULT_KINDS", "FaultRule", "Faults"]

THROTTLE = "throttle"
SERVER_ERROR = "server_error"
RESET = "reset"
RESET_AFTER = "reset_after"
CUT = "cut"
SLOW = "slow"
MALFORMED = "malformed"
CLOCK_SKEW = "clock_skew"
EXPIRED_CREDENTIALS = "expired_credentials"

FAULT_KINDS: dict[str, str] = {
    THROTTLE: "HTTP 400 Throttling.User with an x-acs-retry-after header (ms)",
    SERVER_ERROR: "HTTP 503 ServiceUnavailable and HTTP 500 InternalError, in turn",
    RESET: "drop the connection without a reply, before the action runs",
    RESET_AFTER: "run the action, then drop the connection without a reply",
    CUT: "run the action, then drop the connection halfway through the reply's body",
    SLOW: "run the action, then wait `seconds` before replying",
    MALFORMED: "HTTP 200 with a truncated JSON body",
    CLOCK_SKEW: "HTTP 400 InvalidTimeStamp.Expired, as if the client's clock were off",
    EXPIRED_CREDENTIALS: "HTTP 400 InvalidSecurityToken.Expired",
}
DEFAULT_SECONDS: dict[str, float] = {THROTTLE: 0.1, SLOW: 1.0}

# The order in which the kinds that replace the action's reply are tried.
PRE_ACTION_KINDS = (THROTTLE, SERVER_ERROR, CLOCK_SKEW, EXPIRED_CREDENTIALS)


@dataclass
class FaultRule:
    """One configured fault.

    :param kind: one of :data:`FAULT_KINDS`.
    :param rate: probability for each matching request (1.0 when neither rate nor count is
        given).
    :param count: fire for the next ``count`` matching requests only (with ``rate``: at most
        that many times).
    :param actions: limit to these actions; ``None`` for all.
    :param jobs: limit to requests naming one of these job ids (``JobId``); ``None`` for all.
    :param seconds: ``slow``: delay; ``throttle``: the retry-after to announce (0: none).
    """

    kind: str
    rate: float | None = None
    count: int | None = None
    actions: frozenset[str] | None = None
    jobs: frozenset[int] | None = None
    seconds: float | None = None

    @property
    def delay(self) -> float:
        return self.seconds if self.seconds is not None else DEFAULT_SECONDS.get(self.kind, 0.0)


class Faults:
    """The faults the emulator injects. Thread-safe; changes apply to the next request.

    ``emu.faults.set("throttle", count=2)`` throttles the next two requests;
    ``emu.faults.set("server_error", rate=0.1, actions=["GetJobInstance"])`` fails a tenth
    of the GetJobInstance calls; ``emu.faults.clear()`` stops all of them.

    :param seed: seed of the random numbers behind rate-based faults.
    """

    def __init__(self, seed: int | None = None) -> None:
        # One rule per kind and set of jobs: a kind set for all jobs and one set for a few
        # jobs (tests running side by side) are apart; the one for named jobs goes first.
        self._rules: dict[tuple[str, frozenset[int] | None], FaultRule] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server_errors = 0

    def set(
        self,
        kind: str,
        rate: float | None = None,
        count: int | None = None,
        actions: Iterable[str] | None = None,
        seconds: float | None = None,
        jobs: Iterable[int] | None = None,
    ) -> FaultRule:
        """Inject a fault (replacing an earlier setting of that kind for the same jobs).

        :param kind: one of :data:`FAULT_KINDS`.
        :param rate: probability per matching request, 0 to 1.
        :param count: number of matching requests to spoil.
        :param actions: action names to limit the fault to.
        :param jobs: job ids to limit the fault to (so that tests running side by side on one
            emulator spoil only their own job's calls).
        :param seconds: delay for ``slow``; retry-after for ``throttle``.
        :raises ValueError: unknown kind or values out of range.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {sorted(FAULT_KINDS)}")
        if rate is not None and not 0 <= rate <= 1:
            raise ValueError(f"{kind}: rate must be between 0 and 1, got {rate}")
        if count is not None and count < 0:
            raise ValueError(f"{kind}: count must be >= 0, got {count}")
        if seconds is not None and seconds < 0:
            raise ValueError(f"{kind}: seconds must be >= 0, got {seconds}")
        if isinstance(actions, str):
            actions = [actions]
        rule = FaultRule(
            kind=kind,
            rate=rate,
            count=count,
            actions=None if actions is None else frozenset(actions),
            jobs=None if jobs is None else frozenset(int(job) for job in jobs),
            seconds=seconds,
        )
        with self._lock:
            self._rules[(kind, rule.jobs)] = rule
        return rule

    def clear(self, kind: str | None = None) -> None:
        """Stop injecting one kind of fault, or all of them.

        :param kind: the kind; ``None`` for all.
        """
        with self._lock:
            if kind is None:
                self._rules.clear()
            else:
                for key in [key for key in self._rules if key[0] == kind]:
                    del self._rules[key]

    def active(self) -> dict[str, FaultRule]:
        """The faults currently set, by kind (for several sets of jobs, the last set)."""
        with self._lock:
            return {kind: rule for (kind, _), rule in self._rules.items()}

    def __bool__(self) -> bool:
        return bool(self._rules)

    def draw(self, kind: str, action: str, job_id: int | None = None) -> FaultRule | None:
        """Decide whether this request gets fault ``kind``; uses up one of a counted fault.

        :returns: the rule when it fires, else ``None``.
        """
        if not self._rules:
            return None
        with self._lock:
            for key, rule in sorted(self._rules.items(), key=lambda item: item[0][1] is None):
                if key[0] != kind or (rule.actions is not None and action not in rule.actions):
                    continue
                if rule.jobs is not None and job_id not in rule.jobs:
                    continue
                return self._fire(key, rule)
            return None

    def _fire(self, key: tuple[str, frozenset[int] | None], rule: FaultRule) -> FaultRule | None:
        if rule.rate is not None and self._rng.random() >= rule.rate:
            return None
        if rule.count is not None:
            if rule.count <= 0:
                del self._rules[key]
                return None
            rule.count -= 1
            if rule.count == 0:
                del self._rules[key]
        return rule

    def next_server_error(self) -> tuple[int, str, str]:
        """Alternate between 503 ServiceUnavailable and 500 InternalError."""
        with self._lock:
            self._server_errors += 1
            odd = self._server_errors % 2 == 1
        if odd:
            return (
                503,
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            )
        return 500, "InternalError", "The request processing has failed due to some unknown error."
