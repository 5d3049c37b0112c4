"""`make airflow`: the provider in a real Airflow deployment, for a person to try.

PostgreSQL, Airflow's api-server (the UI on http://localhost:8080), scheduler (LocalExecutor),
DAG processor and triggerer, each its own process, with the SchedulerX emulator, a
``schedulerx_default`` connection to it and the example DAGs. Every process logs to one
folder. Ctrl-C stops everything. It is the deployment the deployment tests drive.
"""

from __future__ import annotations

import json
import signal
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

UI_PORT = 8080


def main() -> int:
    from airflow_provider_schedulerx.emulator import (
        DEFAULT_ACCESS_KEY_ID,
        DEFAULT_ACCESS_KEY_SECRET,
        DEFAULT_GROUP_ID,
        DEFAULT_NAMESPACE,
        Emulator,
    )
    from tests.deployment.harness import AirflowDeployment, PostgresServer, postgres_missing

    missing = postgres_missing()
    if missing:
        print(f"make airflow: {missing}", file=sys.stderr)
        return 1
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    home = Path(tempfile.mkdtemp(prefix="schedulerx-airflow-"))
    with (
        Emulator(jobs_file=REPO / "example_dags" / "emulator_jobs.json") as emulator,
        PostgresServer() as postgres,
    ):
        connection = {
            "conn_type": "schedulerx",
            "login": DEFAULT_ACCESS_KEY_ID,
            "password": DEFAULT_ACCESS_KEY_SECRET,
            "host": emulator.url,
            "extra": {"namespace": DEFAULT_NAMESPACE, "group_id": DEFAULT_GROUP_ID},
        }
        deployment = AirflowDeployment(
            home=home / "airflow-home",
            dags_folder=REPO / "example_dags",
            database=postgres.create_database(),
            env={"AIRFLOW_CONN_SCHEDULERX_DEFAULT": json.dumps(connection)},
            api_port=UI_PORT,
        )
        print(f"Starting Airflow (logs of every process in {deployment.logs_dir}) ...", flush=True)
        with deployment:
            print(
                f"\nAirflow is up: the UI at http://localhost:{UI_PORT}, every user an admin.\n"
                f"SchedulerX emulator: {emulator.url} (connection schedulerx_default), jobs from "
                "example_dags/emulator_jobs.json.\n"
                f"Process logs: {deployment.logs_dir}; task logs: {deployment.home / 'logs'}.\n"
                "Unpause an example DAG and trigger it. Ctrl-C stops everything.",
                flush=True,
            )
            while not stopping.wait(1.0):
                pass
            print("\nStopping ...", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
