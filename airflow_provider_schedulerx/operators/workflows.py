"""Starting SchedulerX workflows from a DAG: the job operator's lifecycle, with workflows."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_schedulerx.operators.schedulerx import SchedulerXExecuteJobOperator

if TYPE_CHECKING:
    from airflow_provider_schedulerx.hooks.workflow_tasks import WorkflowTasks
    from airflow_provider_schedulerx.models import WorkflowInstance
    from airflow_provider_schedulerx.utils.lifecycle import Request
    from airflow_provider_schedulerx.utils.waiting import NodeLog, Verdict

__all__ = ["SchedulerXExecuteWorkflowOperator"]

#: The task state key of the workflow instance a try follows.
WORKFLOW_STATE_KEY = "schedulerx_workflow_instance"


class SchedulerXExecuteWorkflowOperator(SchedulerXExecuteJobOperator):
    """Starts a SchedulerX workflow and, unless told not to, waits for the instance to end.

    The same lifecycle as :class:`SchedulerXExecuteJobOperator`: a retry follows the earlier
    try's instance, a clear replaces it, the deadline and a kill stop it (no action stops a
    workflow instance: every node still running is stopped), and ``ExecuteWorkflow`` is sent
    once per request. While it waits, each node's status changes are logged
    (``node extract (job 901, instance 7) running -> success``). A failed workflow fails the
    try retryably, with the failed nodes' results and log tails.

    XCom: ``workflow_instance_id`` and the console URL at once; the instance, with its
    nodes, as the return value.

    .. code-block:: python

        SchedulerXExecuteWorkflowOperator(
            task_id="run_workflow",
            workflow_name="daily-orders",  # or workflow_id=1234
            instance_parameters="day={{ ds }}",
            deferrable=True,
        )

    :param workflow_id: the SchedulerX workflow (templated).
    :param workflow_name: the workflow's name instead of its id (templated): looked up once
        per try (``ListWorkFlows``); no workflow, or several, of that name fail the task.
    :param instance_parameters: parameters of this run (templated; at most 1,000 bytes).
    :param schedulerx_conn_id: the Airflow connection.
    :param namespace: namespace, if not the connection's (templated).
    :param group_id: application group, if not the connection's (templated).
    :param wait_for_completion: wait for the instance to end.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between status checks.
    :param timeout: seconds to wait before stopping the instance and failing the try.
    :param openlineage_inject_parent_job_info: as on :class:`SchedulerXExecuteJobOperator`.
    """

    noun = "workflow"
    instance_xcom_key = "workflow_instance_id"
    template_fields: Sequence[str] = (
        "workflow_id",
        "workflow_name",
        "instance_parameters",
        "namespace",
        "group_id",
    )

    def __init__(
        self,
        *,
        workflow_id: int | str | None = None,
        workflow_name: str | None = None,
        instance_parameters: str | None = None,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_schedulerx.exceptions import SchedulerXConfigError

        for refused in (
            "job_id",
            "job_name",
            "worker",
            "worker_label",
            "success_statuses",
            "failure_statuses",
        ):
            if refused in kwargs:
                raise SchedulerXConfigError(f"{refused}: a workflow operator takes no {refused}")
        if (workflow_id is None) == (workflow_name is None):
            given = "both" if workflow_id is not None else "neither"
            raise SchedulerXConfigError(f"workflow_id or workflow_name: give one of the two, not {given}")
        # The job operator's machinery follows ``job_id``: here the workflow's.
        super().__init__(
            job_id=-1,
            instance_parameters=instance_parameters,
            success_statuses=["success"],
            failure_statuses=["failed"],
            **kwargs,
        )
        self.workflow_id = workflow_id
        self.workflow_name = workflow_name

    @cached_property
    def workflows(self) -> WorkflowTasks:
        from airflow_provider_schedulerx.hooks.workflow_tasks import WorkflowTasks

        return WorkflowTasks(self.hook)

    @cached_property
    def node_log(self) -> NodeLog:
        from airflow_provider_schedulerx.utils.waiting import NodeLog

        return NodeLog(self.log)

    def _request(self, context: Any) -> Request:
        from airflow_provider_schedulerx.config import validate_id, validate_name
        from airflow_provider_schedulerx.rpc.actions import check_instance_parameters
        from airflow_provider_schedulerx.rpc.workflows import MAX_WORKFLOW_PARAMETERS_BYTES
        from airflow_provider_schedulerx.utils.lifecycle import Request

        self.check_scope()
        with self.failing_as_airflow():
            if self.workflow_name is not None:
                name = str(validate_name(self.workflow_name, "workflow_name"))
                workflow_id = self.hook.find_workflow(name)
                self.log.info("Workflow %r is workflow %d", name, workflow_id)
            else:
                workflow_id = validate_id(self.workflow_id, "workflow_id")
            parameters = check_instance_parameters(
                self.instance_parameters, limit=MAX_WORKFLOW_PARAMETERS_BYTES
            )
        self.job_id_in_use = workflow_id
        map_index = getattr(context["ti"], "map_index", -1)
        return Request(workflow_id, parameters, None, None, -1 if map_index is None else int(map_index))

    # -- with workflows ---------------------------------------------------------------------

    def given_id(self) -> int | None:
        return None if self.workflow_name is not None else int(self.workflow_id)  # type: ignore[arg-type]

    @property
    def state_key(self) -> str:
        return WORKFLOW_STATE_KEY

    def trigger_class(self) -> Any:
        from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXWorkflowInstanceTrigger

        return SchedulerXWorkflowInstanceTrigger

    def _start(self, request: Request) -> int:
        from airflow_provider_schedulerx.rpc.workflows import MAX_WORKFLOW_PARAMETERS_BYTES

        parameters = self.sent_parameters(request.parameters, MAX_WORKFLOW_PARAMETERS_BYTES)
        return self.workflows.start(request.job_id, instance_parameters=parameters)

    def console_url(self, owner_id: int | None, instance_id: int | None) -> str:
        return self.hook.workflow_console_url(
            int(owner_id or 0), instance_id, namespace=self.namespace, group_id=self.group_id
        )

    def get_instance(self, owner_id: int, instance_id: int) -> WorkflowInstance:
        return self.hook.get_workflow_instance(owner_id, instance_id)

    def stop_if_running(self, owner_id: int, instance_id: int, *, reason: str) -> bool:
        return self.workflows.stop_if_running(owner_id, instance_id, reason=reason)

    def poll_until(self, owner_id: int, instance_id: int, **options: Any) -> Any:
        from airflow_provider_schedulerx.rpc.workflows import get_workflow_instance

        return self.hook.poll_call(get_workflow_instance(owner_id, instance_id), **options)

    def seen(self, instance: Any) -> None:
        self.node_log.update(instance)

    # -- how it tells and ends ------------------------------------------------------------

    def report(self, instance: Any) -> dict[str, Any]:
        from airflow_provider_schedulerx.utils.workflows import report_workflow

        return report_workflow(self, instance)

    def fail_with(self, instance: Any, verdict: Verdict) -> NoReturn:
        from airflow_provider_schedulerx.utils.workflows import fail_with_workflow

        fail_with_workflow(self, instance)
