"""A DAG scheduled on a SchedulerX job's asset, watched by ``SchedulerXJobEventTrigger``, in
a real deployment, while the emulator runs the job every few seconds on its own schedule:
every instance that succeeds after the watch began becomes exactly one asset event, and is
in exactly one DAG run (Airflow leaves events that arrive while it creates a run to the
next event's run); a triggerer killed and started again sends none twice and loses
none; a burst of injected faults does not stop the watch."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from airflow_provider_schedulerx.emulator import Emulator, JobSpec
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE, connection_json
from tests.deployment.harness import AirflowDeployment, Timings

pytestmark = pytest.mark.timeout(1200)

JOB_ID = 951
EVERY = 6
DAG_ID = "watched_job"
URI = f"schedulerx://cn-hangzhou/{NAMESPACE}/{GROUP_ID}/{JOB_ID}"

DAGS = f'''
"""A DAG run on each success of a SchedulerX job."""

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobEventTrigger

job = Asset(
    name="watched_job", uri="{URI}",
    watchers=[AssetWatcher(name="watched_job_succeeded",
                           trigger=SchedulerXJobEventTrigger(job_id={JOB_ID}, poll_interval=1))],
)

with DAG("{DAG_ID}", schedule=[job], start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):

    @task
    def report(triggering_asset_events=None):
        return [event.extra["payload"]["job_instance_id"] for event in triggering_asset_events[job]]

    report()
'''


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(ACCESS_KEY_ID, ACCESS_KEY_SECRET, namespace=NAMESPACE, group_id=GROUP_ID) as emu:
        yield emu


@pytest.fixture(scope="module")
def deployment_dags() -> Mapping[str, str]:
    return {"watched_job.py": DAGS}


@pytest.fixture(scope="module")
def deployment_env(emulator: Emulator) -> Mapping[str, str]:
    return {"AIRFLOW_CONN_SCHEDULERX_DEFAULT": connection_json(emulator, backoff=0.05, max_retries=1)}


def schedule(emulator: Emulator, every: float | None) -> None:
    """Run the job every ``every`` seconds from now on, or stop its schedule."""
    emulator.add_job(
        JobSpec(
            job_id=JOB_ID,
            name="watched-job",
            wait_seconds=0.2,
            run_seconds=1.0,
            schedule=None if every is None else {"fix_rate": every, "start": int(time.time()) + 1},
        )
    )


def asset_events(deployment: AirflowDeployment) -> list[dict[str, Any]]:
    """The asset's events. Airflow 3.3.2 answers 500 while a run that an event created is still
    queued (its ``start_date`` is null, which the response refuses: apache/airflow#71360), so a
    500 is asked again until the scheduler has started that run."""
    (asset,) = deployment.api.get("/api/v2/assets", uri_pattern=URI)["assets"]
    params = {"asset_id": asset["id"], "limit": 1000}
    events: list[dict[str, Any]] = []

    def answered() -> tuple[bool, str]:
        reply = deployment.api.request("GET", "/api/v2/assets/events", params=params, expect=(200, 500))
        if reply.status_code != 200:
            return False, f"HTTP {reply.status_code}: {reply.text[:500]}"
        events.extend(reply.json()["asset_events"])
        return True, "HTTP 200"

    deployment.api.wait_for("the asset's events", answered, timeout=60, interval=1)
    return events


def instances_in_events(deployment: AirflowDeployment) -> list[int]:
    return [int(event["extra"]["payload"]["job_instance_id"]) for event in asset_events(deployment)]


def succeeded(emulator: Emulator, after: float = 0.0) -> set[int]:
    """The job's instances that succeeded, those ended after ``after``."""
    now = time.time()
    ids = set()
    for inst in emulator.instances(JOB_ID):
        view = inst.view(now)
        if view.status.label == "success" and view.end_time is not None and view.end_time > after:
            ids.add(inst.instance_id)
    return ids


def wait_until(what: str, probe: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        time.sleep(1)


def test_one_run_per_finished_instance_across_a_restart_and_a_fault_burst(
    deployment: AirflowDeployment, emulator: Emulator, steps: Timings
) -> None:
    schedule(emulator, EVERY)
    deployment.api.unpause(DAG_ID)
    with steps.step("the first event"):
        wait_until("an asset event", lambda: instances_in_events(deployment), 180)
    first = min(instances_in_events(deployment))
    began = emulator.get_instance(first).view(time.time()).end_time
    assert began is not None
    with steps.step("three more instances"):
        wait_until("four events", lambda: len(instances_in_events(deployment)) >= 4, 120)
    (triggerer,) = deployment.triggerer_names
    with steps.step(f"kill -9 {triggerer}, one instance while it is down, start it again"):
        deployment.kill(triggerer)
        time.sleep(EVERY + 2)
        deployment.start_process(triggerer)
    with steps.step("events again"):
        seen = len(instances_in_events(deployment))
        wait_until("events after the restart", lambda: len(instances_in_events(deployment)) >= seen + 2, 180)
    with steps.step("a burst of faults (three polls' worth), events again"):
        emulator.faults.set("server_error", count=6, actions=["GetJobInstanceList"])
        wait_until("the burst drawn", lambda: "server_error" not in emulator.faults.active(), 120)
        seen = len(instances_in_events(deployment))
        wait_until("events after the burst", lambda: len(instances_in_events(deployment)) >= seen + 2, 180)
    schedule(emulator, None)
    with steps.step("the schedule stopped; every instance in an event"):
        wait_until(
            "every instance that succeeded after the first in an event",
            lambda: succeeded(emulator, began - 0.001) <= set(instances_in_events(deployment)),
            120,
        )
        time.sleep(5)  # nothing more comes
    in_events = instances_in_events(deployment)
    duplicates = [i for i, n in Counter(in_events).items() if n > 1]
    assert not duplicates, f"instances sent twice: {duplicates}"
    assert set(in_events) == succeeded(emulator, began - 0.001)
    # Airflow leaves the events that arrive while it creates a run to the next event's run:
    # one more instance brings them in.
    schedule(emulator, EVERY)
    with steps.step("one more instance"):
        wait_until("one more event", lambda: len(instances_in_events(deployment)) > len(in_events), 60)
    schedule(emulator, None)
    with steps.step("every event in exactly one run"):

        def each_in_one_run() -> bool:
            in_runs = Counter(runs_of_instances(deployment))
            assert all(n == 1 for n in in_runs.values()), f"an instance in two runs: {in_runs}"
            return all(in_runs[i] == 1 for i in in_events)

        try:
            wait_until("runs for every event", each_in_one_run, 180)
        except AssertionError as error:
            runs = {run["dag_run_id"]: run["state"] for run in dag_runs(deployment)}
            raise AssertionError(
                f"{error}\nevents: {sorted(in_events)}\nin runs: {sorted(runs_of_instances(deployment))}\n"
                f"runs: {runs}"
            ) from None
    print(f"{len(in_events)} instances, {len(set(in_events))} events, {len(dag_runs(deployment))} runs")


def dag_runs(deployment: AirflowDeployment) -> list[dict[str, Any]]:
    return list(deployment.api.get(f"/api/v2/dags/{DAG_ID}/dagRuns", limit=1000)["dag_runs"])


def runs_of_instances(deployment: AirflowDeployment) -> list[int]:
    """The instances in the reports of the successful runs (one entry per run and instance)."""
    found: list[int] = []
    for run in dag_runs(deployment):
        if run["state"] != "success":
            continue
        found.extend(int(i) for i in deployment.api.xcom(DAG_ID, run["dag_run_id"], "report"))
    return found
