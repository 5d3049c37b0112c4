"""The example DAGs, run end to end with ``dag.test()`` on a real SQLite metadata database
against the emulator: success, failure, rejection, deferral, deadline, retry, kill."""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_schedulerx.emulator import JobSpec
from airflow_provider_schedulerx.links.schedulerx import SchedulerXJobInstanceLink
from airflow_provider_schedulerx.models import InstanceStatus
from airflow_provider_schedulerx.utils.lifecycle import STATE_KEY
from airflow_provider_schedulerx.utils.task_state import VariableTaskStateStore
from tests.airflow_versions import AIRFLOW_2, HAS_TASK_STATE_STORE, dagbag, xcom_value
from tests.conftest import REPO, connection_json

pytestmark = pytest.mark.dag

EXAMPLES = REPO / "example_dags"


def load_dag(name: str) -> Any:
    """A fresh copy of an example DAG, parsed from its file as the scheduler would."""
    bag = dagbag(str(EXAMPLES / f"{name}.py"))
    assert bag.import_errors == {}
    return bag.dags[name]


def task_states(dag_run: Any) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        dag_run = session.merge(dag_run)
        return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances(session=session)}


def try_numbers(dag_run: Any) -> dict[str, int]:
    from airflow.utils.session import create_session

    with create_session() as session:
        dag_run = session.merge(dag_run)
        return {ti.task_id: ti.try_number for ti in dag_run.get_task_instances(session=session)}


def xcom(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    return xcom_value(dag_run.dag_id, dag_run.run_id, task_id, key)


def task_state_rows(dag_run: Any) -> dict[tuple[str, str], Any]:
    """What Airflow 3.3's task state store holds for the run's tasks."""
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskStateStoreModel).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id)
        return {(row.task_id, row.key): json.loads(row.value) for row in rows}


def task_state_variables() -> dict[str, Any]:
    """The Variables that keep task state before Airflow 3.3, by key."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    prefix = VariableTaskStateStore.VARIABLE_PREFIX
    with create_session() as session:
        rows = session.query(Variable).filter(Variable.key.startswith(prefix))
        return {row.key: json.loads(row.val) for row in rows}


@pytest.fixture
def no_task_state_variables() -> Iterator[None]:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    def delete() -> None:
        with create_session() as session:
            session.query(Variable).filter(
                Variable.key.startswith(VariableTaskStateStore.VARIABLE_PREFIX)
            ).delete(synchronize_session=False)

    delete()
    yield
    delete()


def printed(capfd: pytest.CaptureFixture[str]) -> str:
    """What the run wrote (Airflow's task logs go to the console under dag.test())."""
    out, err = capfd.readouterr()
    return out + err


def the_instance(emulator, job_id: int):
    (instance,) = emulator.instances(job_id)
    return instance


@pytest.fixture
def run_dag(airflow_db, schedulerx_connection):
    return run_example


def run_example(name: str, job_id: int, **overrides: Any) -> Any:
    """Run an example DAG with ``dag.test()`` for ``job_id``, after setting the given
    attributes of its tasks (``run_job={"poll_interval": 0.1}``)."""
    dag = load_dag(name)
    for task_id, attributes in overrides.items():
        for attribute, value in attributes.items():
            setattr(dag.get_task(task_id), attribute, value)
    return dag.test(run_conf={"job_id": job_id})


def test_execute_job_success_returns_the_instance(run_dag, schedulerx_connection):
    dag_run = run_dag("example_schedulerx_execute_job", 101)
    assert task_states(dag_run) == {"run_job": "success"}
    result = xcom(dag_run, "run_job")
    assert result["status"] == InstanceStatus.SUCCESS and result["result"] == "42 rows loaded"
    instance_id = xcom(dag_run, "run_job", "job_instance_id")
    assert instance_id == result["instance_id"] == the_instance(schedulerx_connection, 101).instance_id
    link = urlsplit(xcom(dag_run, "run_job", "console_url"))
    assert link.path.endswith("/InstanceList")
    assert parse_qs(link.query) == {
        "namespace": ["demo-namespace"],
        "groupId": ["demo.defaultGroup"],
        "jobId": ["101"],
        "instanceId": [str(instance_id)],
        "source": ["schedulerx"],
    }
    assert "airflow_run_id=" in the_instance(schedulerx_connection, 101).parameters
    assert schedulerx_connection.stats.executions[101] == 1
    # The link is read from the XCom the task pushed as soon as the instance started (on
    # Airflow 3 by its key, on Airflow 2 by asking the link): no second copy at the end.
    assert SchedulerXJobInstanceLink().xcom_key == "console_url"
    assert xcom(dag_run, "run_job", "_link_SchedulerXJobInstanceLink") is None


def test_execute_job_failure_fails_the_task_with_the_result(run_dag, schedulerx_connection, capfd):
    dag_run = run_dag("example_schedulerx_execute_job", 102)
    assert task_states(dag_run) == {"run_job": "failed"}
    output = printed(capfd)
    assert "ended failed: java.lang.IllegalStateException: upstream table is empty" in output
    assert "  ERROR upstream table is empty" in output  # the log tail


def test_rejected_instance_fails_the_task(run_dag, schedulerx_connection, capfd):
    dag_run = run_dag("example_schedulerx_execute_job", 103)
    assert task_states(dag_run) == {"run_job": "failed"}
    assert "ended rejected" in printed(capfd)


def test_start_then_deferrable_sensor(run_dag, schedulerx_connection):
    dag_run = run_dag("example_schedulerx_start_and_sense", 101)
    assert task_states(dag_run) == {"start_job": "success", "wait_for_job": "success"}
    instance_id = xcom(dag_run, "start_job", "job_instance_id")
    assert xcom(dag_run, "start_job")["instance_id"] == instance_id  # the instance as started
    assert xcom(dag_run, "wait_for_job")["instance_id"] == instance_id
    assert xcom(dag_run, "wait_for_job")["status_name"] == "success"
    assert schedulerx_connection.stats.executions[101] == 1


DEFERRED = {
    "example_schedulerx_execute_job": {"run_job": {"deferrable": True, "poll_interval": 0.5}},
    "example_schedulerx_start_and_sense": {"wait_for_job": {"deferrable": True, "poke_interval": 0.5}},
}


@pytest.mark.parametrize("dag_id", list(DEFERRED))
def test_a_deferred_run_leaves_no_unclosed_session(run_dag, schedulerx_connection, capfd, dag_id):
    """aiohttp says "Unclosed client session" / "Unclosed connector" when a session is
    collected unclosed, as happens when the trigger's event loop ends under ``dag.test()``."""
    dag_run = run_dag(dag_id, 101, **DEFERRED[dag_id])
    assert set(task_states(dag_run).values()) == {"success"}
    gc.collect()
    assert "Unclosed" not in printed(capfd)


def test_deferrable_sensor_fails_on_failed_instance(run_dag, schedulerx_connection, capfd):
    dag_run = run_dag("example_schedulerx_start_and_sense", 102)
    assert task_states(dag_run) == {"start_job": "success", "wait_for_job": "failed"}
    assert "upstream table is empty" in printed(capfd)


def test_report_and_branch_on_success(run_dag):
    dag_run = run_dag("example_schedulerx_report_and_branch", 101)
    states = task_states(dag_run)
    assert states["report"] == "success"
    assert states["publish_results"] == "success" and states["alert_on_call"] == "skipped"


def test_report_and_branch_on_failure(run_dag):
    dag_run = run_dag("example_schedulerx_report_and_branch", 102)
    states = task_states(dag_run)
    assert states["wait_until_final"] == "success" and states["report"] == "success"
    assert states["alert_on_call"] == "success" and states["publish_results"] == "skipped"
    assert "upstream table is empty" in xcom(dag_run, "alert_on_call")


@pytest.mark.parametrize("deferrable", [False, True])
def test_deadline_stops_the_instance(run_dag, schedulerx_connection, capfd, deferrable):
    dag_run = run_dag(
        "example_schedulerx_execute_job",
        104,
        run_job={"timeout": 2.0, "deferrable": deferrable, "poll_interval": 0.5},
    )
    assert task_states(dag_run) == {"run_job": "failed"}
    assert the_instance(schedulerx_connection, 104).view(time.time()).status is InstanceStatus.KILLED
    assert "did not finish before the task's deadline; the instance was stopped" in printed(capfd)


def test_execution_timeout_in_deferrable_mode_stops_the_instance(run_dag, schedulerx_connection):
    from datetime import timedelta

    dag_run = run_dag(
        "example_schedulerx_execute_job",
        104,
        run_job={"execution_timeout": timedelta(seconds=3), "deferrable": True, "poll_interval": 0.5},
    )
    assert task_states(dag_run) == {"run_job": "failed"}
    assert the_instance(schedulerx_connection, 104).view(time.time()).status is InstanceStatus.KILLED


def test_retry_reattaches_to_the_running_instance(
    run_dag, schedulerx_connection, monkeypatch, capfd, no_task_state_variables
):
    from datetime import timedelta

    # A job that outlasts the first try, one client retry per call, and polls failing until
    # the first try gives up (on the tenth failed poll in a row); the second try finds the
    # instance still running and follows it.
    schedulerx_connection.add_job(JobSpec(job_id=105, wait_seconds=0.1, run_seconds=5, result="done"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHEDULERX_DEFAULT",
        connection_json(schedulerx_connection, backoff=0.01, max_retries=1),
    )
    schedulerx_connection.faults.set("server_error", count=2 * 10, actions=["GetJobInstance"])
    dag_run = run_dag(
        "example_schedulerx_execute_job",
        105,
        run_job={"retries": 1, "retry_delay": timedelta(seconds=0), "poll_interval": 0.2},
    )
    assert task_states(dag_run) == {"run_job": "success"}
    assert try_numbers(dag_run) == {"run_job": 2}
    assert schedulerx_connection.stats.executions[105] == 1
    # Still running when the second try starts, or (on a slow machine) already done.
    output = printed(capfd)
    assert (
        "Following the instance an earlier try started" in output
        or "An earlier try's instance already succeeded" in output
    )
    assert xcom(dag_run, "run_job")["instance_id"] == the_instance(schedulerx_connection, 105).instance_id
    # Before Airflow 3.3 the instance is kept in a Variable, deleted once the task succeeded.
    assert task_state_variables() == {}


def test_a_try_that_fails_for_good_stops_the_instance_nothing_would_follow(
    run_dag, schedulerx_connection, monkeypatch, no_task_state_variables
):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHEDULERX_DEFAULT",
        connection_json(schedulerx_connection, backoff=0.01, max_retries=0),
    )
    # Ten failed polls in a row: nine are ridden out, the tenth fails the try, the last one.
    schedulerx_connection.faults.set("server_error", count=10, actions=["GetJobInstance"])
    dag_run = run_dag("example_schedulerx_execute_job", 104, run_job={"poll_interval": 0.2})
    assert task_states(dag_run) == {"run_job": "failed"}
    instance = the_instance(schedulerx_connection, 104)
    assert instance.view(time.time()).status is InstanceStatus.KILLED
    kept = {"job_id": 104, "instance_id": instance.instance_id, "try_number": 1, "stopped": None}
    if HAS_TASK_STATE_STORE:
        record = task_state_rows(dag_run)[("run_job", STATE_KEY)]
    else:
        (stored,) = task_state_variables().values()
        record = stored["value"]
        assert stored["task_instance"] == {
            "dag_id": dag_run.dag_id,
            "run_id": dag_run.run_id,
            "task_id": "run_job",
            "map_index": -1,
        }
    assert {key: record[key] for key in kept} == kept and len(record["request"]) == 32


def test_on_kill_stops_the_remote_instance(airflow_db, schedulerx_connection):
    from airflow_provider_schedulerx.operators.schedulerx import SchedulerXExecuteJobOperator

    operator = SchedulerXExecuteJobOperator(task_id="kill_me", job_id=104, wait_for_completion=False)
    operator.job_instance_id = operator.hook.execute_job(104)
    operator.on_kill()
    assert the_instance(schedulerx_connection, 104).view(time.time()).status is InstanceStatus.KILLED


def test_example_dags_import_cleanly(airflow_db):
    bag = dagbag(str(EXAMPLES))
    assert bag.import_errors == {}
    assert {
        "example_schedulerx_execute_job",
        "example_schedulerx_start_and_sense",
        "example_schedulerx_report_and_branch",
        "example_schedulerx_wait_for_schedule",
        *(() if AIRFLOW_2 else ("example_schedulerx_asset_watcher",)),
    } <= set(bag.dag_ids)


def test_templated_ids_and_bad_statuses_are_checked_early():
    from airflow_provider_schedulerx.operators.schedulerx import SchedulerXExecuteJobOperator
    from airflow_provider_schedulerx.sensors.schedulerx import SchedulerXJobInstanceSensor

    with pytest.raises(ValueError, match="success_statuses: 'finished'"):
        SchedulerXJobInstanceSensor(task_id="s", job_id=1, job_instance_id=2, success_statuses=["finished"])
    with pytest.raises(ValueError, match="both contain: failed"):
        SchedulerXJobInstanceSensor(task_id="s", job_id=1, job_instance_id=2, success_statuses=["failed"])
    with pytest.raises(ValueError, match="designate a worker or a label"):
        SchedulerXExecuteJobOperator(task_id="e", job_id=1, worker="w", worker_label="l")
    assert SchedulerXJobInstanceSensor.template_fields == (
        "job_id",
        "job_name",
        "job_instance_id",
        "namespace",
        "group_id",
    )


def test_paths_exist():
    assert Path(EXAMPLES / "emulator_jobs.json").exists()


def test_sensor_in_reschedule_mode(run_dag, schedulerx_connection):
    dag_run = run_dag(
        "example_schedulerx_start_and_sense",
        101,
        wait_for_job={"deferrable": False, "mode": "reschedule", "poke_interval": 0.5},
    )
    assert task_states(dag_run) == {"start_job": "success", "wait_for_job": "success"}
    assert xcom(dag_run, "wait_for_job")["status_name"] == "success"


def test_report_operator_fails_on_chosen_statuses(run_dag, schedulerx_connection):
    dag_run = run_dag(
        "example_schedulerx_report_and_branch", 102, report={"failure_statuses": {InstanceStatus.FAILED}}
    )
    states = task_states(dag_run)
    assert states["report"] == "failed"
    assert states["publish_results"] == states["alert_on_call"] == "upstream_failed"


def test_airflow_cli_lists_the_provider_and_its_connection_type(airflow_db):
    import subprocess
    import sys

    def cli(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "airflow", *args], check=True, capture_output=True, text=True, timeout=300
        ).stdout

    assert "airflow-provider-schedulerx" in cli("providers", "list")
    hooks = cli("providers", "hooks")
    assert "schedulerx" in hooks and "SchedulerXHook" in hooks


@pytest.mark.parametrize("deferrable", [False, True])
def test_a_job_given_by_name(run_dag, schedulerx_connection, deferrable):
    dag_run = run_dag(
        "example_schedulerx_execute_job",
        0,
        run_job={"job_id": None, "job_name": "nightly-etl", "deferrable": deferrable, "poll_interval": 0.2},
    )
    assert task_states(dag_run) == {"run_job": "success"}
    assert xcom(dag_run, "run_job")["job_id"] == 101
    assert schedulerx_connection.stats.executions[101] == 1
    assert schedulerx_connection.stats.calls["ListJobs"] == 1  # looked up once in the try


def test_a_name_no_job_has_fails_the_task_at_once(run_dag, schedulerx_connection, capfd):
    dag_run = run_dag(
        "example_schedulerx_execute_job", 0, run_job={"job_id": None, "job_name": "no-such-job", "retries": 3}
    )
    assert task_states(dag_run) == {"run_job": "failed"}
    assert try_numbers(dag_run)["run_job"] == 1
    assert "job_name: no job of the namespace and group is named 'no-such-job'" in printed(capfd)
    assert not schedulerx_connection.stats.executions
