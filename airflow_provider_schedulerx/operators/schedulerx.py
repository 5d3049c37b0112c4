"""Starting SchedulerX jobs and reporting job instances from a DAG."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_schedulerx.operators.lineage import OpenLineageMixin
from airflow_provider_schedulerx.utils import waiting
from airflow_provider_schedulerx.utils.tasks import (
    SchedulerXTaskMixin,
    default_deferrable,
    last_try,
    task_deadline,
)
from airflow_provider_schedulerx.utils.waiting import ErrorStreak, StatusLog, Verdict, WaitPolicy

if TYPE_CHECKING:
    from airflow_provider_schedulerx.utils.lifecycle import Request

__all__ = [  # noqa: F822
    "SchedulerXExecuteJobOperator",
    "SchedulerXExecuteWorkflowOperator",
    "SchedulerXGetJobInstanceOperator",
]


class SchedulerXExecuteJobOperator(OpenLineageMixin, SchedulerXTaskMixin, BaseOperator):
    """Starts a SchedulerX job and, unless told not to, waits for the instance to finish.

    The new instance's id (``job_instance_id``) and the console URL go to XCom before the
    wait starts. The task returns the instance as a dict: the finished one, or with
    ``wait_for_completion=False`` the one just started. An instance that ends in a failure
    status (or in a final status in neither list) fails the try with its ``Result`` and log
    tail, retryably: ``retries=`` starts a new instance.

    The lifecycle (docs/lifecycle.rst): an automatic retry follows the earlier try's instance
    while it runs (or takes its success) if it is the same request; a clear stops the cleared
    try's instance if it still runs and starts a new one; the deadline (``timeout``,
    ``execution_timeout``, or Airflow's own deferral timeout) stops the instance and fails the
    try retryably; marking the task failed or clearing it stops the instance, marking it
    successful leaves it running. ``ExecuteJob`` is never sent twice for one request: when
    its reply is lost, the task follows the one instance that fits, sends it again only if
    none shows after a second look, and fails naming the candidates if several do.

    .. code-block:: python

        SchedulerXExecuteJobOperator(
            task_id="start_job",
            job_id=1234,
            instance_parameters="date={{ ds }}",
            deferrable=True,
        )

    :param job_id: the SchedulerX job to start (templated).
    :param job_name: the job's name instead of its id (templated): looked up once per try;
        no job, or several, of that name fail the task.
    :param instance_parameters: parameters of this run, passed to the job (templated).
    :param worker: run on this worker address (templated); exclusive with ``worker_label``.
    :param worker_label: run on workers with this label (templated).
    :param check_job_status: refuse to start a disabled job.
    :param schedulerx_conn_id: the Airflow connection.
    :param namespace: namespace, if not the connection's (templated).
    :param group_id: application group, if not the connection's (templated).
    :param wait_for_completion: wait for the instance to finish.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between status checks (at least 0.1; 10 or more against the
        real service).
    :param timeout: seconds to wait for the instance before stopping it and failing the try.
    :param success_statuses: statuses that count as success (default ``[success]``).
    :param failure_statuses: statuses that fail the try (default failed, killed, rejected,
        partial failed).
    :param openlineage_inject_parent_job_info: add the Airflow run's OpenLineage identifiers
        to the instance parameters (under ``"openlineage"``, when they are empty or a JSON
        object), for the job's own lineage to point back to it. OpenLineage provider needed.
    """

    #: What it starts, as messages name it; the XCom key and task state key of its instance.
    noun = "job"
    instance_xcom_key = "job_instance_id"

    template_fields: Sequence[str] = (
        "job_id",
        "job_name",
        "instance_parameters",
        "worker",
        "worker_label",
        "namespace",
        "group_id",
    )

    def __init__(
        self,
        *,
        job_id: int | str | None = None,
        job_name: str | None = None,
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
        openlineage_inject_parent_job_info: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if worker and worker_label:
            raise ValueError("worker and worker_label: designate a worker or a label, not both")
        self.choose_job(job_id, job_name)
        self.instance_parameters = instance_parameters
        self.worker = worker
        self.worker_label = worker_label
        self.check_job_status = (
            None if check_job_status is None else waiting.check_flag(check_job_status, "check_job_status")
        )
        self.wait_for_completion = waiting.check_flag(wait_for_completion, "wait_for_completion")
        self.deferrable = (
            default_deferrable() if deferrable is None else waiting.check_flag(deferrable, "deferrable")
        )
        self.poll_interval = waiting.check_poll_interval(poll_interval)
        self.timeout = waiting.check_timeout(timeout)
        self.policy = WaitPolicy.of(success_statuses, failure_statuses)
        self.openlineage_inject_parent_job_info = waiting.check_flag(
            openlineage_inject_parent_job_info, "openlineage_inject_parent_job_info"
        )
        self.job_instance_id: int | None = None
        self.last_seen: dict[str, Any] | None = None
        self._context: Any = None

    # -- execute --------------------------------------------------------------------------

    def execute(self, context: Any) -> dict[str, Any]:
        self._context = context
        request = self._request(context)
        with self.failing_as_airflow():
            instance_id, finished = self._start_or_follow(context, request)
        self.job_instance_id = instance_id
        self.push(context, self.instance_xcom_key, instance_id)
        self.push_console_url(context, request.job_id, instance_id)
        if finished is not None:
            return self._finish(finished)
        if not self.wait_for_completion:
            with self.failing_as_airflow():
                self.last_seen = self.get_instance(request.job_id, instance_id).to_dict()
            return self.report(self.last_seen)
        deadline = task_deadline(context, self.execution_timeout, self.timeout)
        if self.deferrable:
            self.defer_to_trigger(
                self.trigger_class(),
                request.job_id,
                instance_id,
                poll_interval=self.poll_interval,
                deadline=deadline,
                stop_on_kill=True,
                stream_logs=self.stream_logs,
            )
        return self._wait(context, request.job_id, instance_id, deadline)

    def _request(self, context: Any) -> Request:
        """What this try asks SchedulerX for, its rendered fields checked before any call."""
        from airflow_provider_schedulerx.config import validate_name
        from airflow_provider_schedulerx.rpc.actions import check_instance_parameters
        from airflow_provider_schedulerx.utils.lifecycle import Request

        self.check_scope()
        job_id = self.resolve_job(context)
        with self.failing_as_airflow():
            parameters = check_instance_parameters(self.instance_parameters)
            worker = validate_name(self.worker, "worker", required=False)
            label = validate_name(self.worker_label, "worker_label", required=False)
        map_index = getattr(context["ti"], "map_index", -1)
        return Request(job_id, parameters, worker, label, -1 if map_index is None else int(map_index))

    def _start_or_follow(self, context: Any, request: Request) -> tuple[int, Any]:
        """The instance this try follows, and that instance (a job or workflow instance) if
        it already succeeded."""
        from airflow_provider_schedulerx.utils.lifecycle import Followed, Resume, first_try_of_cycle, resume
        from airflow_provider_schedulerx.utils.task_state import task_state_store

        ti = context["ti"]
        store = task_state_store(context)
        saved = Followed.from_json(store.get(self.state_key)) if store is not None else None
        action = resume(saved, request, first_of_cycle=first_try_of_cycle(ti, self.retries or 0))
        if saved is not None and action is Resume.FOLLOW:
            earlier = self.get_instance(saved.job_id, saved.instance_id)
            verdict = self.policy.verdict(earlier.status)
            if verdict is Verdict.SUCCESS:
                self.log.info("An earlier try's instance already succeeded: %s", earlier.summary())
                return earlier.instance_id, earlier
            if verdict is Verdict.WAIT:
                self.log.info("Following the instance an earlier try started: %s", earlier.summary())
                return earlier.instance_id, None
            self.log.info("An earlier try's instance ended %s; starting a new one", earlier.status.label)
        elif saved is not None and action is Resume.REPLACE:
            why = "a new cycle of tries (the task was cleared)"
            if saved.request != request.digest():
                why = "another request (the task's job, parameters, worker or map item changed)"
            if self.stop_if_running(saved.job_id, saved.instance_id, reason=f"replaced by {why}"):
                self.log.info("Stopped the instance %d of the cleared try: %s", saved.instance_id, why)
        instance_id = self._start(request)
        if store is not None:
            followed = Followed(request.job_id, instance_id, request.digest(), int(ti.try_number))
            store.set(self.state_key, followed.to_json())
        return instance_id, None

    # -- what it does with SchedulerX (a workflow operator does it with workflows) -------------

    @property
    def state_key(self) -> str:
        from airflow_provider_schedulerx.utils.lifecycle import STATE_KEY

        return STATE_KEY

    def trigger_class(self) -> Any:
        from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobInstanceTrigger

        return SchedulerXJobInstanceTrigger

    def get_instance(self, owner_id: int, instance_id: int) -> Any:
        return self.hook.get_job_instance(owner_id, instance_id)

    def stop_if_running(self, owner_id: int, instance_id: int, *, reason: str) -> bool:
        return self.hook.stop_if_running(owner_id, instance_id, reason=reason)

    def poll_until(self, owner_id: int, instance_id: int, **options: Any) -> Any:
        return self.hook.poll_until(owner_id, instance_id, **options)

    def seen(self, instance: Any) -> None:
        """Hears of every instance polled while the task waits from its worker: shows its
        new log lines."""
        if not instance.is_finished:
            self.follow_log(instance)

    def _start(self, request: Request) -> int:
        from airflow_provider_schedulerx.rpc.actions import MAX_INSTANCE_PARAMETERS_BYTES

        return self.hook.start_job(
            request.job_id,
            instance_parameters=self.sent_parameters(request.parameters, MAX_INSTANCE_PARAMETERS_BYTES),
            worker=request.worker,
            worker_label=request.label,
            check_job_status=self.check_job_status,
        )

    # -- waiting from the worker --------------------------------------------------------

    def _wait(self, context: Any, job_id: int, instance_id: int, deadline: float | None) -> dict[str, Any]:
        from airflow.providers.common.compat.sdk import AirflowTaskTimeout

        from airflow_provider_schedulerx.exceptions import SchedulerXError

        streak = ErrorStreak()
        status_log = StatusLog(self.log, f"SchedulerX {self.noun} {job_id} instance {instance_id}")

        def seen(instance: Any) -> None:
            streak.reset()
            status_log.update(instance.status, time.monotonic())
            self.seen(instance)

        try:
            finished = self.poll_until(
                job_id,
                instance_id,
                done=lambda instance: self.policy.verdict(instance.status) is not Verdict.WAIT,
                tolerate=lambda error: streak.tolerates(error, self.log),
                poll_interval=self.poll_interval,
                deadline=deadline,
                seen=seen,
            )
        except SchedulerXError as error:
            self._end_with(context, job_id, instance_id, str(error), retryable=error.retryable)
        except AirflowTaskTimeout:
            self.stop_if_running(job_id, instance_id, reason="execution_timeout passed")
            raise
        if finished is None:
            self._time_out(job_id, instance_id)
        return self._finish(finished)

    def _finish(self, instance: Any) -> dict[str, Any]:
        from airflow_provider_schedulerx.models import InstanceStatus

        data = instance if isinstance(instance, dict) else instance.to_dict()
        self.last_seen = data
        verdict = self.policy.verdict(InstanceStatus.of(data["status"]))
        if verdict is Verdict.SUCCESS:
            return self.report(data)
        self.fail_with(data, verdict)

    def _time_out(self, job_id: int, instance_id: int) -> NoReturn:
        from airflow_provider_schedulerx.utils.errors import SchedulerXWaitTimeout

        stopped = self.stop_if_running(job_id, instance_id, reason="the task's deadline passed")
        raise SchedulerXWaitTimeout(
            f"SchedulerX {self.noun} {job_id} instance {instance_id} did not finish before the task's "
            "deadline" + ("; the instance was stopped" if stopped else "")
        )

    def _end_with(
        self, context: Any, job_id: int, instance_id: int, message: str, *, retryable: bool
    ) -> NoReturn:
        """The wait failed with a SchedulerX error. A retry follows the instance; when no
        retry is left (or none can help), nothing would follow it, so it is stopped."""
        from airflow.providers.common.compat.sdk import AirflowFailException

        from airflow_provider_schedulerx.utils.errors import SchedulerXUnavailable

        if not retryable or last_try(context):
            self.stop_if_running(job_id, instance_id, reason="the task fails for good")
        if retryable:
            raise SchedulerXUnavailable(f"SchedulerX kept failing: {message}")
        raise AirflowFailException(message)

    # -- after the trigger ------------------------------------------------------------

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger's event."""
        self._context = context
        trigger = self.trigger_class()
        job_id, instance_id = int(event[trigger.owner_key]), int(event[trigger.instance_key])
        self.job_id_in_use, self.job_instance_id = job_id, instance_id
        self.resume_log(event, job_id, instance_id)
        status = event.get("status")
        if status in ("success", "failed", "unlisted"):
            return self._finish(event["instance"])
        if status == "timeout":
            self._time_out(job_id, instance_id)
        message = str(event.get("message", f"unexpected trigger event {event!r}"))
        self._end_with(context, job_id, instance_id, message, retryable=bool(event.get("retryable")))

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any) -> Any:
        """Airflow's own deferral timeout (a triggerer down past the deadline) fails the try
        before the task is told anything: stop the instance first."""
        if next_method == "__fail__":
            from airflow_provider_schedulerx.utils.lifecycle import Followed
            from airflow_provider_schedulerx.utils.task_state import task_state_store

            store = task_state_store(context)
            saved = Followed.from_json(store.get(self.state_key)) if store is not None else None
            if saved is not None:
                self.stop_if_running(saved.job_id, saved.instance_id, reason="the deferral timed out")
        return super().resume_execution(next_method, next_kwargs, context)

    # -- stopped by Airflow -----------------------------------------------------------

    def on_kill(self) -> None:
        """Airflow stops the task (marked failed or successful, cleared, timed out, its
        worker stopping): stop the instance, unless the task was marked successful."""
        if self.job_instance_id is None:
            return
        from airflow_provider_schedulerx.utils.lifecycle import stop_on_kill
        from airflow_provider_schedulerx.utils.ti_state import current_state

        ti = self._context.get("ti") if self._context else None
        state = current_state(ti)
        if not stop_on_kill(state):
            self.log.info("The task was marked successful; instance %d keeps running", self.job_instance_id)
            return
        owner = self.job_id_in_use if self.job_id_in_use is not None else self.given_id()
        if owner is not None:
            self.stop_if_running(
                owner, self.job_instance_id, reason=f"the task was stopped ({state or 'killed'})"
            )

    def given_id(self) -> int | None:
        """The job id the task was given, if it was given one (not a name)."""
        return None if self.job_name is not None else int(self.job_id)

    def post_execute(self, context: Any, result: Any = None) -> None:
        from airflow_provider_schedulerx.utils.task_state import forget_after_success

        super().post_execute(context, result)
        forget_after_success(context, self.state_key)


#: The operators of this module's family defined in modules of their own, by name.
ELSEWHERE = {
    "SchedulerXExecuteWorkflowOperator": "airflow_provider_schedulerx.operators.workflows",
    "SchedulerXGetJobInstanceOperator": "airflow_provider_schedulerx.operators.reports",
}


def __getattr__(name: str) -> Any:
    """The operators defined in modules of their own (the workflow operator builds on the
    job operator), importable from here as well."""
    if name in ELSEWHERE:
        import importlib

        return getattr(importlib.import_module(ELSEWHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
