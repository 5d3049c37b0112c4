"""Run a DAG each time a SchedulerX job succeeds (Airflow 3's asset watchers).

SchedulerX runs ``orders-sync`` on its own schedule. The asset of that job is watched by
``SchedulerXJobEventTrigger``: each instance that succeeds sends one event, and this DAG runs
on it and reports the instance. Airflow may put events that arrive together into one run;
each instance is in exactly one run's events.
"""

from __future__ import annotations

import pendulum

from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobEventTrigger

try:
    from airflow.sdk import DAG, Asset, AssetWatcher, task
except ImportError:  # Airflow 2 has no asset watchers: no DAG here
    AssetWatcher = None

if AssetWatcher is not None:
    # [START howto_trigger_schedulerx_job_event]
    orders_sync = Asset(
        name="schedulerx_orders_sync",
        uri="schedulerx://cn-hangzhou/demo-namespace/demo.defaultGroup/108",
        watchers=[
            AssetWatcher(
                name="orders_sync_succeeded",
                trigger=SchedulerXJobEventTrigger(job_name="orders-sync", poll_interval=30),
            )
        ],
    )
    # [END howto_trigger_schedulerx_job_event]

    with DAG(
        dag_id="example_schedulerx_asset_watcher",
        schedule=[orders_sync],
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        tags=["example", "schedulerx"],
    ):

        @task
        def report(triggering_asset_events=None) -> list[dict]:
            """The SchedulerX instances behind this run, from the watcher's events."""
            instances = [event.extra["payload"] for event in triggering_asset_events[orders_sync]]
            for instance in instances:
                print(
                    f"SchedulerX job {instance['job_id']} instance {instance['job_instance_id']} ended "
                    f"{instance['status']} (scheduled {instance['schedule_time']}): {instance['result']}"
                )
            return instances

        report()
