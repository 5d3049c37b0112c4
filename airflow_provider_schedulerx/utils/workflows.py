"""How the workflow tasks tell of a workflow instance and fail on one."""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["fail_with_workflow", "node_label", "report_workflow"]


def node_label(node: dict[str, Any]) -> str:
    """A node of an instance's dict as the logs name it: ``node extract (job 901, instance 7)``."""
    instance = f", instance {node['job_instance_id']}" if node.get("job_instance_id") else ""
    return f"node {node.get('job_name') or node['job_id']} (job {node['job_id']}{instance})"


def report_workflow(task: Any, instance: Any) -> dict[str, Any]:
    """Log a workflow instance's summary and its nodes; its dict, redacted, for XCom."""
    from airflow_provider_schedulerx.utils.tasks import redacted

    data = instance if isinstance(instance, dict) else instance.to_dict()
    task.log.info(
        "workflow %s instance %s: %s", data["workflow_id"], data["instance_id"], data["status_name"]
    )
    for node in data.get("nodes", []):
        result = f": {node['result']}" if node.get("result") else ""
        task.log.info("  %s %s%s", node_label(node), node["status_name"], result)
    return dict(redacted(data))


def fail_with_workflow(task: Any, instance: Any) -> NoReturn:
    """End the try for a workflow instance that failed: the failed nodes' results and log
    tails in the message; retryable, so that a retry starts another instance."""
    from airflow_provider_schedulerx.statuses import FAILURE_STATUSES
    from airflow_provider_schedulerx.utils.errors import SchedulerXInstanceFailed
    from airflow_provider_schedulerx.utils.tasks import redacted

    data = instance if isinstance(instance, dict) else instance.to_dict()
    workflow, instance_id = data["workflow_id"], data["instance_id"]
    message = f"SchedulerX workflow {workflow} instance {instance_id} ended {data['status_name']}"
    failure = {int(status) for status in FAILURE_STATUSES}
    for node in data.get("nodes", []):
        if node["status"] not in failure:
            continue
        result = f": {node['result']}" if node.get("result") else ""
        message += f"\n{node_label(node)} {node['status_name']}{result}"
        if node.get("job_instance_id"):
            tail = task.hook.log_tail(node["job_id"], node["job_instance_id"])
            message += "".join(f"\n  {line}" for line in tail)
    raise SchedulerXInstanceFailed(redacted(message))
