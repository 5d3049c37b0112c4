"""A DAG of the tests: the workflow instance sensor alone, on an instance the test started."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow.models.dag import DAG

from airflow_provider_schedulerx.sensors.schedulerx import SchedulerXWorkflowInstanceSensor

with DAG(
    dag_id="workflow_sensor",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"workflow_id": 201, "instance_id": 1},
):
    SchedulerXWorkflowInstanceSensor(
        task_id="wait",
        workflow_id="{{ params.workflow_id }}",
        workflow_instance_id="{{ params.instance_id }}",
    )
