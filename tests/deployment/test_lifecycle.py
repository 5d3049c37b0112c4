"""The lifecycle contract in a real deployment (PostgreSQL, LocalExecutor, separate
scheduler, DAG processor, triggerer and api-server), driven through the REST API like a user,
counted on the emulator: instances started, instances stopped, the task's final state and
try. One scenario per row of the contract, in poll and deferrable mode, plus a killed
worker, lost and refused starts, and 100 mapped tasks on one job.

The scenarios are independent DAGs, each with a job of its own, so they run side by side:
they start together when the module starts, and each test checks one scenario's outcome.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_schedulerx.config import DEFAULT_MAX_CALLS_PER_SECOND
from airflow_provider_schedulerx.emulator import Emulator, JobSpec
from airflow_provider_schedulerx.emulator.specs import KILLED_BY_USER
from airflow_provider_schedulerx.models import InstanceStatus
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE, connection_json
from tests.deployment.harness import AirflowDeployment, DeploymentTimeout

pytestmark = pytest.mark.timeout(1500)

#: Every job runs long enough that its trigger never fires before the scheduler has taken
#: in the deferring try's end: Airflow 3.3.2 fails a task resumed before that
#: (apache/airflow#67287), which a loaded machine can make take twenty seconds.
SHORT = 30.0
#: What a retry says of the instance an earlier try started: it follows it, or takes its
#: success when it ended before the retry looked (a slow run).
FOLLOWED = "Following the instance|An earlier try's instance already succeeded"
LONG = 3600.0
MAPPED = 100


@dataclass(frozen=True)
class Expected:
    started: int
    stopped: int
    state: str
    try_number: int
    #: Instances still running when the task has ended (marked successful).
    running: int = 0
    #: Words the task's last log says (one of the ``|``-separated phrases).
    says: str = ""


@dataclass(frozen=True)
class Scenario:
    """A DAG of one ExecuteJob task on a job of its own, what the test does to it while it
    runs, and what the contract says comes of it."""

    job: dict[str, Any]
    task: dict[str, Any]
    expected: Expected
    act: str = ""
    fault: dict[str, Any] = field(default_factory=dict)


def scenarios() -> dict[str, Scenario]:
    rows: dict[str, Scenario] = {}
    for mode, deferrable in (("poll", False), ("deferred", True)):
        task = {"deferrable": deferrable}
        rows |= {
            f"failure-{mode}": Scenario(
                {"run_seconds": SHORT, "outcome": "failed"},
                {**task, "retries": 1},
                Expected(started=2, stopped=0, state="failed", try_number=2, says="ended failed"),
            ),
            f"deadline-{mode}": Scenario(
                {"run_seconds": LONG},
                {**task, "retries": 1, "timeout": 10},
                Expected(started=2, stopped=2, state="failed", try_number=2, says="did not finish before"),
            ),
            f"clear-running-{mode}": Scenario(
                {"run_seconds": 25},
                task,
                Expected(started=2, stopped=1, state="success", try_number=2),
                act="clear while running",
            ),
            f"clear-succeeded-{mode}": Scenario(
                {"run_seconds": SHORT},
                task,
                Expected(started=2, stopped=0, state="success", try_number=2),
                act="clear after success",
            ),
            f"mark-failed-{mode}": Scenario(
                {"run_seconds": LONG},
                task,
                Expected(started=1, stopped=1, state="failed", try_number=1),
                act="mark failed",
            ),
            f"mark-success-{mode}": Scenario(
                {"run_seconds": LONG},
                task,
                Expected(started=1, stopped=0, state="success", try_number=1, running=1),
                act="mark success",
            ),
            f"unlisted-{mode}": Scenario(
                {"run_seconds": SHORT, "outcome": 12},
                task,
                Expected(started=1, stopped=0, state="failed", try_number=1, says="ended skipped"),
            ),
        }
    rows |= {
        "worker-killed-poll": Scenario(
            {"run_seconds": 90},
            {"deferrable": False, "retries": 1},
            Expected(started=1, stopped=0, state="success", try_number=2, says=FOLLOWED),
            act="kill the worker",
        ),
        "service-down-deferred": Scenario(
            {"run_seconds": 90},
            {"deferrable": True, "retries": 1, "schedulerx_conn_id": "schedulerx_fragile"},
            Expected(started=1, stopped=0, state="success", try_number=2, says=FOLLOWED),
            act="spoil polls",
            fault={"kind": "server_error", "count": 10, "actions": ["GetJobInstance"]},
        ),
        "lost-start-poll": Scenario(
            {"run_seconds": SHORT},
            {"deferrable": False},
            Expected(started=1, stopped=0, state="success", try_number=1, says="reply was lost"),
            fault={"kind": "reset_after", "count": 1, "actions": ["ExecuteJob"]},
        ),
        "refused-start-deferred": Scenario(
            {"run_seconds": SHORT},
            {"deferrable": True},
            Expected(started=1, stopped=0, state="success", try_number=1, says="starting the job again"),
            fault={"kind": "server_error", "count": 1, "actions": ["ExecuteJob"]},
        ),
    }
    return rows


SCENARIOS = scenarios()
JOB_IDS = {name: 800 + index for index, name in enumerate(SCENARIOS)}
MAPPED_JOB = 899
SETTINGS = json.dumps({name: {"job_id": JOB_IDS[name], **s.task} for name, s in SCENARIOS.items()})

DAGS = f'''
"""The lifecycle scenarios: one DAG each, one ExecuteJob task on a job of its own."""

import contextlib
import json
from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_schedulerx.operators.schedulerx import SchedulerXExecuteJobOperator

SCENARIOS = json.loads({json.dumps(SETTINGS)})
START = pendulum.datetime(2026, 1, 1, tz="UTC")

for name, settings in SCENARIOS.items():
    settings = dict(settings)
    retries = settings.pop("retries", 0)
    with DAG(
        f"lifecycle_{{name}}",
        schedule=None,
        start_date=START,
        catchup=False,
        default_args={{"retries": retries, "retry_delay": timedelta(seconds=1)}},
    ):
        SchedulerXExecuteJobOperator(task_id="run_job", poll_interval=1, **settings)

with DAG(
    "lifecycle_mapped",
    schedule=None,
    start_date=START,
    catchup=False,
    max_active_tasks={MAPPED},
    default_args={{"retries": 3, "retry_delay": timedelta(seconds=1)}},
):
    SchedulerXExecuteJobOperator.partial(
        task_id="run_job", job_id={MAPPED_JOB}, deferrable=True, poll_interval=2
    ).expand(instance_parameters=[f"item={{index}}" for index in range({MAPPED})])
'''


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    jobs = [JobSpec(job_id=JOB_IDS[name], wait_seconds=0.5, **s.job) for name, s in SCENARIOS.items()]
    jobs.append(JobSpec(job_id=MAPPED_JOB, wait_seconds=0.5, run_seconds=15))
    with Emulator(ACCESS_KEY_ID, ACCESS_KEY_SECRET, jobs=jobs, namespace=NAMESPACE, group_id=GROUP_ID) as emu:
        yield emu


@pytest.fixture(scope="module")
def deployment_dags() -> Mapping[str, str]:
    return {"lifecycle.py": DAGS}


@pytest.fixture(scope="module")
def deployment_config() -> Mapping[str, object]:
    """A database pool for a hundred tasks and twenty runs at once."""
    return {
        "database.sql_alchemy_pool_size": 20,
        "database.sql_alchemy_max_overflow": 40,
        "core.parallelism": 24,
    }


@pytest.fixture(scope="module")
def deployment_env(emulator: Emulator) -> Mapping[str, str]:
    return {
        # The default call budget, in a real deployment (the mapped tasks poll faster than it).
        "AIRFLOW_CONN_SCHEDULERX_DEFAULT": connection_json(
            emulator, backoff=0.05, max_calls_per_second=DEFAULT_MAX_CALLS_PER_SECOND
        ),
        "AIRFLOW_CONN_SCHEDULERX_FRAGILE": connection_json(emulator, backoff=0.05, max_retries=0),
    }


@dataclass
class Outcome:
    """What came of a scenario, as the deployment and the emulator tell it."""

    state: str
    try_number: int
    started: int
    stopped: int
    running: int
    log: str
    #: The "SchedulerX Console" link as the REST API gave it while the task still ran.
    link_while_running: str | None = None


#: What the tests do to a task while its instance runs.
WHILE_RUNNING = ("clear while running", "mark failed", "mark success", "kill the worker", "spoil polls")


def counts(emulator: Emulator, job_id: int) -> tuple[int, int, int]:
    """Instances of the job started, stopped by a user's StopInstance, and still running."""
    now = time.time()
    views = [instance.view(now) for instance in emulator.instances(job_id)]
    stopped = sum(view.status is InstanceStatus.KILLED and view.result == KILLED_BY_USER for view in views)
    running = sum(view.status in (InstanceStatus.WAITING, InstanceStatus.RUNNING) for view in views)
    return emulator.stats.executions[job_id], stopped, running


def instance_running(emulator: Emulator, job_id: int) -> Callable[[], tuple[bool, str]]:
    def probe() -> tuple[bool, str]:
        _, _, running = counts(emulator, job_id)
        return running > 0, f"{running} instance(s) of job {job_id} running"

    return probe


def play(deployment: AirflowDeployment, emulator: Emulator, name: str, scenario: Scenario) -> Outcome:
    """Run one scenario to its end and tell what came of it."""
    rest, dag_id, job_id = deployment.api, f"lifecycle_{name}", JOB_IDS[name]
    if scenario.fault and scenario.act != "spoil polls":
        fault = dict(scenario.fault)
        emulator.faults.set(fault.pop("kind"), jobs=[job_id], **fault)
    rest.unpause(dag_id)
    run_id = rest.trigger_dag(dag_id)
    busy = "deferred" if scenario.task.get("deferrable") else "running"
    act = scenario.act
    link = None
    if act in WHILE_RUNNING:
        rest.wait_for(f"an instance of job {job_id}", instance_running(emulator, job_id), timeout=180)
        rest.wait_for_task(dag_id, run_id, "run_job", busy, timeout=180)
        time.sleep(2)
        link = rest.extra_links(dag_id, run_id, "run_job").get("SchedulerX Console")
        assert rest.task_instance(dag_id, run_id, "run_job").state == busy, "the task ended too soon"
    if act == "clear while running":
        rest.clear_task_instances(dag_id, run_id, ["run_job"])
    elif act == "mark failed":
        rest.mark_failed(dag_id, run_id, "run_job")
    elif act == "mark success":
        rest.mark_success(dag_id, run_id, "run_job")
    elif act == "kill the worker":
        deployment.kill_task_instance(dag_id, run_id, "run_job", target="task", timeout=60)
    elif act == "spoil polls":
        fault = dict(scenario.fault)
        emulator.faults.set(fault.pop("kind"), jobs=[job_id], **fault)
    elif act == "clear after success":
        # Once the run has ended too: Airflow 3.3.2 can lose a task cleared in the instant
        # between its try reporting success and the scheduler taking in the executor's event.
        rest.wait_for_run(dag_id, run_id, "success", timeout=300)
        time.sleep(3)
        rest.clear_task_instances(dag_id, run_id, ["run_job"])
    expected = scenario.expected
    ti = rest.wait_for_task(
        dag_id, run_id, "run_job", expected.state, min_try_number=expected.try_number, timeout=600
    )
    if act in ("mark failed", "mark success", "clear while running"):
        # The task's (or trigger's) on_kill comes a heartbeat or two later, and later still
        # on a busy triggerer; what it leaves is then compared in full by the test.
        settled = (expected.started, expected.stopped, expected.running)
        with contextlib.suppress(DeploymentTimeout):
            rest.wait_for(
                f"job {job_id} to settle at {settled} (started, stopped, running)",
                lambda: (counts(emulator, job_id) == settled, str(counts(emulator, job_id))),
                timeout=60,
            )
        time.sleep(3)  # and nothing more comes after it
    started, stopped, running = counts(emulator, job_id)
    return Outcome(
        ti.state or "",
        ti.try_number,
        started,
        stopped,
        running,
        rest.task_log(dag_id, run_id, "run_job", ti.try_number),
        link,
    )


def play_mapped(deployment: AirflowDeployment, emulator: Emulator) -> dict[str, Any]:
    rest = deployment.api
    rest.unpause("lifecycle_mapped")
    run_id = rest.trigger_dag("lifecycle_mapped")
    tis = rest.wait_for_mapped("lifecycle_mapped", run_id, "run_job", "success", count=MAPPED, timeout=900)
    followed = {
        ti.map_index: rest.xcom("lifecycle_mapped", run_id, "run_job", map_index=ti.map_index) for ti in tis
    }
    return {"states": {ti.state for ti in tis}, "followed": followed}


@pytest.fixture(scope="module")
def outcomes(deployment: AirflowDeployment, emulator: Emulator) -> Iterator[dict[str, Future[Any]]]:
    """Every scenario started at once, each in a thread of its own."""
    deployment.api.poll_interval = 3.0
    with ThreadPoolExecutor(len(SCENARIOS) + 1) as pool:
        futures: dict[str, Future[Any]] = {
            name: pool.submit(play, deployment, emulator, name, scenario)
            for name, scenario in SCENARIOS.items()
        }
        futures["mapped"] = pool.submit(play_mapped, deployment, emulator)
        yield futures


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_contract(outcomes: dict[str, Future[Outcome]], name: str) -> None:
    outcome = outcomes[name].result(timeout=1200)
    expected = SCENARIOS[name].expected
    assert (outcome.state, outcome.try_number) == (expected.state, expected.try_number), outcome.log[-3000:]
    assert (outcome.started, outcome.stopped, outcome.running) == (
        expected.started,
        expected.stopped,
        expected.running,
    )
    assert any(phrase in outcome.log for phrase in expected.says.split("|")), outcome.log[-3000:]


def test_a_hundred_mapped_tasks_on_one_job_start_and_follow_one_instance_each(
    outcomes: dict[str, Future[Any]], emulator: Emulator
) -> None:
    mapped = outcomes["mapped"].result(timeout=1200)
    assert mapped["states"] == {"success"}
    instances = {instance.instance_id: instance for instance in emulator.instances(MAPPED_JOB)}
    assert emulator.stats.executions[MAPPED_JOB] == MAPPED == len(instances)
    followed = {index: value["instance_id"] for index, value in mapped["followed"].items()}
    assert len(set(followed.values())) == MAPPED, "two tasks followed one instance"
    for index, instance_id in followed.items():
        assert instances[instance_id].parameters == f"item={index}", "a task followed another item's instance"


@pytest.mark.parametrize("name", [name for name, s in SCENARIOS.items() if s.act in WHILE_RUNNING])
def test_the_console_link_opens_the_instance_while_the_task_runs(
    outcomes: dict[str, Future[Outcome]], emulator: Emulator, name: str
) -> None:
    outcome = outcomes[name].result(timeout=1200)
    job_id = JOB_IDS[name]
    first = min(emulator.instances(job_id), key=lambda instance: instance.instance_id)
    assert outcome.link_while_running == (
        "https://schedulerx2.console.aliyun.com/cn-hangzhou/InstanceList?"
        f"namespace={NAMESPACE}&groupId={GROUP_ID}&jobId={job_id}&instanceId={first.instance_id}"
        "&source=schedulerx"
    )
