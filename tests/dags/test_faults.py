"""The example DAGs through injected faults, end to end on a real metadata database: every
transient fault costs exactly one retry and nothing else, permanent errors fail on the first
reply, and ExecuteJob never runs a job twice, whatever happens to its reply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_schedulerx.client import _BaseClient
from airflow_provider_schedulerx.emulator import Emulator, JobSpec
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE
from tests.dags.test_example_dags import printed, task_states, xcom
from tests.dags.test_example_dags import run_example as run

pytestmark = [pytest.mark.dag, pytest.mark.usefixtures("airflow_db")]

#: Runs ~3 s: some 60 polls at the 0.05 s poll interval used here.
JOB = JobSpec(job_id=301, name="under-fire", wait_seconds=0.3, run_seconds=2.7, result="ok", logs=["done"])
# For a sensor in its own task: it starts polling only once that task is up, seconds after
# the job started on a slow machine, and must still see enough polls for the storm to hit.
LONG_JOB = JobSpec(
    job_id=303, name="long-under-fire", wait_seconds=0.3, run_seconds=9.7, result="ok", logs=["done"]
)
RETRY_AFTER = 0.05
#: Transient faults the service throws at the polls (and throttling, which is safe to retry,
#: at ExecuteJob too).
POLL_ACTIONS = ["GetJobInstance", "GetLog"]


@pytest.fixture
def faulty() -> Iterator[Emulator]:
    emu = Emulator(
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        jobs=[JOB, JobSpec(job_id=302, name="quick", wait_seconds=0.1, run_seconds=0.3), LONG_JOB],
        namespace=NAMESPACE,
        group_id=GROUP_ID,
        seed=2026,
    )
    with emu:
        yield emu


@pytest.fixture
def connection(faulty: Emulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_connection(**extra: Any) -> None:
        settings = {"namespace": NAMESPACE, "group_id": GROUP_ID, "backoff": 0.01, "max_retries": 10}
        monkeypatch.setenv(
            "AIRFLOW_CONN_SCHEDULERX_DEFAULT",
            json.dumps(
                {
                    "conn_type": "schedulerx",
                    "login": ACCESS_KEY_ID,
                    "password": ACCESS_KEY_SECRET,
                    "host": faulty.url,
                    "extra": {**settings, **extra},
                }
            ),
        )

    set_connection()
    return set_connection


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> list[_BaseClient]:
    """Every client the tasks create, to read their call statistics afterwards."""
    created: list[_BaseClient] = []
    original = _BaseClient.__init__

    def recording_init(self: _BaseClient, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        created.append(self)

    monkeypatch.setattr(_BaseClient, "__init__", recording_init)
    return created


def inject_storm(emu: Emulator) -> None:
    emu.faults.set("throttle", rate=0.3, seconds=RETRY_AFTER)
    emu.faults.set("server_error", rate=0.1, actions=POLL_ACTIONS)
    emu.faults.set("reset", rate=0.1, actions=POLL_ACTIONS)


def assert_every_fault_cost_one_retry(emu: Emulator, clients: list[_BaseClient]) -> None:
    faults = emu.stats.faults
    retries = sum(client.stats.retries for client in clients)
    waited = sum(client.stats.retry_wait for client in clients)
    calls = sum(client.stats.calls for client in clients)
    attempts = sum(client.stats.attempts for client in clients)
    print(  # shown with pytest -s: the figures of this run
        f"\nfaults injected {dict(faults)}, calls {calls}, attempts {attempts}, retries {retries}, "
        f"added delay {waited:.3f}s, executions {dict(emu.stats.executions)}"
    )
    assert sum(faults.values()) >= 5, faults  # how many of each kind depends on the poll count
    assert retries == sum(faults.values())
    # Throttled calls waited as the service asked; no retry waited much longer than that.
    assert faults["throttle"] * RETRY_AFTER <= waited <= retries * 4 * RETRY_AFTER
    # Each answered request was one attempt; none of the faulted ones was lost or doubled.
    answered = sum(emu.stats.responses.values())
    assert attempts == answered + faults["reset"]


def test_operator_completes_through_a_storm_of_faults(faulty, connection, clients):
    inject_storm(faulty)
    dag_run = run("example_schedulerx_execute_job", JOB.job_id, run_job={"poll_interval": 0.05})
    assert task_states(dag_run) == {"run_job": "success"}
    assert xcom(dag_run, "run_job")["result"] == "ok"
    assert faulty.stats.executions[JOB.job_id] == 1
    assert_every_fault_cost_one_retry(faulty, clients)


def test_poke_sensor_completes_through_a_storm_of_faults(faulty, connection, clients):
    inject_storm(faulty)
    dag_run = run(
        "example_schedulerx_start_and_sense",
        LONG_JOB.job_id,
        wait_for_job={"deferrable": False, "mode": "poke", "poke_interval": 0.05},
    )
    assert task_states(dag_run) == {"start_job": "success", "wait_for_job": "success"}
    assert xcom(dag_run, "wait_for_job")["instance_id"] == xcom(dag_run, "start_job", "job_instance_id")
    assert faulty.stats.executions[LONG_JOB.job_id] == 1
    assert_every_fault_cost_one_retry(faulty, clients)


def test_deferrable_sensor_completes_through_a_storm_of_faults(faulty, connection):
    inject_storm(faulty)
    dag_run = run("example_schedulerx_start_and_sense", JOB.job_id, wait_for_job={"poke_interval": 0.05})
    assert task_states(dag_run) == {"start_job": "success", "wait_for_job": "success"}
    assert faulty.stats.executions[JOB.job_id] == 1
    assert sum(faulty.stats.faults.values()) >= 1  # the triggerer polls at its own pace


def test_polls_failing_beyond_the_clients_retries_are_ridden_out(faulty, connection, capfd):
    connection(max_retries=1)
    # Two polls in a row use up their two attempts each; the third gets through.
    faulty.faults.set("server_error", count=4, actions=["GetJobInstance"])
    dag_run = run("example_schedulerx_execute_job", 302, run_job={"poll_interval": 0.05})
    assert task_states(dag_run) == {"run_job": "success"}
    output = printed(capfd)
    assert "polling on (1 of 10 in a row)" in output and "polling on (2 of 10 in a row)" in output


def test_a_service_that_stays_down_fails_the_task_with_its_error(faulty, connection, capfd):
    connection(max_retries=1)
    faulty.faults.set("server_error", actions=["GetJobInstance"])
    dag_run = run("example_schedulerx_execute_job", 302, run_job={"poll_interval": 0.05})
    assert task_states(dag_run) == {"run_job": "failed"}
    assert "SchedulerX is unavailable" in printed(capfd)
    # Nine tolerated polls and the tenth that gave up, two attempts each; then, as no retry
    # would follow it, the instance is stopped.
    assert faulty.stats.calls["GetJobInstance"] == 10 * 2
    assert faulty.stats.calls["StopInstance"] == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"password": "wrong-secret"}, "AccessKey Secret does not match"),
        ({"login": "LTAIunknownkey000000"}, "AccessKey ID does not exist"),
        ({"namespace": "no-such-namespace"}, "no-such-namespace"),
    ],
)
def test_permanent_errors_fail_on_the_first_reply(faulty, monkeypatch, capfd, extra, message):
    connection = {
        "conn_type": "schedulerx",
        "login": extra.pop("login", ACCESS_KEY_ID),
        "password": extra.pop("password", ACCESS_KEY_SECRET),
        "host": faulty.url,
        "extra": {"namespace": NAMESPACE, "group_id": GROUP_ID, "max_retries": 10, **extra},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", json.dumps(connection))
    dag_run = run("example_schedulerx_execute_job", 302)
    assert task_states(dag_run) == {"run_job": "failed"}
    assert message in printed(capfd)
    assert sum(faulty.stats.calls.values()) == 1
    assert faulty.stats.executions == {}


def test_lost_execute_job_reply_is_followed_not_repeated(faulty, connection, capfd):
    faulty.faults.set("reset_after", count=1, actions=["ExecuteJob"])
    dag_run = run("example_schedulerx_execute_job", 302, run_job={"poll_interval": 0.05, "retries": 2})
    assert task_states(dag_run) == {"run_job": "success"}
    (instance,) = faulty.instances(302)
    assert xcom(dag_run, "run_job")["instance_id"] == instance.instance_id
    assert faulty.stats.executions[302] == 1 and faulty.stats.calls["ExecuteJob"] == 1
    assert "ExecuteJob's reply was lost" in printed(capfd)


def test_execute_job_timing_out_while_it_runs_is_followed_not_repeated(faulty, connection):
    connection(timeout=0.3)
    faulty.faults.set("slow", count=1, actions=["ExecuteJob"], seconds=1.0)
    dag_run = run("example_schedulerx_execute_job", 302, run_job={"poll_interval": 0.05, "retries": 2})
    assert task_states(dag_run) == {"run_job": "success"}
    assert faulty.stats.executions[302] == 1 and faulty.stats.calls["ExecuteJob"] == 1


def test_execute_job_lost_before_it_ran_is_sent_again_after_a_second_look(faulty, connection, capfd):
    faulty.faults.set("reset", count=1, actions=["ExecuteJob"])
    dag_run = run("example_schedulerx_execute_job", 302, run_job={"poll_interval": 0.05})
    assert task_states(dag_run) == {"run_job": "success"}
    assert "no instance of it shows; starting the job again" in printed(capfd)
    assert faulty.stats.calls["ExecuteJob"] == 2 and faulty.stats.executions[302] == 1
    # Two looks for the instance, five seconds apart, each one page of the job's instances.
    assert faulty.stats.calls["GetJobInstanceList"] == 2


def test_execute_job_lost_among_lookalike_instances_fails_without_guessing(faulty, connection, capfd):
    lookalike = SchedulerXHook().execute_job(302, instance_parameters="same")
    faulty.faults.set("reset_after", count=1, actions=["ExecuteJob"])
    dag_run = run(
        "example_schedulerx_execute_job", 302, run_job={"instance_parameters": "same", "retries": 2}
    )
    assert task_states(dag_run) == {"run_job": "failed"}
    ours = max(instance.instance_id for instance in faulty.instances(302))
    assert f"instances [{ours}, {lookalike}] match this task" in printed(capfd)
    assert faulty.stats.calls["ExecuteJob"] == 2 and faulty.stats.executions[302] == 2
