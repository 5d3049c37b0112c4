"""A DAG of the tests: one job run with OpenLineage on (selectively, for this DAG alone) and
the parent job information injected into the instance parameters."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow.models.dag import DAG

from airflow_provider_schedulerx.operators.schedulerx import SchedulerXExecuteJobOperator

with DAG(
    dag_id="openlineage_job",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"job_id": 101},
) as dag:
    SchedulerXExecuteJobOperator(
        task_id="run_job",
        job_id="{{ params.job_id }}",
        instance_parameters='{"day": "{{ ds }}"}',
        poll_interval=0.2,
        openlineage_inject_parent_job_info=True,
    )

try:
    from airflow.providers.openlineage.utils.selective_enable import enable_lineage
except ImportError:  # the OpenLineage provider is not installed
    pass
else:
    enable_lineage(dag)
