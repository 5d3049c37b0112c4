"""Starting SchedulerX jobs and reporting job instances from a DAG."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_schedulerx.hooks.connection_form import DEFAULT_CONN_ID
from airflow_provider_schedulerx.links.schedulerx import CONSOLE_URL_XCOM_KEY, SchedulerXJobInstanceLink
from airflow_provider_schedulerx.statuses import parse_statuses
from airflow_provider_schedulerx.utils import waiting as outcome

if TYPE_CHECKING:
    from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
    from airflow_provider_schedulerx.models import JobInstance

__all__ = ["SchedulerXExecuteJobOperator", "SchedulerXGetJobInstanceOperator"]

_UI_COLOR = "#ff6a00"
_UI_FGCOLOR = "#ffffff"
# Survives task retries (XComs do not), so that a retry finds the instance its earlier try
# started. Changing it would orphan the instances of tasks being retried during an upgrade.
STATE_KEY = "schedulerx_job_instance"
# When ExecuteJob's reply is lost, the instances started through the API since this long
# before the call (allowing for clock skew), at most this many, are candidates for its own.
LOST_START_CLOCK_MARGIN = 60.0
LOST_START_CANDIDATES = 20


class _SchedulerXTask(BaseOperator):
    """What the SchedulerX operators share: the hook and the id checks."""

    ui_color = _UI_COLOR
    ui_fgcolor = _UI_FGCOLOR
    operator_extra_links = (SchedulerXJobInstanceLink(),)

    def __init__(
        self,
        *,
        schedulerx_conn_id: str = DEFAULT_CONN_ID,
        namespace: str | None = None,
        group_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.schedulerx_conn_id = schedulerx_conn_id
        self.namespace = namespace
        self.group_id = group_id

    @cached_property
    def hook(self) -> SchedulerXHook:
        from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook

        return SchedulerXHook(self.schedulerx_conn_id, namespace=self.namespace, group_id=self.group_id)

    @staticmethod
    def _id(value: Any, setting: str) -> int:
        from airflow_provider_schedulerx.config import validate_id

        return validate_id(value, setting)

    def _push_console_url(self, context: Any) -> None:
        context["ti"].xcom_push(
            key=CONSOLE_URL_XCOM_KEY, value=self.hook.instance_console_url(self.namespace)
        )

    def _log_tail(self, job_id: int, instance_id: int) -> list[str]:
        tail = outcome.log_tail(self.hook, job_id, instance_id)
        if tail:
            self.log.info("Last %d log lines of instance %d:\n%s", len(tail), instance_id, "\n".join(tail))
        return tail


class SchedulerXExecuteJobOperator(_SchedulerXTask):
    """Starts a SchedulerX job and, unless told not to, waits for the instance to finish.

    The new instance's id (``job_instance_id``) and the console URL go to XCom before the
    wait starts. The task returns the finished instance as a dict (or the instance id with
    ``wait_for_completion=False``). It fails with the instance's ``Result`` and log tail if
    the instance fails.

    A retry of the task reattaches to the instance its earlier try started while that
    instance is still running (or returns it if it succeeded), instead of starting a second
    one. ``on_kill`` and the deadline (``execution_timeout``, ``timeout``) stop the remote
    instance, in deferrable mode too.

    ``ExecuteJob`` is never sent twice. If its reply is lost (the connection dropped after
    the request went out), the task looks for the instance the call started and follows it
    when exactly one instance fits; otherwise it fails without a retry. While waiting,
    polls that keep failing with transient errors are ridden out, up to five in a row.

    .. code-block:: python

        SchedulerXExecuteJobOperator(
            task_id="start_job",
            job_id=1234,
            instance_parameters="date={{ ds }}",
            deferrable=True,
        )

    :param job_id: the SchedulerX job to start (templated).
    :param instance_parameters: parameters of this run, passed to the job (templated).
    :param worker: run on this worker address (templated); exclusive with ``worker_label``.
    :param worker_label: run on workers with this label (templated).
    :param check_job_status: refuse to start a disabled job.
    :param schedulerx_conn_id: the Airflow connection.
    :param namespace: namespace, if not the connection's (templated).
    :param group_id: application group, if not the connection's (templated).
    :param wait_for_completion: wait for the instance to finish.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between status checks.
    :param timeout: seconds to wait for the instance before stopping it and failing.
    :param success_statuses: statuses that count as success (default ``[success]``).
    :param failure_statuses: statuses that fail the task (default failed, killed, rejected,
        partial failed).
    """

    template_fields: Sequence[str] = (
        "job_id",
        "instance_parameters",
        "worker",
        "worker_label",
        "namespace",
        "group_id",
    )

    def __init__(
        self,
        *,
        job_id: int | str,
        instance_parameters: str | None = None,
        worker: str | None = None,
        worker_label: str | None = None,
        check_job_status: bool | None = None,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: float = 10.0,
        timeout: float | None = None,
        success_statuses: Iterable[int | str] | None = None,
        failure_statuses: Iterable[int | str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if worker and worker_label:
            raise ValueError("worker and worker_label: designate a worker or a label, not both")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval: must be greater than 0, got {poll_interval!r}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout: must be greater than 0, got {timeout!r}")
        self.job_id = job_id
        self.instance_parameters = instance_parameters
        self.worker = worker
        self.worker_label = worker_label
        self.check_job_status = check_job_status
        self.wait_for_completion = wait_for_completion
        self.deferrable = outcome.default_deferrable() if deferrable is None else deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.success_statuses, self.failure_statuses = outcome.check_statuses(
            success_statuses, failure_statuses
        )
        self.job_instance_id: int | None = None

    def execute(self, context: Any) -> Any:
        job_id = self._id(self.job_id, "job_id")
        instance_id, finished = self._start_or_reattach(context, job_id)
        self.job_instance_id = instance_id
        context["ti"].xcom_push(key="job_instance_id", value=instance_id)
        self._push_console_url(context)
        if finished is not None:
            return self._succeed(finished)
        if not self.wait_for_completion:
            return instance_id
        deadline = outcome.deadline(context, self.execution_timeout, self.timeout)
        if self.deferrable:
            from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobInstanceTrigger

            self.defer(
                trigger=SchedulerXJobInstanceTrigger(
                    job_id,
                    instance_id,
                    schedulerx_conn_id=self.schedulerx_conn_id,
                    namespace=self.namespace,
                    group_id=self.group_id,
                    poll_interval=self.poll_interval,
                    deadline=deadline,
                    success_statuses=self.success_statuses,
                    failure_statuses=self.failure_statuses,
                    stop_on_kill=True,
                ),
                method_name="execute_complete",
                timeout=outcome.defer_timeout(deadline),
            )
        return self._wait(job_id, instance_id, deadline)

    def _start_or_reattach(self, context: Any, job_id: int) -> tuple[int, JobInstance | None]:
        """The instance to follow, and the instance itself if it already succeeded."""
        from airflow_provider_schedulerx.utils.task_state import task_state_store

        store = task_state_store(context)
        saved = store.get(STATE_KEY) if store is not None else None
        if isinstance(saved, dict) and saved.get("job_id") == job_id:
            earlier = self.hook.get_job_instance(job_id, saved["instance_id"])
            if earlier.status in self.success_statuses:
                self.log.info("An earlier try's instance already succeeded: %s", earlier.summary())
                return earlier.instance_id, earlier
            if not earlier.is_finished:
                self.log.info("Reattaching to the instance an earlier try started: %s", earlier.summary())
                return earlier.instance_id, None
            self.log.info("An earlier try's instance ended %s; starting a new one", earlier.status.label)
        instance_id = self._start(job_id)
        if store is not None:
            store.set(STATE_KEY, {"job_id": job_id, "instance_id": instance_id})
        return instance_id, None

    def _start(self, job_id: int) -> int:
        from airflow_provider_schedulerx.exceptions import SchedulerXOutcomeUnknownError

        sent_at = time.time()
        try:
            instance_id = self.hook.execute_job(
                job_id,
                instance_parameters=self.instance_parameters,
                worker=self.worker,
                label=self.worker_label,
                check_job_status=self.check_job_status,
            )
        except SchedulerXOutcomeUnknownError as error:
            return self._find_lost_start(job_id, sent_at, error)
        self.log.info("Started SchedulerX job %d: instance %d", job_id, instance_id)
        return instance_id

    def _find_lost_start(self, job_id: int, sent_at: float, error: Exception) -> int:
        """``ExecuteJob``'s reply was lost. Follow the instance it started if exactly one
        instance can be its doing (started through the API since just before the call, with
        this task's parameters); otherwise fail without a retry, which could start the job a
        second time."""
        from airflow.providers.common.compat.sdk import AirflowFailException

        from airflow_provider_schedulerx.exceptions import SchedulerXError
        from airflow_provider_schedulerx.models import TriggerType

        since_ms = int((sent_at - LOST_START_CLOCK_MARGIN) * 1000)
        try:
            recent = self.hook.list_job_instances(job_id, start=since_ms, limit=LOST_START_CANDIDATES)
            candidates = [item.instance_id for item in recent if item.trigger_type == TriggerType.API]
            matches = [
                instance_id
                for instance_id in candidates
                if (self.hook.get_job_instance(job_id, instance_id).parameters or "")
                == (self.instance_parameters or "")
            ]
        except SchedulerXError as lookup_error:
            raise AirflowFailException(
                f"{error}. Looking for the instance it may have started failed too: {lookup_error}"
            ) from None
        if len(matches) == 1:
            self.log.warning(
                "ExecuteJob's reply was lost (%s), but it started instance %d; following it",
                error,
                matches[0],
            )
            return matches[0]
        found = f"instances {matches} match this task" if matches else "no instance matches this task yet"
        raise AirflowFailException(f"{error}. Since the call, {found}; not starting the job again")

    def _wait(self, job_id: int, instance_id: int, deadline: float | None) -> dict[str, Any]:
        from airflow.providers.common.compat.sdk import AirflowTaskTimeout

        from airflow_provider_schedulerx.exceptions import SchedulerXError

        errors = outcome.ErrorStreak()
        try:
            while True:
                try:
                    instance = self.hook.get_job_instance(job_id, instance_id)
                except SchedulerXError as error:
                    if not errors.tolerate(error, self.log):
                        raise
                else:
                    errors.reset()
                    self.log.info("%s", instance.summary())
                    if instance.status in self.success_statuses:
                        return self._succeed(instance)
                    if instance.status in self.failure_statuses:
                        self._fail(instance.to_dict())
                wait = self.poll_interval
                if deadline is not None:
                    remaining = deadline - time.time()
                    if remaining <= 0:
                        self._stop_at_deadline(job_id, instance_id)
                    wait = min(wait, remaining)
                time.sleep(wait)
        except AirflowTaskTimeout:
            self._stop(job_id, instance_id)
            raise

    def _succeed(self, instance: JobInstance) -> dict[str, Any]:
        self._log_tail(instance.job_id, instance.instance_id)
        return instance.to_dict()

    def _fail(self, instance: dict[str, Any]) -> NoReturn:
        from airflow.providers.common.compat.sdk import AirflowFailException

        tail = self._log_tail(instance["job_id"], instance["instance_id"])
        raise AirflowFailException(outcome.failure_message(instance, tail))

    def _stop(self, job_id: int, instance_id: int) -> bool:
        """Stop the instance if it is still going; True if it was stopped."""
        from airflow_provider_schedulerx.exceptions import SchedulerXError

        try:
            if self.hook.get_job_instance(job_id, instance_id).is_finished:
                return False
            self.hook.stop_instance(job_id, instance_id)
        except SchedulerXError as error:
            self.log.error("Could not stop SchedulerX job %d instance %d: %s", job_id, instance_id, error)
            return False
        self.log.info("Stopped SchedulerX job %d instance %d", job_id, instance_id)
        return True

    def _stop_at_deadline(self, job_id: int, instance_id: int) -> NoReturn:
        from airflow.providers.common.compat.sdk import AirflowFailException

        stopped = self._stop(job_id, instance_id)
        raise AirflowFailException(
            f"SchedulerX job {job_id} instance {instance_id} did not finish before the task's deadline"
            + ("; the instance was stopped" if stopped else "")
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Resume after the trigger's event."""
        from airflow.providers.common.compat.sdk import AirflowException

        status = event.get("status")
        job_id, instance_id = int(event["job_id"]), int(event["job_instance_id"])
        self.job_instance_id = instance_id
        if status == "success":
            self.log.info("%s", event["message"])
            self._log_tail(job_id, instance_id)
            return event["instance"]
        if status == "failed":
            self._fail(event["instance"])
        if status == "timeout":
            self._stop_at_deadline(job_id, instance_id)
        # An error event (the service kept failing): a retry reattaches to the instance.
        raise AirflowException(event.get("message", f"unexpected trigger event {event!r}"))

    def on_kill(self) -> None:
        if self.job_instance_id is not None:
            self._stop(self._id(self.job_id, "job_id"), self.job_instance_id)

    def post_execute(self, context: Any, result: Any = None) -> None:
        from airflow_provider_schedulerx.utils.task_state import forget_after_success

        super().post_execute(context, result)
        forget_after_success(context, STATE_KEY)


class SchedulerXGetJobInstanceOperator(_SchedulerXTask):
    """Reports one job instance: logs a one-line summary (status, progress, result, times,
    worker) and its log tail, and returns the instance as a dict, e.g. for branching.

    :param job_id: the SchedulerX job (templated).
    :param job_instance_id: the instance (templated).
    :param schedulerx_conn_id: the Airflow connection.
    :param namespace: namespace, if not the connection's (templated).
    :param group_id: application group, if not the connection's (templated).
    :param log_lines: how many of its last log lines to show (0 for none).
    :param fail_on_statuses: fail the task if the instance has one of these statuses.
    """

    template_fields: Sequence[str] = ("job_id", "job_instance_id", "namespace", "group_id")

    def __init__(
        self,
        *,
        job_id: int | str,
        job_instance_id: int | str,
        log_lines: int = outcome.LOG_TAIL_LINES,
        fail_on_statuses: Iterable[int | str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0 <= log_lines <= 200:
            raise ValueError(f"log_lines: expected 0 to 200, got {log_lines!r}")
        self.job_id = job_id
        self.job_instance_id = job_instance_id
        self.log_lines = log_lines
        self.fail_on_statuses = (
            parse_statuses(fail_on_statuses, "fail_on_statuses") if fail_on_statuses else frozenset()
        )

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.providers.common.compat.sdk import AirflowFailException

        job_id = self._id(self.job_id, "job_id")
        instance_id = self._id(self.job_instance_id, "job_instance_id")
        self._push_console_url(context)
        instance = self.hook.get_job_instance(job_id, instance_id)
        self.log.info("%s", instance.summary())
        tail = (
            outcome.log_tail(self.hook, job_id, instance_id, lines=self.log_lines) if self.log_lines else []
        )
        if tail:
            self.log.info("Last %d log lines:\n%s", len(tail), "\n".join(tail))
        if instance.status in self.fail_on_statuses:
            raise AirflowFailException(outcome.failure_message(instance, tail))
        return instance.to_dict()
