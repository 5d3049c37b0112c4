"""Shared fixtures: an emulator on loopback, clients for it, and a throwaway Airflow home
with a real SQLite metadata database."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

# Airflow reads its home when first imported, so the throwaway one is set before any test
# module imports Airflow.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="schedulerx-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# The DAGs folder holds the example DAGs and the tests' own (Airflow 3's dag.test() runs only
# DAGs of a configured bundle).
_DAGS = _AIRFLOW_HOME / "dags"
_DAGS.mkdir()
for _dag_file in [
    *(Path(__file__).resolve().parent.parent / "example_dags").glob("*.py"),
    *(Path(__file__).resolve().parent / "dags" / "files").glob("*.py"),
]:
    (_DAGS / _dag_file.name).symlink_to(_dag_file)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_DAGS)
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
# Airflow 3.0 logs a task's failure as a rich traceback, wrapped at the console's width:
# wide enough that the messages the tests look for stay on one line.
os.environ["COLUMNS"] = "400"
# OpenLineage (where its provider is installed) for the DAGs that enable it, its events into
# a file, emitted in a thread rather than a forked process.
OPENLINEAGE_EVENTS = _AIRFLOW_HOME / "openlineage.jsonl"
os.environ["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
    {"type": "file", "log_file_path": str(OPENLINEAGE_EVENTS), "append": True}
)
os.environ["AIRFLOW__OPENLINEAGE__SELECTIVE_ENABLE"] = "True"
os.environ["AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD"] = "True"
# One Fernet key for this process and the Airflow servers it starts, so that a secret one of
# them encrypts into the database the others can read.
os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())

from airflow_provider_schedulerx.client import AsyncSchedulerXClient, SchedulerXClient  # noqa: E402
from airflow_provider_schedulerx.config import ClientConfig  # noqa: E402
from airflow_provider_schedulerx.credentials import StaticCredentialsProvider  # noqa: E402
from airflow_provider_schedulerx.emulator import Emulator, JobSpec  # noqa: E402

ACCESS_KEY_ID = "LTAItestaccesskey01"
ACCESS_KEY_SECRET = "test-secret-do-not-leak-7f3a"
NAMESPACE = "demo-namespace"
GROUP_ID = "demo.defaultGroup"
REPO = Path(__file__).resolve().parent.parent

#: Jobs the tests rely on, fast enough for many runs.
TEST_JOBS = [
    JobSpec(
        job_id=101,
        name="nightly-etl",
        wait_seconds=0.2,
        run_seconds=0.6,
        outcome="success",
        result="42 rows loaded",
        logs=["extract: 42 rows", "transform: ok", "load: 42 rows"],
    ),
    JobSpec(
        job_id=102,
        name="flaky-report",
        wait_seconds=0.2,
        run_seconds=0.4,
        outcome="failed",
        result="java.lang.IllegalStateException: upstream table is empty",
        logs=["reading upstream", "ERROR upstream table is empty"],
    ),
    JobSpec(
        job_id=103,
        name="no-capacity",
        wait_seconds=0.3,
        run_seconds=0.1,
        outcome="rejected",
        result="rejected: no worker available",
    ),
    JobSpec(
        job_id=104,
        name="long-running",
        wait_seconds=0.1,
        run_seconds=3600,
        outcome="success",
        logs=["still working"],
    ),
]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator(
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        jobs=TEST_JOBS,
        namespace=NAMESPACE,
        group_id=GROUP_ID,
        seed=7,
    )
    with emu:
        yield emu


ClientT = TypeVar("ClientT", SchedulerXClient, AsyncSchedulerXClient)


def make_client(emu: Emulator, **config: object) -> SchedulerXClient:
    return _client(SchedulerXClient, emu, config)


def make_async_client(emu: Emulator, **config: object) -> AsyncSchedulerXClient:
    return _client(AsyncSchedulerXClient, emu, config)


def _client(client_class: type[ClientT], emu: Emulator, config: dict[str, object]) -> ClientT:
    # No call budget unless a test sets one: the tests that burst calls measure other things.
    settings = {
        "endpoint": emu.url,
        "backoff": 0.01,
        "backoff_max": 0.05,
        "max_calls_per_second": 0,
        **config,
    }
    return client_class(
        StaticCredentialsProvider(ACCESS_KEY_ID, ACCESS_KEY_SECRET),
        ClientConfig(**settings),  # type: ignore[arg-type]
        namespace=NAMESPACE,
        group_id=GROUP_ID,
    )


@pytest.fixture(params=["v3", "v1"])
def client(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[SchedulerXClient]:
    with make_client(emulator, signature_version=request.param) as c:
        yield c


def connection_json(emu: Emulator, **extra: object) -> str:
    return json.dumps(
        {
            "conn_type": "schedulerx",
            "login": ACCESS_KEY_ID,
            "password": ACCESS_KEY_SECRET,
            "host": emu.url,
            "extra": {
                "namespace": NAMESPACE,
                "group_id": GROUP_ID,
                "region_id": "cn-hangzhou",
                "max_calls_per_second": 0,
                **extra,
            },
        }
    )


@pytest.fixture
def schedulerx_connection(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """``schedulerx_default`` points at the emulator, as an ``AIRFLOW_CONN_*`` variable."""
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", connection_json(emulator, backoff=0.01))
    return emulator


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata database in the throwaway Airflow home."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
        timeout=600,
    )
    return _AIRFLOW_HOME
