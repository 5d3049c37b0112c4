"""When to send a failed request again, and after how long."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from airflow_provider_schedulerx.exceptions import (
    SchedulerXConnectionError,
    SchedulerXError,
    SchedulerXOutcomeUnknownError,
    SchedulerXStartCollisionError,
    SchedulerXThrottledError,
)

__all__ = ["NON_IDEMPOTENT_PREFIXES", "RetryPolicy", "is_idempotent"]

# Actions whose repetition would repeat their effect (a second job run, a second rerun).
NON_IDEMPOTENT_PREFIXES = ("Execute", "Retry", "Rerun", "Create", "Batch", "Copy", "Grant")
#: The least time worth starting another attempt with.
MIN_ATTEMPT_SECONDS = 0.1


def is_idempotent(action: str) -> bool:
    return not action.startswith(NON_IDEMPOTENT_PREFIXES)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by a count and by the time the call has left.

    Only transient errors are retried. A call that must not run twice is retried only when
    the request surely did not take effect (throttled, or the connection was never made);
    any other failure of such a call becomes :class:`SchedulerXOutcomeUnknownError`.
    """

    max_retries: int = 5
    backoff: float = 0.5
    backoff_max: float = 20.0
    random: Callable[[], float] = random.random

    def delay(
        self, error: SchedulerXError, retries_done: int, time_left: float, idempotent: bool
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up: also when the
        wait would leave the attempt less than ``MIN_ATTEMPT_SECONDS`` of the call's time."""
        if not error.retryable:
            return None
        if not idempotent and not _surely_not_applied(error):
            return None
        collision = isinstance(error, SchedulerXStartCollisionError)
        if retries_done >= self.max_retries and not collision:
            # A collision is the service asking for the next second, not a failure: it is
            # ridden out for as long as the call has time.
            return None
        wait = min(self.backoff_max, self.backoff * (2**retries_done))
        wait *= 0.5 + self.random() / 2
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            wait = max(wait, min(retry_after, self.backoff_max))
        if wait + MIN_ATTEMPT_SECONDS > time_left:
            return None
        return wait

    @staticmethod
    def final_error(error: SchedulerXError, action: str, idempotent: bool) -> SchedulerXError:
        """The error to raise once retrying stops."""
        if not idempotent and error.retryable and not _surely_not_applied(error):
            return SchedulerXOutcomeUnknownError(
                f"{action} may or may not have taken effect: {error.message}",
                code=error.code,
                request_id=error.request_id,
                http_status=error.http_status,
            )
        return error


def _surely_not_applied(error: SchedulerXError) -> bool:
    if isinstance(error, SchedulerXThrottledError):
        return True
    return isinstance(error, SchedulerXConnectionError) and not error.sent
