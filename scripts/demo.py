"""`make demo`: run the example DAG that starts a SchedulerX job and waits for it, end to end,
against the emulator, with a real Airflow metadata database, and show what happened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DAG_ID = "example_schedulerx_execute_job"
JOB_ID = 101


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="schedulerx-demo-"))
    os.environ.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "example_dags"),
    )
    from airflow_provider_schedulerx.emulator import (
        DEFAULT_ACCESS_KEY_ID,
        DEFAULT_ACCESS_KEY_SECRET,
        DEFAULT_GROUP_ID,
        DEFAULT_NAMESPACE,
        DEFAULT_REGION_ID,
        Emulator,
    )

    emulator = Emulator(
        access_key_id=DEFAULT_ACCESS_KEY_ID,
        access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
        jobs_file=str(REPO / "example_dags" / "emulator_jobs.json"),
    ).start()
    say(f"SchedulerX emulator listening on {emulator.url} (jobs from example_dags/emulator_jobs.json)")
    os.environ["AIRFLOW_CONN_SCHEDULERX_DEFAULT"] = json.dumps(
        {
            "conn_type": "schedulerx",
            "login": DEFAULT_ACCESS_KEY_ID,
            "password": DEFAULT_ACCESS_KEY_SECRET,
            "host": emulator.url,
            "extra": {
                "region_id": DEFAULT_REGION_ID,
                "namespace": DEFAULT_NAMESPACE,
                "group_id": DEFAULT_GROUP_ID,
            },
        }
    )
    airflow = [sys.executable, "-m", "airflow"]
    say(f"Airflow metadata database: SQLite in {home} (airflow db migrate)")
    subprocess.run([*airflow, "db", "migrate"], check=True, capture_output=True)

    task_log = home / "dag-test.log"
    say(f"Running DAG {DAG_ID} for SchedulerX job {JOB_ID} (airflow dags test; full log in {task_log})")
    started = time.monotonic()
    with task_log.open("w") as log:
        run = subprocess.run(
            [*airflow, "dags", "test", DAG_ID, "-c", json.dumps({"job_id": JOB_ID})],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    took = time.monotonic() - started
    report(emulator, task_log, took)
    emulator.stop()
    if DEFAULT_ACCESS_KEY_SECRET in task_log.read_text():
        print("!! the AccessKey secret appears in the task log", file=sys.stderr)
        return 1
    return run.returncode


def report(emulator: object, task_log: Path, took: float) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        dag_run = session.query(DagRun).filter_by(dag_id=DAG_ID).order_by(DagRun.id.desc()).first()
        if dag_run is None:
            print(task_log.read_text()[-3000:])
            raise SystemExit("the DAG did not run; its log is above")
        say(f"DAG run {dag_run.run_id}: {dag_run.state} in {took:.1f}s")
        for ti in dag_run.get_task_instances(session=session):
            print(f"   task {ti.task_id}: {ti.state} (try {ti.try_number})")
        xcoms = {
            row.key: XComModel.deserialize_value(row)
            for row in session.query(XComModel).filter_by(dag_id=DAG_ID, run_id=dag_run.run_id)
        }
    instance_id = xcoms.get("job_instance_id")
    say(f"XCom: job_instance_id={instance_id}")
    print(f"   console_url={xcoms.get('console_url')}")
    if instance_id is None:
        return
    say(f"Job instance {instance_id} as SchedulerX saw it")
    for at, status in emulator.status_history(instance_id):  # type: ignore[attr-defined]
        print(
            f"   {time.strftime('%H:%M:%S', time.localtime(at))}.{int(at * 1000) % 1000:03d}  {status.name}"
        )
    result = xcoms.get("return_value") or {}
    print(f"   result: {result.get('result')!r}")
    say("Its log lines (GetLog), as the task showed them while it waited")
    marker = "[SchedulerX] "
    for line in task_log.read_text().splitlines():
        if marker in line:
            print(f"   {line.split(marker, 1)[1].split(' [airflow.', 1)[0].rstrip()}")
    calls = dict(emulator.stats.calls)  # type: ignore[attr-defined]
    say(f"API calls the emulator served: {calls}")


if __name__ == "__main__":
    sys.exit(main())
