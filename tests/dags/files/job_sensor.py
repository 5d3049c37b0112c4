"""A DAG of the tests: the job sensor alone, waiting on a job's instance for the window the
test gives."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow.models.dag import DAG

from airflow_provider_schedulerx.sensors.schedulerx import SchedulerXJobSensor

with DAG(
    dag_id="job_sensor",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"job_id": 101, "window_start": "", "window_end": ""},
):
    SchedulerXJobSensor(
        task_id="wait",
        job_id="{{ params.job_id }}",
        window_start="{{ params.window_start }}",
        window_end="{{ params.window_end }}",
    )
