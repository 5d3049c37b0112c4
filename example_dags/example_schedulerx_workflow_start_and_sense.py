"""Start a SchedulerX workflow without waiting, then wait on its instance with a sensor.

The operator returns as soon as the workflow instance exists and pushes its id to XCom; the
sensor, rescheduled between pokes so that it holds no worker slot, waits until the workflow
has succeeded. A failed workflow fails the sensor with the failed nodes' results and log tails.
"""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2
    from airflow.models.dag import DAG
    from airflow.models.param import Param

from airflow_provider_schedulerx.operators.schedulerx import SchedulerXExecuteWorkflowOperator
from airflow_provider_schedulerx.sensors.schedulerx import SchedulerXWorkflowInstanceSensor

with DAG(
    dag_id="example_schedulerx_workflow_start_and_sense",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"workflow_id": Param(201, type="integer", description="The SchedulerX workflow to run")},
    tags=["example", "schedulerx"],
):
    start_workflow = SchedulerXExecuteWorkflowOperator(
        task_id="start_workflow",
        workflow_id="{{ params.workflow_id }}",
        wait_for_completion=False,
    )
    # [START howto_sensor_schedulerx_workflow_instance]
    wait_for_workflow = SchedulerXWorkflowInstanceSensor(
        task_id="wait_for_workflow",
        workflow_id="{{ params.workflow_id }}",
        workflow_instance_id="{{ ti.xcom_pull('start_workflow', key='workflow_instance_id') }}",
        mode="reschedule",
        poke_interval=2,
        timeout=3600,
    )
    # [END howto_sensor_schedulerx_workflow_instance]
    start_workflow >> wait_for_workflow
