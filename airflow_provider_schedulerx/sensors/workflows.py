"""Waiting on a SchedulerX workflow instance from a DAG."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from airflow_provider_schedulerx.sensors.schedulerx import WaitingSensor
from airflow_provider_schedulerx.utils.waiting import NodeLog, Verdict

__all__ = ["SchedulerXWorkflowInstanceSensor"]


class SchedulerXWorkflowInstanceSensor(WaitingSensor):
    """Waits until a SchedulerX workflow instance succeeds or fails, logging each node whose
    status changed.

    Success: the instance, with its nodes, as a dict is the XCom return value. Failure: the
    try fails retryably with the failed nodes' results and log tails. Poke, reschedule and
    ``deferrable=True``, as the instance sensor.

    :param workflow_id: the SchedulerX workflow (templated).
    :param workflow_instance_id: the workflow instance to wait on (templated).
    :param schedulerx_conn_id: the Airflow connection.
    :param namespace: namespace, if not the connection's (templated).
    :param group_id: application group, if not the connection's (templated).
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = ("workflow_id", "workflow_instance_id", "namespace", "group_id")

    def __init__(self, *, workflow_id: int | str, workflow_instance_id: int | str, **kwargs: Any) -> None:
        from airflow_provider_schedulerx.exceptions import SchedulerXConfigError

        for refused in ("success_statuses", "failure_statuses"):
            if refused in kwargs:
                raise SchedulerXConfigError(f"{refused}: a workflow instance succeeds or fails, nothing else")
        super().__init__(success_statuses=["success"], failure_statuses=["failed"], **kwargs)
        self.workflow_id = workflow_id
        self.workflow_instance_id = workflow_instance_id
        self._nodes = NodeLog(self.log)

    def _ids(self) -> tuple[int, int]:
        self.check_scope()
        return self.checked_id(self.workflow_id, "workflow_id"), self.checked_id(
            self.workflow_instance_id, "workflow_instance_id"
        )

    def linked(self, context: Any) -> tuple[int, int | None]:
        return self._ids()

    def console_url(self, owner_id: int | None, instance_id: int | None) -> str:
        return self.hook.workflow_console_url(
            int(owner_id or 0), instance_id, namespace=self.namespace, group_id=self.group_id
        )

    def look(self, context: Any) -> Any:
        instance = self.hook.get_workflow_instance(*self._ids())
        self._nodes.update(instance)
        return instance

    def defer_wait(self, context: Any, deadline: float | None, failed_polls: int) -> NoReturn:
        from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXWorkflowInstanceTrigger

        self.defer_to_trigger(
            SchedulerXWorkflowInstanceTrigger,
            *self._ids(),
            poll_interval=self.poke_interval,
            deadline=deadline,
            failed_polls=failed_polls,
        )

    def follow(self, context: Any, instance: Any) -> None:
        """The nodes' logs are not followed; their status changes are logged instead."""

    def report(self, instance: Any) -> dict[str, Any]:
        from airflow_provider_schedulerx.utils.workflows import report_workflow

        return report_workflow(self, instance)

    def fail_with(self, instance: Any, verdict: Verdict) -> NoReturn:
        from airflow_provider_schedulerx.utils.workflows import fail_with_workflow

        fail_with_workflow(self, instance)
