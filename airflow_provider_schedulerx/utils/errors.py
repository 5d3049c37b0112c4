"""How a SchedulerX task fails, in one place for every task and mode.

What a retry can fix is an ``AirflowException`` (Airflow retries it under ``retries=``, and
Airflow 3.3's ``RetryRule`` can name these classes); what it cannot fix (bad input,
credentials, permissions, an unknown job) is an ``AirflowFailException``.
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_schedulerx.exceptions import SchedulerXError

__all__ = [
    "SchedulerXInstanceFailed",
    "SchedulerXUnavailable",
    "SchedulerXWaitTimeout",
    "task_error",
]


class SchedulerXInstanceFailed(AirflowException):
    """The instance ended in a failure status, or in a final status in neither list: a
    retry of an operator starts a new instance; a retry of a sensor waits again."""


class SchedulerXWaitTimeout(AirflowException):
    """The task's deadline passed before the instance finished (an instance the task
    started is stopped first), as Airflow's own ``execution_timeout`` fails a try."""


class SchedulerXUnavailable(AirflowException):
    """The service kept failing with transient errors: a retry follows the same instance."""


def task_error(error: SchedulerXError) -> AirflowException:
    """The Airflow exception a SchedulerX error ends a try with."""
    if error.retryable:
        return SchedulerXUnavailable(f"SchedulerX kept failing: {error}")
    return AirflowFailException(str(error))
