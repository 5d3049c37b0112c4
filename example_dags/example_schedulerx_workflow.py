"""Run a SchedulerX workflow, wait for it in the triggerer, and branch on how it ended.

The workflow's nodes run inside SchedulerX in their own order; the task logs each node's
status changes as the workflow goes. A failed workflow fails the task with the failed nodes'
results and log tails, and the branch after it alerts with them; a successful one publishes.
"""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2
    from airflow.decorators import task
    from airflow.models.dag import DAG
    from airflow.models.param import Param

from airflow_provider_schedulerx.operators.schedulerx import SchedulerXExecuteWorkflowOperator

with DAG(
    dag_id="example_schedulerx_workflow",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"workflow_id": Param(201, type="integer", description="The SchedulerX workflow to run")},
    tags=["example", "schedulerx"],
):
    # [START howto_operator_schedulerx_execute_workflow]
    run_workflow = SchedulerXExecuteWorkflowOperator(
        task_id="run_workflow",
        workflow_id="{{ params.workflow_id }}",
        instance_parameters="day={{ ds }}",
        deferrable=True,
        poll_interval=2,
        timeout=3600,
    )
    # [END howto_operator_schedulerx_execute_workflow]

    # [START howto_operator_schedulerx_workflow_outcome]
    @task.branch(trigger_rule="all_done")
    def branch_on_outcome(ti=None) -> str:
        finished = ti.xcom_pull(task_ids="run_workflow")
        return "publish" if finished and finished["is_success"] else "alert"

    # [END howto_operator_schedulerx_workflow_outcome]

    @task
    def publish(ti=None) -> list[str]:
        finished = ti.xcom_pull(task_ids="run_workflow")
        return [f"{node['job_name']}: {node['result']}" for node in finished["nodes"]]

    @task
    def alert(params=None, ti=None) -> str:
        from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook

        instance_id = ti.xcom_pull(task_ids="run_workflow", key="workflow_instance_id")
        if instance_id is None:
            return "the workflow did not start"
        instance = SchedulerXHook().get_workflow_instance(params["workflow_id"], instance_id)
        return f"workflow {instance.instance_id} {instance.status.label}: {instance.result}"

    run_workflow >> branch_on_outcome() >> [publish(), alert()]
