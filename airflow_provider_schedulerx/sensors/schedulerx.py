"""Waiting on a SchedulerX job instance from a DAG."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from airflow.providers.common.compat.sdk import BaseSensorOperator

from airflow_provider_schedulerx.utils.tasks import (
    SchedulerXTaskMixin,
    default_deferrable,
    task_deadline,
)
from airflow_provider_schedulerx.utils.waiting import (
    ErrorStreak,
    Verdict,
    WaitPolicy,
    check_flag,
    check_poll_interval,
    check_timeout,
)

__all__ = ["SchedulerXJobInstanceSensor"]

#: The task state key of a rescheduled sensor's failed polls in a row.
FAILED_POLLS_KEY = "schedulerx_failed_polls"


class SchedulerXJobInstanceSensor(SchedulerXTaskMixin, BaseSensorOperator):
    """Waits until a SchedulerX job instance reaches a final status.

    Done on a status in ``success_statuses``: the instance, as a dict, is the task's XCom
    return value, and its summary and log tail are logged. A status in ``failure_statuses``,
    or a final status in neither list, fails the try with the instance's ``Result`` and log
    tail, retryably (a rerun in SchedulerX can satisfy the next try). The sensor's own
    ``timeout`` ends it as Airflow's sensors end (``AirflowSensorTimeout``, not retried);
    the instance, which the sensor did not start, is left alone.

    .. code-block:: python

        wait = SchedulerXJobInstanceSensor(
            task_id="wait",
            job_id=1234,
            job_instance_id="{{ ti.xcom_pull('start_job', key='job_instance_id') }}",
            mode="reschedule",  # or deferrable=True: the triggerer waits
            poke_interval=60,
        )

    :param job_id: the SchedulerX job (templated).
    :param job_instance_id: the instance to wait on (templated).
    :param schedulerx_conn_id: the Airflow connection.
    :param namespace: namespace, if not the connection's (templated).
    :param group_id: application group, if not the connection's (templated).
    :param success_statuses: statuses that end the wait successfully (numbers or names;
        default ``[success]``).
    :param failure_statuses: statuses that fail the try (default ``[failed, killed,
        rejected, partial failed]``; an empty list stays empty).
    :param deferrable: wait in the triggerer instead of a worker slot (default:
        ``[operators] default_deferrable``).

    A poke that still fails after the client's retries with a transient error (throttling,
    5xx, a dropped connection) counts as "not yet", up to ten failed pokes in a row, counted
    across reschedules.
    """

    template_fields: Sequence[str] = ("job_id", "job_instance_id", "namespace", "group_id")

    def __init__(
        self,
        *,
        job_id: int | str,
        job_instance_id: int | str,
        success_statuses: Iterable[int | str] | None = None,
        failure_statuses: Iterable[int | str] | None = None,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        # Checked before Airflow's own checks, which fail on some (an infinite timeout) with
        # an error that does not name the setting.
        if "poke_interval" in kwargs:
            check_poll_interval(_seconds(kwargs["poke_interval"]), "poke_interval")
        if kwargs.get("timeout") is not None:
            check_timeout(_seconds(kwargs["timeout"]), "timeout")
        super().__init__(**kwargs)
        self.job_id = job_id
        self.job_instance_id = job_instance_id
        self.policy = WaitPolicy.of(success_statuses, failure_statuses)
        self.deferrable = default_deferrable() if deferrable is None else check_flag(deferrable, "deferrable")
        self.poke_interval = check_poll_interval(self.poke_interval, "poke_interval")
        self.timeout = check_timeout(self.timeout, "timeout") or 0
        self._streak = ErrorStreak()

    def _ids(self) -> tuple[int, int]:
        self.check_scope()
        return self.checked_id(self.job_id, "job_id"), self.checked_id(
            self.job_instance_id, "job_instance_id"
        )

    # -- poke and reschedule --------------------------------------------------------------

    def poke(self, context: Any) -> Any:
        from airflow.providers.common.compat.sdk import PokeReturnValue

        from airflow_provider_schedulerx.exceptions import SchedulerXError
        from airflow_provider_schedulerx.utils.errors import task_error

        job_id, instance_id = self._ids()
        streak = self._failed_polls(context)
        try:
            instance = self.hook.get_job_instance(job_id, instance_id)
        except SchedulerXError as error:
            tolerated = streak.tolerates(error, self.log)
            self._keep_failed_polls(context, streak)
            if not tolerated:
                raise task_error(error) from None
            return False
        if streak.length:
            streak.reset()
            self._keep_failed_polls(context, streak)
        if not instance.status.recognized:
            self.log.warning("SchedulerX reported a status this provider does not know: %d", instance.status)
        verdict = self.policy.verdict(instance.status)
        if verdict is Verdict.SUCCESS:
            return PokeReturnValue(is_done=True, xcom_value=self.report(instance))
        if verdict is not Verdict.WAIT:
            self.fail_with(instance, verdict)
        self.log.info("%s", instance.summary())
        return False

    def _failed_polls(self, context: Any) -> ErrorStreak:
        """The streak of failed polls: in memory while the sensor pokes in one process, in
        the task state between reschedules."""
        if self.reschedule:
            from airflow_provider_schedulerx.utils.task_state import task_state_store

            store = task_state_store(context)
            stored = store.get(FAILED_POLLS_KEY) if store is not None else None
            return ErrorStreak(stored if isinstance(stored, int) else 0)
        return self._streak

    def _keep_failed_polls(self, context: Any, streak: ErrorStreak) -> None:
        if self.reschedule:
            from airflow_provider_schedulerx.utils.task_state import task_state_store

            store = task_state_store(context)
            if store is not None:
                store.set(FAILED_POLLS_KEY, streak.length)

    # -- deferred ---------------------------------------------------------------------

    def execute(self, context: Any) -> Any:
        self.push_console_url(context)
        if not self.deferrable:
            return super().execute(context)
        done = self.poke(context)
        if done:
            return done.xcom_value
        job_id, instance_id = self._ids()
        self.defer_to_trigger(
            job_id,
            instance_id,
            poll_interval=self.poke_interval,
            deadline=task_deadline(context, self.execution_timeout, self.timeout),
            failed_polls=self._failed_polls(context).length,
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Resume after the trigger's event."""
        from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSensorTimeout

        from airflow_provider_schedulerx.utils.errors import SchedulerXUnavailable

        status = event.get("status")
        if status == "success":
            return self.report(event["instance"])
        if status in ("failed", "unlisted"):
            self.fail_with(event["instance"], Verdict.FAILURE if status == "failed" else Verdict.UNLISTED)
        if status == "timeout":
            raise AirflowSensorTimeout(f"{event['message']} ({self.timeout:.0f}s)")
        message = str(event.get("message", f"unexpected trigger event {event!r}"))
        if event.get("retryable"):
            raise SchedulerXUnavailable(f"SchedulerX kept failing: {message}")
        raise AirflowFailException(message)


def _seconds(value: Any) -> Any:
    """A duration given as a ``timedelta`` in seconds; anything else as it is."""
    return value.total_seconds() if hasattr(value, "total_seconds") else value
