"""Deferred SchedulerX tasks when triggerers fail, in a deployment with two triggerers
(Airflow's high-availability setup): the surviving triggerer takes over the triggers of a
killed one, a killed and restarted triggerer completes its triggers, and with every
triggerer down past the task's deadline, Airflow's own deferral timeout still stops the
instance. One instance per task throughout."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

import pytest

from airflow_provider_schedulerx.emulator import Emulator, JobSpec
from airflow_provider_schedulerx.emulator.specs import KILLED_BY_USER
from airflow_provider_schedulerx.models import InstanceStatus
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE, connection_json
from tests.deployment.harness import AirflowDeployment, Timings

pytestmark = pytest.mark.timeout(1200)

JOBS = {"failover": 901, "restart": 902, "backstop": 903}

DAGS = f'''
"""Deferred SchedulerX tasks for the triggerer tests."""

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_schedulerx.operators.schedulerx import SchedulerXExecuteJobOperator

for name, job_id, timeout in (("failover", {JOBS["failover"]}, None), ("restart", {JOBS["restart"]}, None),
                              ("backstop", {JOBS["backstop"]}, 5)):
    with DAG(f"triggerers_{{name}}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
             catchup=False, default_args={{"retries": 0}}):
        SchedulerXExecuteJobOperator(
            task_id="run_job", job_id=job_id, deferrable=True, poll_interval=1, timeout=timeout
        )
'''


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    jobs = [
        JobSpec(job_id=JOBS["failover"], wait_seconds=0.5, run_seconds=50),
        JobSpec(job_id=JOBS["restart"], wait_seconds=0.5, run_seconds=40),
        JobSpec(job_id=JOBS["backstop"], wait_seconds=0.5, run_seconds=3600),
    ]
    with Emulator(ACCESS_KEY_ID, ACCESS_KEY_SECRET, jobs=jobs, namespace=NAMESPACE, group_id=GROUP_ID) as emu:
        yield emu


@pytest.fixture(scope="module")
def deployment_dags() -> Mapping[str, str]:
    return {"triggerers.py": DAGS}


@pytest.fixture(scope="module")
def deployment_env(emulator: Emulator) -> Mapping[str, str]:
    return {"AIRFLOW_CONN_SCHEDULERX_DEFAULT": connection_json(emulator, backoff=0.05)}


@pytest.fixture(scope="module")
def deployment_triggerers() -> int:
    return 2


def holder(deployment: AirflowDeployment, dag_id: str, run_id: str) -> str:
    """The triggerer process running the task's trigger."""
    ti = deployment.api.wait_for_deferral(dag_id, run_id, "run_job", timeout=180)
    assert ti.triggerer_id is not None
    name = deployment.triggerer_name(ti.triggerer_id)
    assert name is not None, f"no triggerer of this deployment runs job {ti.triggerer_id}"
    return name


def start(deployment: AirflowDeployment, name: str) -> tuple[str, str]:
    dag_id = f"triggerers_{name}"
    deployment.api.unpause(dag_id)
    return dag_id, deployment.api.trigger_dag(dag_id)


def test_the_surviving_triggerer_takes_over_and_completes(
    deployment: AirflowDeployment, emulator: Emulator, steps: Timings
) -> None:
    dag_id, run_id = start(deployment, "failover")
    with steps.step("deferred"):
        killed = holder(deployment, dag_id, run_id)
    with steps.step(f"kill -9 {killed}"):
        deployment.kill(killed)
    with steps.step("the other triggerer took the trigger, the task succeeded"):
        done = deployment.api.wait_for_task(dag_id, run_id, "run_job", "success", timeout=300)
    survivor = deployment.triggerer_name(done.triggerer_id) if done.triggerer_id else None
    assert survivor in (None, *(name for name in deployment.triggerer_names if name != killed))
    assert done.try_number == 1
    assert emulator.stats.executions[JOBS["failover"]] == 1
    deployment.start_process(killed)


def test_a_killed_and_restarted_triggerer_completes(
    deployment: AirflowDeployment, emulator: Emulator, steps: Timings
) -> None:
    dag_id, run_id = start(deployment, "restart")
    with steps.step("deferred"):
        killed = holder(deployment, dag_id, run_id)
    with steps.step(f"kill -9 {killed} and start it again"):
        deployment.restart(killed)
    with steps.step("the task succeeded"):
        done = deployment.api.wait_for_task(dag_id, run_id, "run_job", "success", timeout=300)
    assert done.try_number == 1
    assert emulator.stats.executions[JOBS["restart"]] == 1


def test_with_every_triggerer_down_past_the_deadline_the_instance_is_still_stopped(
    deployment: AirflowDeployment, emulator: Emulator, steps: Timings
) -> None:
    dag_id, run_id = start(deployment, "backstop")
    with steps.step("deferred"):
        holder(deployment, dag_id, run_id)
    with steps.step("every triggerer killed"):
        for name in deployment.triggerer_names:
            deployment.kill(name)
    try:
        with steps.step("Airflow's deferral timeout failed the task"):
            failed = deployment.api.wait_for_task(dag_id, run_id, "run_job", "failed", timeout=240)
    finally:
        for name in deployment.triggerer_names:
            deployment.start_process(name)
    (instance,) = emulator.instances(JOBS["backstop"])
    view = instance.view(time.time())
    assert view.status is InstanceStatus.KILLED and view.result == KILLED_BY_USER
    assert failed.try_number == 1
    assert "the deferral timed out" in deployment.api.task_log(dag_id, run_id, "run_job", 1)
