"""A DAG of the tests: the instance sensor alone, waiting on an instance the test started."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow.models.dag import DAG

from airflow_provider_schedulerx.sensors.schedulerx import SchedulerXJobInstanceSensor

with DAG(
    dag_id="parity_sensor",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"job_id": 101, "instance_id": 1},
):
    SchedulerXJobInstanceSensor(
        task_id="wait", job_id="{{ params.job_id }}", job_instance_id="{{ params.instance_id }}"
    )
