"""Fixtures for the deployment tests: one PostgreSQL server per session, one Airflow
deployment (scheduler, DAG processor, triggerers, api-server) per test module.

A test module chooses what its deployment runs by overriding module-scoped fixtures:
``deployment_dags`` (file name to source, or a folder), ``deployment_env`` (extra environment,
e.g. ``AIRFLOW_CONN_SCHEDULERX_DEFAULT``), ``deployment_config`` (``section.key`` to value) and
``deployment_triggerers`` (1 or 2).

Every test here is marked ``deployment``. Where PostgreSQL's server binaries (or psycopg2)
are missing the tests are skipped, saying what to install; with
``SCHEDULERX_DEPLOYMENT_REQUIRED`` set (to anything but ``0``) they fail instead, so that CI
cannot pass by skipping them. They are skipped on Airflow older than 3.3, whose lifecycle
they do not describe.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Mapping
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.deployment.harness import AirflowDeployment, PostgresServer, Timings, postgres_missing, write_dags

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
#: The oldest Airflow the deployment tests describe.
MINIMUM_AIRFLOW = (3, 3)

_timings: list[tuple[str, Timings]] = []


def deployment_required() -> bool:
    return os.environ.get("SCHEDULERX_DEPLOYMENT_REQUIRED", "") not in ("", "0")


def airflow_too_old() -> str | None:
    """Why the installed Airflow is not one the deployment tests describe, or None."""
    installed = tuple(int(part) for part in version("apache-airflow").split(".")[:2])
    if installed < MINIMUM_AIRFLOW:
        return f"the deployment tests describe Airflow 3.3+, this is {version('apache-airflow')}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.deployment)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _timings:
        return
    terminalreporter.section("deployment timings")
    for name, timings in _timings:
        terminalreporter.write_line(name)
        for line in timings.report().splitlines():
            terminalreporter.write_line(f"    {line}")


def provider_checkouts() -> tuple[Path, ...]:
    """Where the deployment's processes import the provider from: this checkout, or the one
    ``SCHEDULERX_DEPLOYMENT_CHECKOUT`` names (a snapshot to test while this one changes, or an
    earlier revision to compare with)."""
    other = os.environ.get("SCHEDULERX_DEPLOYMENT_CHECKOUT")
    return (Path(other).resolve(), REPO) if other else (REPO,)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    too_old = airflow_too_old()
    if too_old:
        pytest.skip(too_old)
    missing = postgres_missing()
    if missing and deployment_required():
        pytest.fail(f"SCHEDULERX_DEPLOYMENT_REQUIRED is set but {missing}")
    if missing:
        pytest.skip(missing)
    # A test run stopped with SIGTERM still stops the servers it started (atexit).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with PostgresServer() as server:
        _timings.append(("PostgreSQL server", server.timings))
        yield server


@pytest.fixture(scope="module")
def deployment_dags() -> Mapping[str, str] | Path:
    """The DAGs of the module's deployment: file name to source, or a folder. None by
    default; a test module overrides this fixture."""
    return {}


@pytest.fixture(scope="module")
def deployment_env() -> Mapping[str, str]:
    """Environment variables added to every Airflow process of the module's deployment."""
    return {}


@pytest.fixture(scope="module")
def deployment_config() -> Mapping[str, object]:
    """Airflow settings (``section.key`` to value) over the harness's defaults."""
    return {}


@pytest.fixture(scope="module")
def deployment_triggerers() -> int:
    """How many triggerers the module's deployment runs."""
    return 1


@pytest.fixture(scope="module")
def deployment(
    request: pytest.FixtureRequest,
    postgres: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
    deployment_dags: Mapping[str, str] | Path,
    deployment_env: Mapping[str, str],
    deployment_config: Mapping[str, object],
    deployment_triggerers: int,
) -> Iterator[AirflowDeployment]:
    """A started Airflow deployment on a database of its own, stopped after the module."""
    base = tmp_path_factory.mktemp(f"deployment-{request.module.__name__.rsplit('.', 1)[-1]}")
    if isinstance(deployment_dags, Path):
        dags_folder = deployment_dags
    else:
        dags_folder = write_dags(base / "dags", deployment_dags)
    database = postgres.create_database()
    deployment = AirflowDeployment(
        home=base / "airflow-home",
        dags_folder=dags_folder,
        database=database,
        env=deployment_env,
        config=deployment_config,
        triggerers=deployment_triggerers,
        pythonpath=provider_checkouts(),
    )
    title = f"{request.module.__name__}: start-up (process logs in {deployment.logs_dir})"
    _timings.append((title, deployment.timings))
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()
        postgres.drop_database(database.name)


@pytest.fixture
def steps(request: pytest.FixtureRequest) -> Timings:
    """Times the steps of one test; they are printed at once and in the session's summary."""
    timings = Timings()
    _timings.append((request.node.nodeid, timings))
    return timings
