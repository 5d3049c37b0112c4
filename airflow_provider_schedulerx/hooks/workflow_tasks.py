"""What the workflow tasks do with the API, on top of the hook's calls: start a workflow once,
and stop an instance (no action does: each node still running is stopped)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook

__all__ = ["WorkflowTasks"]

#: When ExecuteWorkflow's reply is lost, the instances started since this long before the
#: call (allowing for clock skew) are candidates for its own.
LOST_START_CLOCK_MARGIN = 60.0


class WorkflowTasks:
    """The workflow helpers of the tasks, through ``hook``.

    :param hook: the hook whose calls they make.
    """

    def __init__(self, hook: SchedulerXHook) -> None:
        self.hook = hook
        self.log = hook.log

    def start(self, workflow_id: int, *, instance_parameters: str | None = None) -> int:
        """Start the workflow once (``ExecuteWorkflow``) and return the instance's id; a lost
        reply is recovered as :meth:`SchedulerXHook.start_once` says, from the workflow's
        instances started since the call."""
        hook = self.hook

        def send() -> int:
            instance_id = hook.execute_workflow(workflow_id, instance_parameters=instance_parameters)
            self.log.info("Started SchedulerX workflow %d: instance %d", workflow_id, instance_id)
            return instance_id

        def find(since: float) -> list[int]:
            after = since - LOST_START_CLOCK_MARGIN
            return [
                instance.instance_id
                for instance in hook.list_workflow_instances(workflow_id)
                if instance.start_time is not None and instance.start_time.timestamp() >= after
            ]

        return hook.start_once(send, find, "ExecuteWorkflow", "the workflow")

    def stop_if_running(self, workflow_id: int, workflow_instance_id: int, *, reason: str) -> bool:
        """Stop every node of the instance still running (no action stops a workflow
        instance); True if one was stopped. A failure is logged, not raised."""
        from airflow_provider_schedulerx.exceptions import SchedulerXError

        try:
            instance = self.hook.get_workflow_instance(workflow_id, workflow_instance_id)
        except SchedulerXError as error:
            self.log.error(
                "Could not read SchedulerX workflow %s instance %s: %s",
                workflow_id,
                workflow_instance_id,
                error,
            )
            return False
        if instance.is_finished:
            return False
        stopped = False
        for node in instance.running_nodes():
            assert node.job_instance_id is not None
            stopped |= self.hook.stop_if_running(
                node.job_id, node.job_instance_id, reason=f"{reason}; {node.describe()}"
            )
        if stopped:
            self.log.info(
                "Stopped SchedulerX workflow %s instance %s (%s)", workflow_id, workflow_instance_id, reason
            )
        return stopped
