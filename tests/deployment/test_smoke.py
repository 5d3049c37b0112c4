"""The deployment harness itself, on two tiny DAGs of Airflow's standard operators: the
scheduler runs a task, the triggerer runs a trigger, the REST API triggers, reads, clears and
marks, a triggerer killed mid-deferral and restarted still completes the task, and a killed
task process is retried."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from tests.deployment.harness import AirflowDeployment, Timings

SMOKE_DAG = '''
"""One Python task, then one deferred task whose trigger waits ``defer_seconds`` (from the
run's conf) before the task resumes on a worker.

The wait is a few seconds at least: on Airflow 3.3.2 a trigger that fires before the scheduler
has taken in the executor's report on the deferring try can get the resumed task failed
("reported that the task instance ... finished with state success, but the task instance's
state attribute is queued", apache/airflow#67287 and #72716)."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.python import PythonOperator
from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import DAG, BaseOperator, timezone


def greet(**context):
    marker = context["dag_run"].conf.get("marker", "none")
    try_number = context["ti"].try_number
    print(f"smoke greeting marker={marker} try={try_number}")
    return {"marker": marker, "try": try_number}


class DeferFor(BaseOperator):
    """Defers to a DateTimeTrigger ``seconds`` from now, then resumes on a worker."""

    template_fields = ("seconds",)

    def __init__(self, *, seconds, **kwargs):
        super().__init__(**kwargs)
        self.seconds = seconds

    def execute(self, context):
        moment = timezone.utcnow() + timedelta(seconds=float(self.seconds))
        self.defer(trigger=DateTimeTrigger(moment=moment), method_name="resume")

    def resume(self, context, event=None):
        print(f"smoke resumed after the trigger fired: {event}")
        return "resumed"


with DAG("smoke", schedule=None, catchup=False, max_active_runs=4, default_args={"retries": 0}):
    PythonOperator(task_id="greet", python_callable=greet) >> DeferFor(
        task_id="wait", seconds="{{ dag_run.conf.get('defer_seconds', 6) }}"
    )
'''

RETRY_DAG = '''
"""A task that hangs on its first try and succeeds on its second."""

from __future__ import annotations

import time
from datetime import timedelta

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG


def hang_once(**context):
    try_number = context["ti"].try_number
    print(f"smoke retry try={try_number}")
    if try_number == 1:
        time.sleep(600)
    return try_number


with DAG(
    "smoke_retry",
    schedule=None,
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
):
    PythonOperator(task_id="hang_once", python_callable=hang_once)
'''

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def deployment_dags() -> Mapping[str, str]:
    return {"smoke.py": SMOKE_DAG, "smoke_retry.py": RETRY_DAG}


@pytest.fixture(scope="module")
def airflow(deployment: AirflowDeployment) -> AirflowDeployment:
    """The deployment with both DAGs unpaused."""
    for dag_id in ("smoke", "smoke_retry"):
        deployment.api.unpause(dag_id)
    return deployment


def test_a_run_goes_through_scheduler_worker_and_triggerer(
    airflow: AirflowDeployment, steps: Timings
) -> None:
    rest = airflow.api
    with steps.step("trigger a run"):
        run_id = rest.trigger_dag("smoke", {"marker": "first", "defer_seconds": 6})
    with steps.step("python task queued, run and succeeded"):
        greet = rest.wait_for_task("smoke", run_id, "greet", "success")
    with steps.step("deferred task succeeded after its trigger fired"):
        rest.wait_for_task("smoke", run_id, "wait", "success")
        run = rest.wait_for_run("smoke", run_id, "success")

    assert run["conf"] == {"marker": "first", "defer_seconds": 6}
    assert greet.try_number == 1
    assert rest.xcom("smoke", run_id, "greet") == {"marker": "first", "try": 1}
    assert rest.xcom("smoke", run_id, "wait") == "resumed"
    assert rest.extra_links("smoke", run_id, "greet") == {}
    with steps.step("read a task log"):
        log = rest.task_log("smoke", run_id, "greet", 1)
    assert "smoke greeting marker=first try=1" in log
    # The trigger ran in the triggerer, which wrote its own log named after its job.
    job_id = airflow.triggerer_job_id("triggerer-1")
    assert list((airflow.home / "logs").rglob(f"*.trigger.{job_id}.log")), (
        "the triggerer wrote no trigger log"
    )


def test_a_killed_and_restarted_triggerer_still_completes_the_deferred_task(
    airflow: AirflowDeployment, steps: Timings
) -> None:
    rest = airflow.api
    run_id = rest.trigger_dag("smoke", {"marker": "kill", "defer_seconds": 45})
    with steps.step("task deferred, trigger taken by triggerer-1"):
        deferred = rest.wait_for_deferral("smoke", run_id, "wait", timeout=180)
    killed_job = airflow.triggerer_job_id("triggerer-1")
    assert deferred.triggerer_id == killed_job

    with steps.step("kill -9 triggerer-1 and start it again"):
        airflow.restart("triggerer-1")
    new_job = airflow.triggerer_job_id("triggerer-1")
    assert new_job != killed_job
    with steps.step("restarted triggerer took the trigger over"):
        rest.wait_for(
            "the restarted triggerer to take the trigger over (or the task to be done)",
            lambda: _taken_over(airflow, run_id, new_job),
            timeout=120,
        )
    with steps.step("deferred task succeeded"):
        done = rest.wait_for_task("smoke", run_id, "wait", "success", timeout=180)
    assert done.try_number == 1
    assert rest.wait_for_run("smoke", run_id, "success")["state"] == "success"
    assert list((airflow.home / "logs").rglob(f"*.trigger.{new_job}.log")), "the new triggerer ran no trigger"


def _taken_over(airflow: AirflowDeployment, run_id: str, job_id: int) -> tuple[bool, str]:
    ti = airflow.api.task_instance("smoke", run_id, "wait")
    return ti.triggerer_id == job_id or ti.state == "success", ti.describe()


def test_clearing_a_finished_task_runs_it_again(airflow: AirflowDeployment, steps: Timings) -> None:
    rest = airflow.api
    run_id = rest.trigger_dag("smoke", {"marker": "clear", "defer_seconds": 6})
    with steps.step("run succeeded"):
        rest.wait_for_run("smoke", run_id, "success", timeout=180)

    with steps.step("clear the python task"):
        cleared = rest.clear_task_instances("smoke", run_id, ["greet"])
    assert [item["task_id"] for item in cleared] == ["greet"]
    with steps.step("cleared task ran again"):
        again = rest.wait_for_task("smoke", run_id, "greet", "success", min_try_number=2, timeout=180)
        rest.wait_for_run("smoke", run_id, "success")
    assert again.try_number == 2
    assert rest.xcom("smoke", run_id, "greet") == {"marker": "clear", "try": 2}
    assert [item["try_number"] for item in rest.task_tries("smoke", run_id, "greet")] == [1, 2]
    assert "smoke greeting marker=clear try=2" in rest.task_log("smoke", run_id, "greet", 2)
    # The deferred task downstream was not cleared.
    assert rest.task_instance("smoke", run_id, "wait").try_number == 1


def test_marking_a_deferred_task_success_and_a_finished_one_failed(
    airflow: AirflowDeployment, steps: Timings
) -> None:
    rest = airflow.api
    run_id = rest.trigger_dag("smoke", {"marker": "mark", "defer_seconds": 600})
    with steps.step("task deferred"):
        deferred = rest.wait_for_deferral("smoke", run_id, "wait", timeout=180)
    assert deferred.trigger is not None
    trigger_id = deferred.trigger["id"]

    with steps.step("mark the deferred task success"):
        rest.mark_success("smoke", run_id, "wait")
        marked = rest.wait_for_task("smoke", run_id, "wait", "success")
        rest.wait_for_run("smoke", run_id, "success")
    assert marked.try_number == 1
    with steps.step("triggerer dropped the trigger"):
        rest.wait_for_task_instance(
            "smoke", run_id, "wait", lambda ti: ti.trigger is None, "no trigger any more", timeout=60
        )
    assert trigger_id not in {trigger["id"] for trigger in airflow.triggers()}

    with steps.step("mark the finished python task failed"):
        rest.mark_failed("smoke", run_id, "greet")
    assert rest.task_instance("smoke", run_id, "greet").state == "failed"


def test_a_killed_task_process_is_retried(airflow: AirflowDeployment, steps: Timings) -> None:
    rest = airflow.api
    run_id = rest.trigger_dag("smoke_retry")
    with steps.step("task running, its process found"):
        processes = airflow.kill_task_instance("smoke_retry", run_id, "hang_once", timeout=180)
    assert processes.supervisor_pid is not None
    with steps.step("killed try failed, second try succeeded"):
        retried = rest.wait_for_task("smoke_retry", run_id, "hang_once", "success", timeout=180)
    assert retried.try_number == 2
    assert rest.xcom("smoke_retry", run_id, "hang_once") == 2
    first, second = rest.task_tries("smoke_retry", run_id, "hang_once")
    assert first["state"] in ("failed", "up_for_retry")
    assert second["state"] == "success"
