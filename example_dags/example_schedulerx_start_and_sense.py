"""Start a SchedulerX job without waiting, then wait on its instance with a deferrable sensor.

The sensor takes the instance id from the first task's XCom and waits in the triggerer,
so no worker slot is held while the job runs.
"""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2
    from airflow.models.dag import DAG
    from airflow.models.param import Param

from airflow_provider_schedulerx.operators.schedulerx import SchedulerXExecuteJobOperator
from airflow_provider_schedulerx.sensors.schedulerx import SchedulerXJobInstanceSensor

with DAG(
    dag_id="example_schedulerx_start_and_sense",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"job_id": Param(101, type="integer", description="The SchedulerX job to run")},
    tags=["example", "schedulerx"],
):
    # [START howto_operator_schedulerx_start_without_waiting]
    start_job = SchedulerXExecuteJobOperator(
        task_id="start_job",
        job_id="{{ params.job_id }}",
        wait_for_completion=False,
    )
    # [END howto_operator_schedulerx_start_without_waiting]
    # [START howto_sensor_schedulerx_job_instance_deferrable]
    wait_for_job = SchedulerXJobInstanceSensor(
        task_id="wait_for_job",
        job_id="{{ params.job_id }}",
        job_instance_id="{{ ti.xcom_pull('start_job', key='job_instance_id') }}",
        deferrable=True,
        poke_interval=1,
        timeout=600,
    )
    # [END howto_sensor_schedulerx_job_instance_deferrable]
    start_job >> wait_for_job
