"""Wait for what SchedulerX's own schedule ran for this DAG run's data interval, then report it.

SchedulerX runs the job ``nightly-export`` every night for the day before (its data offset is
one day). Each daily run of this DAG waits, rescheduled, until that night's instance for its
data interval has succeeded: no Airflow task started it, and no DAG needs its id. A failed
export fails the try, and a rerun in SchedulerX satisfies the next one.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.timetables.interval import CronDataIntervalTimetable

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow.models.dag import DAG

from airflow_provider_schedulerx.operators.schedulerx import SchedulerXGetJobInstanceOperator
from airflow_provider_schedulerx.sensors.schedulerx import SchedulerXJobSensor

with DAG(
    dag_id="example_schedulerx_wait_for_schedule",
    # Each run's data interval is the day before it (Airflow 3's plain cron has none).
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
    tags=["example", "schedulerx"],
):
    # [START howto_sensor_schedulerx_job]
    wait_for_export = SchedulerXJobSensor(
        task_id="wait_for_export",
        job_name="nightly-export",
        # window_start / window_end: the data interval; match_on="data_time"
        mode="reschedule",
        poke_interval=300,
        timeout=6 * 3600,
    )
    report = SchedulerXGetJobInstanceOperator(
        task_id="report",
        job_id="{{ ti.xcom_pull('wait_for_export')['job_id'] }}",
        job_instance_id="{{ ti.xcom_pull('wait_for_export')['instance_id'] }}",
    )
    # [END howto_sensor_schedulerx_job]
    wait_for_export >> report
