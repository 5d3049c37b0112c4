"""Waiting from a DAG: on a SchedulerX job instance, and on the instance that SchedulerX's
own schedule ran for a time window."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.common.compat.sdk import BaseSensorOperator

from airflow_provider_schedulerx.utils.tasks import (
    JOB_INSTANCE_FIELDS,
    SCOPE_FIELDS,
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
    seconds_of,
)

if TYPE_CHECKING:
    from airflow_provider_schedulerx.models import JobInstance
    from airflow_provider_schedulerx.rpc.windows import Window, WindowSearch

__all__ = ["SchedulerXJobInstanceSensor", "SchedulerXJobSensor", "SchedulerXWorkflowInstanceSensor"]  # noqa: F822

#: The task state key of a rescheduled sensor's failed polls in a row.
FAILED_POLLS_KEY = "schedulerx_failed_polls"
#: The task state key of how far a rescheduled sensor has shown its instance's log.
LOG_SHOWN_KEY = "schedulerx_log_shown"


class WaitingSensor(SchedulerXTaskMixin, BaseSensorOperator):
    """What both sensors share: the waiting policy and its checks, the poke, the count of
    failed polls across reschedules, the deferral and the resumption."""

    def __init__(
        self,
        *,
        success_statuses: Iterable[int | str] | None = None,
        failure_statuses: Iterable[int | str] | None = None,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        # Checked before Airflow's own checks, which fail on some (an infinite timeout) with
        # an error that does not name the setting.
        if "poke_interval" in kwargs:
            check_poll_interval(seconds_of(kwargs["poke_interval"]), "poke_interval")
        if kwargs.get("timeout") is not None:
            check_timeout(seconds_of(kwargs["timeout"]), "timeout")
        super().__init__(**kwargs)
        self.policy = WaitPolicy.of(success_statuses, failure_statuses)
        self.deferrable = default_deferrable() if deferrable is None else check_flag(deferrable, "deferrable")
        self.poke_interval = check_poll_interval(self.poke_interval, "poke_interval")
        self.timeout = check_timeout(self.timeout, "timeout") or 0
        self._streak = ErrorStreak()

    # -- what a sensor says ---------------------------------------------------------------

    @abstractmethod
    def look(self, context: Any) -> JobInstance | None:
        """One poll: the instance as it stands, or ``None`` while there is none."""

    @abstractmethod
    def linked(self, context: Any) -> tuple[int, int | None]:
        """What the console link opens: the job (or workflow) and the instance, if known."""

    @abstractmethod
    def defer_wait(self, context: Any, deadline: float | None, failed_polls: int) -> NoReturn:
        """Hand the wait to the sensor's trigger."""

    # -- poke and reschedule --------------------------------------------------------------

    def poke(self, context: Any) -> Any:
        from airflow.providers.common.compat.sdk import PokeReturnValue

        from airflow_provider_schedulerx.exceptions import SchedulerXError
        from airflow_provider_schedulerx.utils.errors import task_error

        streak = self._failed_polls(context)
        try:
            instance = self.look(context)
        except SchedulerXError as error:
            tolerated = streak.tolerates(error, self.log)
            self._keep_failed_polls(context, streak)
            if not tolerated:
                raise task_error(error) from None
            return False
        if streak.length:
            streak.reset()
            self._keep_failed_polls(context, streak)
        if instance is None:
            return False
        if not instance.status.recognized:
            self.log.warning("SchedulerX reported a status this provider does not know: %d", instance.status)
        verdict = self.policy.verdict(instance.status)
        if verdict is Verdict.SUCCESS:
            return PokeReturnValue(is_done=True, xcom_value=self.report(instance))
        if verdict is not Verdict.WAIT:
            self.fail_with(instance, verdict)
        self.log.info("%s", instance.summary())
        self.follow(context, instance)
        return False

    def follow(self, context: Any, instance: Any) -> None:
        """Show the instance's new log lines; between reschedules, where the log was left
        is kept in the task state."""
        if not self.stream_logs:
            return
        store = None
        if self.reschedule:
            from airflow_provider_schedulerx.utils.task_state import task_state_store

            store = task_state_store(context)
        key = (instance.job_id, instance.instance_id)
        if store is not None and key not in self._followers:
            saved = store.get(LOG_SHOWN_KEY)
            if isinstance(saved, dict) and saved.get("instance") == instance.instance_id:
                self.follower(*key, int(saved.get("shown") or 0))
        follower = self.follower(*key)
        before = follower.shown
        self.follow_log(instance)
        if store is not None and follower.shown != before:
            store.set(LOG_SHOWN_KEY, {"instance": instance.instance_id, "shown": follower.shown})

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
        self.push_console_url(context, *self.linked(context))
        if not self.deferrable:
            return super().execute(context)
        done = self.poke(context)
        if done:
            return done.xcom_value
        self.defer_wait(
            context,
            task_deadline(context, self.execution_timeout, self.timeout),
            self._failed_polls(context).length,
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Resume after the trigger's event."""
        from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSensorTimeout

        from airflow_provider_schedulerx.utils.errors import SchedulerXUnavailable

        status = event.get("status")
        instance = event.get("instance")
        if isinstance(instance, dict) and "job_id" in instance:
            self.resume_log(event, int(instance["job_id"]), int(instance["instance_id"]))
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


class SchedulerXJobInstanceSensor(WaitingSensor):
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
    :param job_name: the job's name instead of its id (templated): looked up once per try.
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

    template_fields: Sequence[str] = JOB_INSTANCE_FIELDS

    def __init__(
        self,
        *,
        job_instance_id: int | str,
        job_id: int | str | None = None,
        job_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.choose_job(job_id, job_name)
        self.job_instance_id = job_instance_id

    def _ids(self, context: Any) -> tuple[int, int]:
        self.check_scope()
        instance_id = self.checked_id(self.job_instance_id, "job_instance_id")
        return self.resolve_job(context), instance_id

    linked = _ids

    def look(self, context: Any) -> JobInstance | None:
        job_id, instance_id = self._ids(context)
        return self.hook.get_job_instance(job_id, instance_id)

    def defer_wait(self, context: Any, deadline: float | None, failed_polls: int) -> NoReturn:
        from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobInstanceTrigger

        job_id, instance_id = self._ids(context)
        self.defer_to_trigger(
            SchedulerXJobInstanceTrigger,
            job_id,
            instance_id,
            poll_interval=self.poke_interval,
            deadline=deadline,
            failed_polls=failed_polls,
            stream_logs=self.stream_logs,
            log_lines_shown=self.follower(job_id, instance_id).shown,
        )


class SchedulerXJobSensor(WaitingSensor):
    """Waits until the instance that SchedulerX's own schedule ran for a time window (by
    default the DAG run's data interval) has succeeded: "tonight's run of job X", which no
    Airflow task started.

    An instance belongs to the window when its data time (``match_on="data_time"``) or its
    schedule time (``"schedule_time"``) falls in ``[window_start, window_end)``; the one that
    counts is the newest (by schedule time, then id), so that a rerun in SchedulerX replaces
    a failed run. Success: the instance, as a dict, is the XCom return value. A failure
    status fails the try retryably, with the instance's result and log tail (a rerun can
    satisfy the next try). No instance yet, or one still running: the wait goes on until
    ``timeout``. A poke costs one ``GetJobInstanceList`` call (two for a window with more
    than 100 instances), and one more at a try's first poke on data time, for the job's
    data offset.

    .. code-block:: python

        nightly = SchedulerXJobSensor(
            task_id="wait_for_nightly_export",
            job_name="nightly-export",  # or job_id=1234
            mode="reschedule",  # or deferrable=True
            poke_interval=300,
            timeout=6 * 3600,
        )

    :param job_id: the SchedulerX job (templated).
    :param job_name: the job's name instead of its id (templated): looked up once per try.
    :param window_start: the window's start, included (templated; a datetime or an ISO 8601
        string; one without a zone is in the connection's time zone). Default: the DAG
        run's ``data_interval_start``.
    :param window_end: the window's end, excluded (templated). Default: the DAG run's
        ``data_interval_end``.
    :param match_on: ``"data_time"`` (default) or ``"schedule_time"``.
    :param schedulerx_conn_id: the Airflow connection.
    :param namespace: namespace, if not the connection's (templated).
    :param group_id: application group, if not the connection's (templated).
    :param success_statuses: as on :class:`SchedulerXJobInstanceSensor`.
    :param failure_statuses: as on :class:`SchedulerXJobInstanceSensor`.
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = ("window_start", "window_end", *JOB_INSTANCE_FIELDS[:2], *SCOPE_FIELDS)

    def __init__(
        self,
        *,
        window_start: datetime | str | None = None,
        window_end: datetime | str | None = None,
        match_on: str = "data_time",
        job_id: int | str | None = None,
        job_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_schedulerx.config import shown
        from airflow_provider_schedulerx.exceptions import SchedulerXConfigError
        from airflow_provider_schedulerx.rpc.windows import MATCH_ON

        if match_on not in MATCH_ON:
            raise SchedulerXConfigError(f"match_on: expected {' or '.join(MATCH_ON)}, got {shown(match_on)}")
        super().__init__(**kwargs)
        self.choose_job(job_id, job_name)
        self.window_start = window_start
        self.window_end = window_end
        self.match_on = match_on
        self._search: WindowSearch | None = None

    def window(self, context: Any) -> Window:
        """The rendered window, checked; the DAG run's data interval where not given."""
        from airflow_provider_schedulerx.exceptions import SchedulerXConfigError
        from airflow_provider_schedulerx.rpc.windows import Window
        from airflow_provider_schedulerx.utils.windows import window_bound

        with self.failing_as_airflow():
            timezone = self.hook.client.timezone
            start = window_bound(self.window_start, context, "window_start", "data_interval_start", timezone)
            end = window_bound(self.window_end, context, "window_end", "data_interval_end", timezone)
            if start == end and not self.window_start and not self.window_end:
                raise SchedulerXConfigError(
                    "window_start, window_end: this DAG run's data interval is empty (Airflow 3's cron "
                    "schedules have none, unless on CronDataIntervalTimetable or with [scheduler] "
                    "create_cron_data_intervals); give window_start and window_end"
                )
            return Window(start, end, self.match_on)

    def _search_of(self, context: Any) -> WindowSearch:
        from airflow_provider_schedulerx.rpc.windows import WindowSearch

        self.check_scope()
        job_id, window = self.resolve_job(context), self.window(context)
        if self._search is None or (self._search.job_id, self._search.window) != (job_id, window):
            self._search = WindowSearch(job_id, window)
        return self._search

    def linked(self, context: Any) -> tuple[int, int | None]:
        """The job's instances: which of them is the window's is not known yet."""
        return self._search_of(context).job_id, None

    def look(self, context: Any) -> JobInstance | None:
        search = self._search_of(context)
        instance = self.hook.find_in_window(search)
        if instance is None:
            self.log.info("SchedulerX job %d has no instance for %s yet", search.job_id, search.window)
        return instance

    def defer_wait(self, context: Any, deadline: float | None, failed_polls: int) -> NoReturn:
        from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobWindowTrigger

        search = self._search_of(context)
        self.defer_to_trigger(
            SchedulerXJobWindowTrigger,
            search.job_id,
            search.window.start,
            search.window.end,
            match_on=search.window.match_on,
            poll_interval=self.poke_interval,
            deadline=deadline,
            failed_polls=failed_polls,
            stream_logs=self.stream_logs,
        )


def __getattr__(name: str) -> Any:
    """The workflow instance sensor, from its own module (which builds on these)."""
    if name == "SchedulerXWorkflowInstanceSensor":
        from airflow_provider_schedulerx.sensors.workflows import SchedulerXWorkflowInstanceSensor

        return SchedulerXWorkflowInstanceSensor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
