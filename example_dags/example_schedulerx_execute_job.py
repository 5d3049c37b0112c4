"""Start a SchedulerX job and wait for it to finish.

The task starts the job, pushes the new instance's id and console link to XCom, waits
(polling here; ``deferrable=True`` waits in the triggerer), and returns the finished
instance as a dict. A failed instance fails the task with its result and log tail.
"""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2
    from airflow.models.dag import DAG
    from airflow.models.param import Param

from airflow_provider_schedulerx.operators.schedulerx import SchedulerXExecuteJobOperator

with DAG(
    dag_id="example_schedulerx_execute_job",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"job_id": Param(101, type="integer", description="The SchedulerX job to run")},
    tags=["example", "schedulerx"],
):
    # [START howto_operator_schedulerx_execute_job]
    SchedulerXExecuteJobOperator(
        task_id="run_job",
        job_id="{{ params.job_id }}",
        instance_parameters="airflow_run_id={{ run_id }}",
        poll_interval=1,
        timeout=600,
    )
    # [END howto_operator_schedulerx_execute_job]
