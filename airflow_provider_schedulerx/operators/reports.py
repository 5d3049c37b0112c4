"""Reporting a SchedulerX job instance from a DAG."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_schedulerx.utils.tasks import JOB_INSTANCE_FIELDS, SchedulerXTaskMixin
from airflow_provider_schedulerx.utils.waiting import Verdict, WaitPolicy

__all__ = ["SchedulerXGetJobInstanceOperator"]


class SchedulerXGetJobInstanceOperator(SchedulerXTaskMixin, BaseOperator):
    """Reports one job instance: logs a one-line summary (status, progress, result, times,
    worker) and its log tail, and returns the instance as a dict, e.g. for branching.

    :param job_id: the SchedulerX job (templated).
    :param job_name: the job's name instead of its id (templated).
    :param job_instance_id: the instance (templated).
    :param schedulerx_conn_id: the Airflow connection.
    :param namespace: namespace, if not the connection's (templated).
    :param group_id: application group, if not the connection's (templated).
    :param log_lines: how many of its last log lines to show (0 for none).
    :param failure_statuses: fail the try if the instance has one of these statuses.
    """

    template_fields: Sequence[str] = JOB_INSTANCE_FIELDS

    def __init__(
        self,
        *,
        job_id: int | str | None = None,
        job_instance_id: int | str,
        job_name: str | None = None,
        log_lines: int = 20,
        failure_statuses: Iterable[int | str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        from airflow_provider_schedulerx.config import MAX_LOG_LINES, validate_count

        self.choose_job(job_id, job_name)
        self.job_instance_id = job_instance_id
        self.log_lines = validate_count(log_lines, "log_lines", minimum=0, maximum=MAX_LOG_LINES)
        self.failure_statuses = WaitPolicy.of(None, failure_statuses or []).failure

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_schedulerx.utils.tasks import redacted

        self.check_scope()
        instance_id = self.checked_id(self.job_instance_id, "job_instance_id")
        job_id = self.resolve_job(context)
        self.push_console_url(context, job_id, instance_id)
        with self.failing_as_airflow():
            instance = self.hook.get_job_instance(job_id, instance_id)
        self.log.info("%s", instance.summary())
        if self.log_lines:
            self.log_tail(job_id, instance_id, self.log_lines)
        if instance.status in self.failure_statuses:
            self.fail_with(instance, Verdict.FAILURE)
        return redacted(instance.to_dict())
