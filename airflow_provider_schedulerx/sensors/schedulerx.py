"""Waiting on a SchedulerX job instance from a DAG."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseSensorOperator

from airflow_provider_schedulerx.hooks.connection_form import DEFAULT_CONN_ID
from airflow_provider_schedulerx.links.schedulerx import SchedulerXJobInstanceLink
from airflow_provider_schedulerx.utils import waiting as outcome

if TYPE_CHECKING:
    from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook

__all__ = ["SchedulerXJobInstanceSensor"]


class SchedulerXJobInstanceSensor(BaseSensorOperator):
    """Waits until a SchedulerX job instance succeeds; fails the task if it fails.

    Done when the instance reaches a status in ``success_statuses``; raises
    ``AirflowFailException`` (no retry: the instance will not change its mind) with the
    instance's ``Result`` and the tail of its log when it reaches one in
    ``failure_statuses``. The instance, as a dict, is the task's XCom return value.

    .. code-block:: python

        SchedulerXJobInstanceSensor(
            task_id="wait",
            job_id=1234,
            job_instance_id="{{ ti.xcom_pull('start_job') }}",
            deferrable=True,
        )

    :param job_id: the SchedulerX job (templated).
    :param job_instance_id: the instance to wait on (templated).
    :param schedulerx_conn_id: the Airflow connection.
    :param namespace: namespace, if not the connection's (templated).
    :param group_id: application group, if not the connection's (templated).
    :param success_statuses: statuses that end the wait successfully (numbers or names;
        default ``[success]``).
    :param failure_statuses: statuses that fail the task (default ``[failed, killed,
        rejected, partial failed]``).
    :param deferrable: wait in the triggerer instead of a worker slot (default:
        ``[operators] default_deferrable``).

    A poke that still fails after the client's retries with a transient error (throttling,
    5xx, a dropped connection) counts as "not yet", up to five pokes in a row.
    """

    template_fields: Sequence[str] = ("job_id", "job_instance_id", "namespace", "group_id")
    ui_color = "#ff6a00"
    ui_fgcolor = "#ffffff"
    operator_extra_links = (SchedulerXJobInstanceLink(),)

    def __init__(
        self,
        *,
        job_id: int | str,
        job_instance_id: int | str,
        schedulerx_conn_id: str = DEFAULT_CONN_ID,
        namespace: str | None = None,
        group_id: str | None = None,
        success_statuses: Iterable[int | str] | None = None,
        failure_statuses: Iterable[int | str] | None = None,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.job_instance_id = job_instance_id
        self.schedulerx_conn_id = schedulerx_conn_id
        self.namespace = namespace
        self.group_id = group_id
        self.success_statuses, self.failure_statuses = outcome.check_statuses(
            success_statuses, failure_statuses
        )
        self.deferrable = outcome.default_deferrable() if deferrable is None else deferrable
        self._errors = outcome.ErrorStreak()

    @cached_property
    def hook(self) -> SchedulerXHook:
        from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook

        return SchedulerXHook(self.schedulerx_conn_id, namespace=self.namespace, group_id=self.group_id)

    def _ids(self) -> tuple[int, int]:
        from airflow_provider_schedulerx.config import validate_id

        return validate_id(self.job_id, "job_id"), validate_id(self.job_instance_id, "job_instance_id")

    def _fail(self, instance: Any) -> None:
        from airflow.providers.common.compat.sdk import AirflowFailException

        job_id, instance_id = self._ids()
        tail = outcome.log_tail(self.hook, job_id, instance_id)
        raise AirflowFailException(outcome.failure_message(instance, tail))

    def poke(self, context: Any) -> Any:
        from airflow.providers.common.compat.sdk import PokeReturnValue

        from airflow_provider_schedulerx.exceptions import SchedulerXError

        job_id, instance_id = self._ids()
        try:
            instance = self.hook.get_job_instance(job_id, instance_id)
        except SchedulerXError as error:
            if self._errors.tolerate(error, self.log):
                return False
            raise
        self._errors.reset()
        self.log.info("%s", instance.summary())
        if not instance.status.recognized:
            self.log.warning("SchedulerX reported a status this provider does not know: %d", instance.status)
        if instance.status in self.failure_statuses:
            self._fail(instance)
        if instance.status in self.success_statuses:
            return PokeReturnValue(is_done=True, xcom_value=instance.to_dict())
        return False

    def execute(self, context: Any) -> Any:
        context["ti"].xcom_push(key="console_url", value=self.hook.instance_console_url(self.namespace))
        if not self.deferrable:
            return super().execute(context)
        done = self.poke(context)
        if done:
            return done.xcom_value
        from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobInstanceTrigger

        job_id, instance_id = self._ids()
        deadline = outcome.deadline(context, self.execution_timeout, self.timeout)
        self.defer(
            trigger=SchedulerXJobInstanceTrigger(
                job_id,
                instance_id,
                schedulerx_conn_id=self.schedulerx_conn_id,
                namespace=self.namespace,
                group_id=self.group_id,
                poll_interval=self.poke_interval,
                deadline=deadline,
                success_statuses=self.success_statuses,
                failure_statuses=self.failure_statuses,
            ),
            method_name="execute_complete",
            timeout=outcome.defer_timeout(deadline),
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Resume after the trigger's event."""
        from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSensorTimeout

        status = event.get("status")
        if status == "success":
            self.log.info("%s", event["message"])
            return event["instance"]
        if status == "failed":
            self._fail(event["instance"])
        if status == "timeout":
            raise AirflowSensorTimeout(f"{event['message']} ({self.timeout:.0f}s)")
        raise AirflowFailException(event.get("message", f"unexpected trigger event {event!r}"))
