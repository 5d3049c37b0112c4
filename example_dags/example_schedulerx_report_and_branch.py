"""Report a SchedulerX job instance and branch on how it ended.

The sensor waits for any final status (so a failed instance does not fail it), the report
task logs the instance's summary and log tail and returns it, and the branch picks a path
from its status.
"""

from __future__ import annotations

from typing import Any

import pendulum

try:
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2
    from airflow.decorators import task
    from airflow.models.dag import DAG
    from airflow.models.param import Param

from airflow_provider_schedulerx.operators.schedulerx import (
    SchedulerXExecuteJobOperator,
    SchedulerXGetJobInstanceOperator,
)
from airflow_provider_schedulerx.sensors.schedulerx import SchedulerXJobInstanceSensor

FINAL_STATUSES = ["success", "failed", "killed", "rejected", "partial_failed", "skipped"]

with DAG(
    dag_id="example_schedulerx_report_and_branch",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"job_id": Param(101, type="integer", description="The SchedulerX job to run")},
    tags=["example", "schedulerx"],
):
    start_job = SchedulerXExecuteJobOperator(
        task_id="start_job", job_id="{{ params.job_id }}", wait_for_completion=False
    )
    # [START howto_sensor_schedulerx_job_instance_any_final_status]
    wait_until_final = SchedulerXJobInstanceSensor(
        task_id="wait_until_final",
        job_id="{{ params.job_id }}",
        job_instance_id="{{ ti.xcom_pull('start_job', key='job_instance_id') }}",
        success_statuses=FINAL_STATUSES,
        failure_statuses=[],
        poke_interval=1,
        timeout=600,
    )
    # [END howto_sensor_schedulerx_job_instance_any_final_status]
    # [START howto_operator_schedulerx_get_job_instance]
    report = SchedulerXGetJobInstanceOperator(
        task_id="report",
        job_id="{{ params.job_id }}",
        job_instance_id="{{ ti.xcom_pull('start_job', key='job_instance_id') }}",
    )
    # [END howto_operator_schedulerx_get_job_instance]

    # [START howto_operator_schedulerx_branch_on_instance]
    @task.branch
    def choose_path(instance: dict[str, Any]) -> str:
        return "publish_results" if instance["is_success"] else "alert_on_call"

    # [END howto_operator_schedulerx_branch_on_instance]

    @task
    def publish_results(instance: dict[str, Any]) -> str:
        return f"instance {instance['instance_id']} succeeded"

    @task
    def alert_on_call(instance: dict[str, Any]) -> str:
        return f"instance {instance['instance_id']} ended {instance['status_name']}: {instance['result']}"

    start_job >> wait_until_final >> report
    choose_path(report.output) >> [publish_results(report.output), alert_on_call(report.output)]
