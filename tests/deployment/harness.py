"""A real Airflow deployment for the deployment tests: PostgreSQL, a scheduler with the
LocalExecutor, a DAG processor, one or two triggerers and an api-server, each its own process.

- :class:`PostgresServer` runs a throwaway PostgreSQL server (``initdb`` into a temporary
  directory, loopback only, trust authentication) and creates one database per deployment.
- :class:`AirflowDeployment` configures Airflow on such a database, migrates it, starts the
  Airflow processes with short intervals, and stops all of them (and every task process they
  left behind) on :meth:`AirflowDeployment.stop`, at the latest when the interpreter exits.
  It can kill and restart a named process and kill the processes of one task instance.
- :class:`AirflowApi` drives the deployment through the api-server's ``/api/v2``, the way the
  UI does: trigger, read, wait for, clear and mark task instances, read XComs, extra links,
  triggers and task logs.

The module imports neither pytest nor Airflow: the deployment is driven only from outside.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import requests

REPO = Path(__file__).resolve().parent.parent.parent

#: How long a deployment may take to start: migrate, start the processes, parse the DAGs.
STARTUP_TIMEOUT = 300.0
#: How long a process gets to exit on SIGTERM before it and its group are killed.
STOP_GRACE = 10.0
#: Default for the waits of :class:`AirflowApi`.
WAIT_TIMEOUT = 120.0
#: Poll interval of every wait.
POLL_INTERVAL = 0.5
#: Timeout of one REST call.
REQUEST_TIMEOUT = 30.0

TERMINAL_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})

#: The settings every deployment gets (``section.key``), chosen so that the tests run fast:
#: new DAG files are found within seconds, the scheduler and the triggerers heartbeat every
#: 2 s, a triggerer that stops heartbeating is considered dead 15 s after its last heartbeat
#: (a surviving or restarted triggerer then takes its triggers over within a second or two),
#: and a task instance whose supervisor stops heartbeating is failed after 30 s.
DEFAULT_CONFIG: dict[str, str] = {
    "core.executor": "LocalExecutor",
    "core.load_examples": "False",
    "core.auth_manager": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    "core.simple_auth_manager_all_admins": "True",
    "core.test_connection": "Enabled",
    "core.dagbag_import_timeout": "60",
    "core.min_serialized_dag_update_interval": "5",
    "api.maximum_page_limit": "1000",
    "api.expose_config": "True",
    "dag_processor.refresh_interval": "5",
    "dag_processor.min_file_process_interval": "5",
    "dag_processor.print_stats_interval": "0",
    "dag_processor.stale_dag_threshold": "30",
    "scheduler.scheduler_heartbeat_sec": "2",
    "scheduler.job_heartbeat_sec": "2",
    "scheduler.scheduler_idle_sleep_time": "0.5",
    "scheduler.orphaned_tasks_check_interval": "10",
    "scheduler.task_instance_heartbeat_timeout": "30",
    "scheduler.task_instance_heartbeat_timeout_detection_interval": "2",
    "scheduler.parsing_cleanup_interval": "10",
    "triggerer.job_heartbeat_sec": "2",
    "triggerer.triggerer_health_check_threshold": "15",
    "workers.min_heartbeat_interval": "2",
    "logging.logging_level": "INFO",
}

_PROCESS_TITLE_OF_TASK = "airflow worker -- "


class DeploymentError(RuntimeError):
    """The deployment could not be set up, or a process or call did not do what it should."""


class DeploymentTimeout(DeploymentError, TimeoutError):
    """A wait ran out; the message says what was awaited, what was seen last, and the logs."""


class DeploymentBroken(DeploymentError):
    """Waiting longer cannot help: a process exited, or a DAG file does not import."""


# --- processes and ports --------------------------------------------------------------------

_ports_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port() -> int:
    """A TCP port free on 127.0.0.1, never the same twice in this process."""
    with _ports_lock:
        for _ in range(100):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = int(probe.getsockname()[1])
            if port not in _ports_handed_out:
                _ports_handed_out.add(port)
                return port
    raise DeploymentError("no free loopback port found")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # A zombie has exited; only its parent's wait is missing.
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\x00", b" ").decode(errors="replace").strip()


def _cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _pids_with_cwd(directory: Path) -> list[int]:
    """Processes whose working directory is ``directory`` (Airflow never changes it, so every
    process a deployment starts, and every process those start, keeps it)."""
    target = str(directory.resolve())
    return [pid for pid in _pids() if pid != os.getpid() and _cwd(pid) == target]


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_gone(pids: Iterable[int], timeout: float) -> bool:
    remaining = set(pids)
    deadline = time.monotonic() + timeout
    while remaining and time.monotonic() < deadline:
        remaining = {pid for pid in remaining if _alive(pid)}
        if remaining:
            time.sleep(0.1)
    return not remaining


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"({path} is missing)"
    return "\n".join(text.splitlines()[-lines:])


# Everything still running when the interpreter exits is stopped; the newest first.
_live: list[AirflowDeployment | PostgresServer] = []
_live_lock = threading.Lock()


def _register(resource: AirflowDeployment | PostgresServer) -> None:
    with _live_lock:
        _live.append(resource)


def _unregister(resource: AirflowDeployment | PostgresServer) -> None:
    with _live_lock, contextlib.suppress(ValueError):
        _live.remove(resource)


@atexit.register
def _stop_everything() -> None:
    with _live_lock:
        resources = list(reversed(_live))
    for resource in resources:
        with contextlib.suppress(Exception):
            resource.stop()


@contextlib.contextmanager
def _deadline_loop(timeout: float, interval: float = POLL_INTERVAL) -> Iterator[Callable[[], bool]]:
    """``while more():`` polls every ``interval`` seconds until ``timeout`` has passed."""
    deadline = time.monotonic() + timeout
    first = [True]

    def more() -> bool:
        if first[0]:
            first[0] = False
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        return True

    yield more


# --- timings ---------------------------------------------------------------------------------


@dataclass
class Timings:
    """Wall times of named steps, in the order they ran."""

    steps: list[tuple[str, float]] = field(default_factory=list)
    echo: bool = True

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.record(name, time.monotonic() - started)

    def record(self, name: str, seconds: float) -> None:
        self.steps.append((name, seconds))
        if self.echo:
            print(f"[deployment] {name}: {seconds:.1f} s", flush=True)

    def total(self) -> float:
        return sum(seconds for _, seconds in self.steps)

    def report(self) -> str:
        width = max((len(name) for name, _ in self.steps), default=0)
        lines = [f"{name:<{width}}  {seconds:7.1f} s" for name, seconds in self.steps]
        lines.append(f"{'total':<{width}}  {self.total():7.1f} s")
        return "\n".join(lines)


# --- PostgreSQL ------------------------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """The directory of PostgreSQL's server binaries (``initdb``, ``pg_ctl``, ``postgres``):
    ``SCHEDULERX_POSTGRES_BIN``, else the newest ``/usr/lib/postgresql/*/bin``, else PATH."""
    wanted = ("initdb", "pg_ctl", "postgres")
    configured = os.environ.get("SCHEDULERX_POSTGRES_BIN")
    candidates: list[Path] = []
    if configured:
        candidates.append(Path(configured))
    else:

        def version_of(path: Path) -> tuple[int, ...]:
            return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)

        candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version_of, reverse=True)
        on_path = shutil.which("initdb")
        if on_path:
            candidates.append(Path(on_path).resolve().parent)
    for candidate in candidates:
        if all(os.access(candidate / name, os.X_OK) for name in wanted):
            return candidate
    return None


def postgres_missing() -> str | None:
    """Why no PostgreSQL server can be run here, or None."""
    if postgres_bin_dir() is None:
        configured = os.environ.get("SCHEDULERX_POSTGRES_BIN")
        where = (
            f"SCHEDULERX_POSTGRES_BIN={configured}" if configured else "/usr/lib/postgresql/*/bin or on PATH"
        )
        return (
            f"no PostgreSQL server binaries (initdb, pg_ctl, postgres) in {where}: "
            "bash scripts/install-postgresql.sh"
        )
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed: pip install psycopg2-binary"
    return None


@dataclass(frozen=True)
class PostgresDatabase:
    """One database on a :class:`PostgresServer`."""

    name: str
    host: str
    port: int
    user: str

    @property
    def url(self) -> str:
        """The SQLAlchemy URL, with the psycopg2 driver."""
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{self.name}"

    @property
    def async_url(self) -> str:
        """The SQLAlchemy URL with the asyncpg driver, for Airflow's async engine."""
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{self.name}"

    def connect(self) -> Any:
        """A psycopg2 connection in autocommit mode; close it when done."""
        import psycopg2

        connection = psycopg2.connect(
            host=self.host, port=self.port, user=self.user, dbname=self.name, connect_timeout=10
        )
        connection.autocommit = True
        return connection

    def query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Runs one statement and returns its rows (none for a statement without result)."""
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall()) if cursor.description else []
        finally:
            connection.close()


class PostgresServer:
    """A throwaway PostgreSQL server on 127.0.0.1, started by :meth:`start` and deleted with its
    data by :meth:`stop`.

    PostgreSQL refuses to run as root; as root the server runs as the ``postgres`` user (else
    ``nobody``), which then owns the temporary directory. Authentication is ``trust`` (loopback
    only) and durability is off (``fsync``, ``synchronous_commit``, ``full_page_writes``): the
    data lives only as long as the test session.
    """

    SUPERUSER = "airflow"

    def __init__(self, *, max_connections: int = 500, startup_timeout: float = 60.0) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise DeploymentError(postgres_missing() or "no PostgreSQL server binaries")
        self.bin_dir = bin_dir
        self.host = "127.0.0.1"
        self.port = 0
        self.max_connections = max_connections
        self.startup_timeout = startup_timeout
        self.base_dir: Path | None = None
        self._run_as = self._unprivileged_user() if os.geteuid() == 0 else None
        self._databases: set[str] = set()
        self.timings = Timings()

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None, "the server has not been started"
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        assert self.base_dir is not None, "the server has not been started"
        return self.base_dir / "postgres.log"

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def start(self) -> None:
        if self.base_dir is not None:
            raise DeploymentError("the PostgreSQL server is already started")
        started = time.monotonic()
        self.base_dir = Path(tempfile.mkdtemp(prefix="schedulerx-postgres-"))
        _register(self)
        try:
            (self.base_dir / "socket").mkdir()
            self.log_path.touch()
            if self._run_as is not None:
                uid, gid = self._run_as
                for path in (self.base_dir, self.base_dir / "socket", self.log_path):
                    os.chown(path, uid, gid)
            self._run(
                "initdb",
                [
                    *("-D", str(self.data_dir), "-U", self.SUPERUSER, "--auth=trust"),
                    *("-E", "UTF8", "--locale=C", "--no-sync"),
                ],
                timeout=120,
            )
            self._start_server()
        except BaseException:
            self.stop()
            raise
        self.timings.record("postgres start", time.monotonic() - started)

    def create_database(self, name: str | None = None) -> PostgresDatabase:
        """Creates a new, empty database (named ``airflow_<random>`` unless given)."""
        name = name or f"airflow_{uuid.uuid4().hex[:12]}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        self.database("postgres").query(f'CREATE DATABASE "{name}"')
        self._databases.add(name)
        return self.database(name)

    def drop_database(self, name: str) -> None:
        self.database("postgres").query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._databases.discard(name)

    def database(self, name: str) -> PostgresDatabase:
        if not self.port:
            raise DeploymentError("the PostgreSQL server is not running")
        return PostgresDatabase(name=name, host=self.host, port=self.port, user=self.SUPERUSER)

    def stop(self) -> None:
        """Stops the server (fast, then immediate, then SIGKILL) and deletes its directory."""
        base_dir = self.base_dir
        if base_dir is None:
            return
        _unregister(self)
        data_dir = base_dir / "data"
        if (data_dir / "postmaster.pid").exists():
            for mode in ("fast", "immediate"):
                try:
                    self._run(
                        "pg_ctl", ["-D", str(data_dir), "-m", mode, "-w", "-t", "20", "stop"], timeout=30
                    )
                    break
                except DeploymentError:
                    continue
            postmaster = self._postmaster_pid(data_dir)
            if postmaster is not None:
                _signal(postmaster, signal.SIGKILL)
        leftovers = _pids_with_cwd(data_dir) if data_dir.exists() else []
        for pid in leftovers:
            _signal(pid, signal.SIGKILL)
        _wait_gone(leftovers, 10)
        shutil.rmtree(base_dir, ignore_errors=True)
        self.base_dir = None
        self.port = 0

    # -- internals

    @staticmethod
    def _unprivileged_user() -> tuple[int, int]:
        for name in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return entry.pw_uid, entry.pw_gid
        raise DeploymentError("running as root, but there is neither a postgres nor a nobody user")

    def _popen_kwargs(self) -> dict[str, Any]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        kwargs: dict[str, Any] = {"env": env, "cwd": str(self.base_dir)}
        if self._run_as is not None:
            uid, gid = self._run_as
            kwargs.update(user=uid, group=gid, extra_groups=[])
        return kwargs

    def _run(self, program: str, args: list[str], *, timeout: float) -> str:
        command = [str(self.bin_dir / program), *args]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                **self._popen_kwargs(),
            )
        except subprocess.TimeoutExpired as error:
            raise DeploymentError(f"{program} did not finish within {timeout:.0f} s") from error
        if result.returncode != 0:
            raise DeploymentError(
                f"{' '.join(command)} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
                f"\n{self.log_tail()}"
            )
        return result.stdout

    def _start_server(self) -> None:
        assert self.base_dir is not None
        settings = {
            "listen_addresses": self.host,
            "unix_socket_directories": str(self.base_dir / "socket"),
            "max_connections": str(self.max_connections),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "64MB",
        }
        last_error: DeploymentError | None = None
        for _ in range(3):
            port = free_port()
            options = " ".join([f"-p {port}"] + [f"-c {key}={value}" for key, value in settings.items()])
            try:
                self._run(
                    "pg_ctl",
                    [
                        *("-D", str(self.data_dir), "-l", str(self.log_path)),
                        *("-w", "-t", str(int(self.startup_timeout)), "-o", options, "start"),
                    ],
                    timeout=self.startup_timeout + 10,
                )
            except DeploymentError as error:
                # Most likely another process took the port between the probe and the bind.
                last_error = error
                continue
            self.port = port
            return
        raise last_error or DeploymentError("PostgreSQL did not start")

    @staticmethod
    def _postmaster_pid(data_dir: Path) -> int | None:
        try:
            first_line = (data_dir / "postmaster.pid").read_text().splitlines()[0]
            pid = int(first_line.strip())
        except (OSError, IndexError, ValueError):
            return None
        return pid if _alive(pid) else None


# --- the REST API ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskInstance:
    """What ``/api/v2`` says about one task instance (``raw`` has the whole answer)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    id: str
    pid: int | None
    hostname: str | None
    trigger: Mapping[str, Any] | None
    triggerer_job: Mapping[str, Any] | None
    raw: Mapping[str, Any]

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> TaskInstance:
        return cls(
            dag_id=body["dag_id"],
            run_id=body["dag_run_id"],
            task_id=body["task_id"],
            map_index=int(body["map_index"]),
            state=body.get("state"),
            try_number=int(body.get("try_number") or 0),
            id=str(body["id"]),
            pid=body.get("pid"),
            hostname=body.get("hostname"),
            trigger=body.get("trigger"),
            triggerer_job=body.get("triggerer_job"),
            raw=body,
        )

    @property
    def key(self) -> tuple[str, int]:
        return self.task_id, self.map_index

    @property
    def triggerer_id(self) -> int | None:
        """The id of the triggerer job that runs this task instance's trigger, if any."""
        if not self.trigger:
            return None
        value = self.trigger.get("triggerer_id")
        return int(value) if value is not None else None

    def describe(self) -> str:
        index = f"[{self.map_index}]" if self.map_index >= 0 else ""
        trigger = ""
        if self.trigger:
            trigger = f" trigger={self.trigger.get('id')}@triggerer-job-{self.triggerer_id}"
        return f"{self.task_id}{index}={self.state} (try {self.try_number}){trigger}"


def _as_states(states: str | Iterable[str | None] | None) -> frozenset[str | None]:
    if states is None or isinstance(states, str):
        return frozenset([states])
    return frozenset(states)


class AirflowApi:
    """A client of the api-server's ``/api/v2`` with the waits the tests need.

    ``diagnostics`` is called when a wait runs out; its text (the tails of the process logs)
    ends the error message.
    """

    def __init__(self, base_url: str, *, diagnostics: Callable[[], str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        #: Seconds between two reads of a wait: tests that wait on many runs at once read
        #: less often, not to load the api-server they are testing.
        self.poll_interval = POLL_INTERVAL
        self.session = requests.Session()
        self._diagnostics = diagnostics or (lambda: "")
        self._token: str | None = None

    # -- raw calls

    def token(self) -> str:
        """A JWT from the simple auth manager (``GET /auth/token``, every user is an admin)."""
        reply = self.session.get(f"{self.base_url}/auth/token", timeout=REQUEST_TIMEOUT)
        if not reply.ok:
            raise DeploymentError(f"GET /auth/token answered {reply.status_code}: {reply.text[:500]}")
        token = str(reply.json()["access_token"])
        self._token = token
        self.session.headers["Authorization"] = f"Bearer {token}"
        return token

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        expect: Collection[int] = (200,),
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One call to ``{base_url}{path}``; raises :class:`DeploymentError` on any other status.
        Reads are retried while the api-server does not answer (e.g. while it restarts)."""
        if self._token is None:
            self.token()
        url = f"{self.base_url}{path}"
        attempts = 5 if method == "GET" else 1
        for attempt in range(attempts):
            try:
                reply = self.session.request(
                    method, url, params=params, json=json_body, headers=headers, timeout=REQUEST_TIMEOUT
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                if attempt + 1 == attempts:
                    raise DeploymentError(f"{method} {path}: {error}") from error
                time.sleep(1 + attempt)
                continue
            if reply.status_code == 401 and attempt + 1 < attempts:
                self.token()
                continue
            if reply.status_code not in expect:
                raise DeploymentError(f"{method} {path} answered {reply.status_code}: {reply.text[:2000]}")
            return reply
        raise AssertionError("unreachable")

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None).json()

    # -- DAGs and runs

    def health(self) -> dict[str, Any]:
        reply = self.session.get(f"{self.base_url}/api/v2/monitor/health", timeout=REQUEST_TIMEOUT)
        reply.raise_for_status()
        return dict(reply.json())

    def dags(self) -> list[dict[str, Any]]:
        return list(self.get("/api/v2/dags", limit=1000, paused=None)["dags"])

    def dag(self, dag_id: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v2/dags/{dag_id}"))

    def import_errors(self) -> list[dict[str, Any]]:
        return list(self.get("/api/v2/importErrors", limit=1000)["import_errors"])

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", json_body={"is_paused": paused})

    def unpause(self, dag_id: str) -> None:
        self.set_paused(dag_id, False)

    def pause(self, dag_id: str) -> None:
        self.set_paused(dag_id, True)

    def trigger_dag(
        self, dag_id: str, conf: Mapping[str, Any] | None = None, *, run_id: str | None = None
    ) -> str:
        """Triggers a manual run (logical date none) and returns its run id."""
        body = {
            "dag_run_id": run_id or f"manual__{dag_id}__{uuid.uuid4().hex[:10]}",
            "logical_date": None,
            "conf": dict(conf or {}),
        }
        reply = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json_body=body)
        return str(reply.json()["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"))

    def set_dag_run_state(self, dag_id: str, run_id: str, state: str) -> dict[str, Any]:
        reply = self.request("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", json_body={"state": state})
        return dict(reply.json())

    # -- task instances

    def task_instances(self, dag_id: str, run_id: str, task_id: str | None = None) -> list[TaskInstance]:
        """Every task instance of a run (each map index its own), or of one task of it."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        params: dict[str, Any] = {"limit": 1000}
        if task_id is not None:
            params["task_id"] = task_id
        for _ in range(5):
            found: dict[tuple[str, int], TaskInstance] = {}
            total = 0
            offset = 0
            while True:
                page = self.get(path, **params, offset=offset)
                total = int(page.get("total_entries") or 0)
                items = page["task_instances"]
                for item in items:
                    ti = TaskInstance.from_api(item)
                    found[ti.key] = ti
                offset += len(items)
                if not items or offset >= total:
                    break
            # Pages read while the run changes can overlap; read again until they add up.
            if len(found) >= total:
                return sorted(found.values(), key=lambda ti: (ti.task_id, ti.map_index))
        return sorted(found.values(), key=lambda ti: (ti.task_id, ti.map_index))

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> TaskInstance:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        if map_index >= 0:
            path += f"/{map_index}"
        return TaskInstance.from_api(self.get(path))

    def task_tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict[str, Any]]:
        """The earlier and current tries of a task instance, oldest first."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        path += f"/{map_index}/tries" if map_index >= 0 else "/tries"
        tries = list(self.get(path)["task_instances"])
        return sorted(tries, key=lambda item: int(item["try_number"]))

    def clear_task_instances(
        self,
        dag_id: str,
        run_id: str,
        task_ids: Iterable[str | tuple[str, int]],
        *,
        only_failed: bool = False,
        include_downstream: bool = False,
        include_upstream: bool = False,
        reset_dag_runs: bool = True,
        dry_run: bool = False,
    ) -> list[dict[str, Any]]:
        """Clears task instances as the UI's Clear button does (``POST .../clearTaskInstances``);
        a ``(task_id, map_index)`` pair clears one map index. Returns what was cleared."""
        body = {
            "dry_run": dry_run,
            "dag_run_id": run_id,
            "task_ids": [list(item) if isinstance(item, tuple) else item for item in task_ids],
            "only_failed": only_failed,
            "only_running": False,
            "reset_dag_runs": reset_dag_runs,
            "include_downstream": include_downstream,
            "include_upstream": include_upstream,
            "include_future": False,
            "include_past": False,
        }
        reply = self.request("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances", json_body=body)
        return list(reply.json()["task_instances"])

    def set_task_state(
        self, dag_id: str, run_id: str, task_id: str, new_state: str, map_index: int = -1
    ) -> list[dict[str, Any]]:
        """Marks a task instance ``success``, ``failed`` or ``skipped`` (``PATCH .../{task_id}``)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        if map_index >= 0:
            path += f"/{map_index}"
        reply = self.request("PATCH", path, json_body={"new_state": new_state})
        return list(reply.json()["task_instances"])

    def mark_success(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> None:
        self.set_task_state(dag_id, run_id, task_id, "success", map_index)

    def mark_failed(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> None:
        self.set_task_state(dag_id, run_id, task_id, "failed", map_index)

    def xcoms(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """Every XCom of a task instance, key to deserialized value."""
        base = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries"
        entries = self.get(base, map_index=map_index, limit=1000)["xcom_entries"]
        return {
            entry["key"]: self.xcom(dag_id, run_id, task_id, entry["key"], map_index)
            for entry in entries
            if int(entry.get("map_index", -1)) == map_index
        }

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.get(path, map_index=map_index, deserialize=True)["value"]

    def extra_links(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1
    ) -> dict[str, str | None]:
        """The task instance's extra links, name to URL (None where there is none yet)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/links"
        return dict(self.get(path, map_index=map_index)["extra_links"])

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        """The whole log of one try, one line per log event."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        reply = self.request(
            "GET",
            path,
            params={"full_content": True, "map_index": map_index},
            headers={"Accept": "application/json"},
        )
        content = reply.json().get("content")
        if isinstance(content, str):
            return content
        lines = []
        for entry in content or []:
            if isinstance(entry, str):
                lines.append(entry)
                continue
            extras = " ".join(
                f"{key}={value}" for key, value in entry.items() if key not in {"timestamp", "event", "level"}
            )
            lines.append(
                " ".join(
                    str(part)
                    for part in (entry.get("timestamp"), entry.get("level"), entry.get("event"), extras)
                    if part
                )
            )
        return "\n".join(lines)

    def jobs(self, job_type: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 1000}
        if job_type:
            params["job_type"] = job_type
        if state:
            params["job_state"] = state
        return list(self.get("/api/v2/jobs", **params)["jobs"])

    # -- waits

    def wait_for(
        self,
        what: str,
        probe: Callable[[], tuple[bool, str]],
        timeout: float = WAIT_TIMEOUT,
        interval: float | None = None,
    ) -> None:
        """Calls ``probe`` until it answers ``(True, _)``; its second item is what was seen,
        for the error message when ``timeout`` runs out. A :class:`DeploymentError` from
        ``probe`` counts as not yet, a :class:`DeploymentBroken` ends the wait."""
        seen = "(nothing read yet)"
        started = time.monotonic()
        with _deadline_loop(timeout, self.poll_interval if interval is None else interval) as more:
            while more():
                try:
                    done, seen = probe()
                except DeploymentBroken:
                    raise
                except DeploymentError as error:
                    done, seen = False, f"error: {error}"
                if done:
                    return
        raise DeploymentTimeout(
            f"timed out after {time.monotonic() - started:.0f} s waiting for {what}\n"
            f"last seen: {seen}\n{self._diagnostics()}"
        )

    def wait_for_task_instance(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        condition: Callable[[TaskInstance], bool],
        what: str,
        *,
        map_index: int = -1,
        timeout: float = WAIT_TIMEOUT,
    ) -> TaskInstance:
        """Waits until ``condition`` holds for the task instance and returns it; ``what``
        describes the condition in the error message."""
        last: list[TaskInstance] = []

        def probe() -> tuple[bool, str]:
            ti = self.task_instance(dag_id, run_id, task_id, map_index)
            last[:] = [ti]
            return condition(ti), ti.describe()

        index = f"[{map_index}]" if map_index >= 0 else ""
        self.wait_for(f"{dag_id}/{run_id}/{task_id}{index}: {what}", probe, timeout)
        return last[0]

    def wait_for_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: str | Iterable[str | None],
        *,
        map_index: int = -1,
        timeout: float = WAIT_TIMEOUT,
        min_try_number: int = 0,
    ) -> TaskInstance:
        """Waits until the task instance is in one of ``states`` (and at least at try
        ``min_try_number``) and returns it."""
        wanted = _as_states(states)
        what = f"in {sorted(map(str, wanted))}"
        if min_try_number:
            what += f" at try {min_try_number} or later"
        return self.wait_for_task_instance(
            dag_id,
            run_id,
            task_id,
            lambda ti: ti.state in wanted and ti.try_number >= min_try_number,
            what,
            map_index=map_index,
            timeout=timeout,
        )

    def wait_for_deferral(
        self, dag_id: str, run_id: str, task_id: str, *, map_index: int = -1, timeout: float = WAIT_TIMEOUT
    ) -> TaskInstance:
        """Waits until the task instance is deferred and a triggerer has taken its trigger."""
        return self.wait_for_task_instance(
            dag_id,
            run_id,
            task_id,
            lambda ti: ti.state == "deferred" and ti.triggerer_id is not None,
            "deferred, its trigger taken by a triggerer",
            map_index=map_index,
            timeout=timeout,
        )

    def wait_for_mapped(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: str | Iterable[str | None],
        *,
        count: int | None = None,
        timeout: float = WAIT_TIMEOUT,
    ) -> list[TaskInstance]:
        """Waits until every map index of a mapped task (exactly ``count`` of them, if given) is
        in one of ``states``; returns them by map index."""
        wanted = _as_states(states)
        last: list[TaskInstance] = []

        def probe() -> tuple[bool, str]:
            tis = [ti for ti in self.task_instances(dag_id, run_id, task_id) if ti.map_index >= 0]
            last[:] = tis
            complete = bool(tis) and (count is None or len(tis) == count)
            return complete and all(ti.state in wanted for ti in tis), _summary(tis)

        self.wait_for(
            f"every map index of {dag_id}/{run_id}/{task_id} in {sorted(map(str, wanted))}", probe, timeout
        )
        return last

    def wait_for_tasks(
        self,
        dag_id: str,
        run_id: str,
        states: str | Iterable[str | None] = TERMINAL_STATES,
        *,
        timeout: float = WAIT_TIMEOUT,
    ) -> list[TaskInstance]:
        """Waits until every task instance of the run is in one of ``states``."""
        wanted = _as_states(states)
        last: list[TaskInstance] = []

        def probe() -> tuple[bool, str]:
            tis = self.task_instances(dag_id, run_id)
            last[:] = tis
            return bool(tis) and all(ti.state in wanted for ti in tis), _summary(tis)

        self.wait_for(f"every task of {dag_id}/{run_id} in {sorted(map(str, wanted))}", probe, timeout)
        return last

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        states: str | Iterable[str] = ("success",),
        *,
        timeout: float = WAIT_TIMEOUT,
    ) -> dict[str, Any]:
        """Waits until the DAG run is in one of ``states`` and returns it."""
        wanted = _as_states(states)
        last: list[dict[str, Any]] = []

        def probe() -> tuple[bool, str]:
            run = self.dag_run(dag_id, run_id)
            last[:] = [run]
            done = run.get("state") in wanted
            detail = f"run {run.get('state')}"
            if not done:
                detail += "; " + _summary(self.task_instances(dag_id, run_id))
            return done, detail

        self.wait_for(f"run {dag_id}/{run_id} in {sorted(map(str, wanted))}", probe, timeout)
        return last[0]


def _summary(tis: Iterable[TaskInstance]) -> str:
    """``task=state x count`` for many task instances, one item per task and state."""
    counts: dict[tuple[str, str | None], int] = {}
    details: list[str] = []
    tis = list(tis)
    for ti in tis:
        counts[(ti.task_id, ti.state)] = counts.get((ti.task_id, ti.state), 0) + 1
    if len(tis) <= 10:
        details = [ti.describe() for ti in tis]
        return ", ".join(details) or "(no task instances)"
    return ", ".join(f"{task}={state} x{n}" for (task, state), n in sorted(counts.items(), key=str))


# --- the deployment --------------------------------------------------------------------------

ProcessName = str


@dataclass
class _Process:
    name: ProcessName
    command: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass(frozen=True)
class TaskProcesses:
    """The processes of one running task instance under the LocalExecutor: the task process
    (``airflow worker -- <ti id>``) and its supervisor, the executor's worker process."""

    task_pid: int
    supervisor_pid: int | None


class AirflowDeployment:
    """Airflow with the LocalExecutor on PostgreSQL, every component its own process.

    ``home`` becomes ``AIRFLOW_HOME`` and the working directory of every process (which is how
    :meth:`stop` finds the task processes they started); its ``process-logs`` folder holds one
    log per process (``scheduler.log``, ``dag-processor.log``, ``triggerer-1.log``, ...,
    ``api-server.log``, ``db-migrate.log``) and ``logs`` Airflow's task logs.

    ``env`` is added to every process's environment (e.g. ``AIRFLOW_CONN_SCHEDULERX_DEFAULT``);
    ``config`` overrides :data:`DEFAULT_CONFIG`, keyed ``section.key``. Inherited ``AIRFLOW_*``
    variables are dropped so that the test process's own Airflow settings do not leak in.
    ``pythonpath`` comes first on every process's ``PYTHONPATH``: by default this checkout, so
    that Airflow loads this checkout's provider.
    """

    def __init__(
        self,
        *,
        home: Path,
        dags_folder: Path,
        database: PostgresDatabase,
        env: Mapping[str, str] | None = None,
        config: Mapping[str, object] | None = None,
        triggerers: int = 1,
        api_workers: int = 1,
        expected_dags: Iterable[str] | None = None,
        python: str = sys.executable,
        pythonpath: Sequence[Path] = (REPO,),
        startup_timeout: float = STARTUP_TIMEOUT,
        api_port: int | None = None,
    ) -> None:
        if triggerers < 0:
            raise ValueError("triggerers must be 0 or more")
        self.home = home.resolve()
        self.dags_folder = dags_folder.resolve()
        self.database = database
        self.triggerer_count = triggerers
        self.api_workers = api_workers
        self.expected_dags = set(expected_dags) if expected_dags is not None else None
        self.python = python
        self.pythonpath = [str(path) for path in pythonpath]
        self.startup_timeout = startup_timeout
        self.logs_dir = self.home / "process-logs"
        self.api_port = api_port or free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.api = AirflowApi(self.url, diagnostics=self.diagnostics)
        self.timings = Timings()
        self.config = {key: str(value) for key, value in (config or {}).items()}
        self.env = self._environment(env or {})
        self._processes: dict[ProcessName, _Process] = {}
        self._triggerer_jobs: dict[ProcessName, list[int]] = {}
        self._orphans: set[int] = set()
        self._started = False
        #: Wall time of :meth:`start`, in seconds.
        self.startup_seconds = 0.0

    # -- lifecycle

    def __enter__(self) -> AirflowDeployment:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def triggerer_names(self) -> list[ProcessName]:
        return [f"triggerer-{n}" for n in range(1, self.triggerer_count + 1)]

    @property
    def process_names(self) -> list[ProcessName]:
        return ["api-server", "scheduler", "dag-processor", *self.triggerer_names]

    def start(self) -> None:
        """Migrates the database, starts every process, and returns once the api-server
        answers, every component is healthy and the DAGs are parsed."""
        if self._started:
            raise DeploymentError("the deployment is already started")
        self._started = True
        _register(self)
        started = time.monotonic()
        try:
            for path in (self.home, self.logs_dir, self.home / "logs", self.home / "bundles"):
                path.mkdir(parents=True, exist_ok=True)
            with self.timings.step("airflow db migrate"):
                self.run_cli(["db", "migrate"], log_name="db-migrate", timeout=600)
            for name in ("api-server", "scheduler", "dag-processor"):
                self.start_process(name)
            # One triggerer after the other, so that each one's triggerer job is known.
            for name in self.triggerer_names:
                with self.timings.step(f"{name} started (its triggerer job in the database)"):
                    self.start_process(name)
            with self.timings.step("api-server answering"):
                self._wait_for_api()
            with self.timings.step("all components healthy"):
                self._wait_for_health()
            with self.timings.step("DAGs parsed"):
                self.wait_for_dags(self.expected_dags, timeout=self._remaining(started))
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started

    def stop(self) -> None:
        """Stops every process (SIGTERM to its group, SIGKILL after :data:`STOP_GRACE`), then
        kills whatever they left running (task processes in groups of their own)."""
        if not self._started:
            return
        self._started = False
        _unregister(self)
        with self.timings.step("deployment stop"):
            self._stop_processes()

    def _stop_processes(self) -> None:
        running = [process for process in self._processes.values() if process.running]
        tree = self._descendants([process.popen.pid for process in running if process.popen])
        for process in running:
            assert process.popen is not None
            _signal_group(process.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for process in running:
            assert process.popen is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in running:
            assert process.popen is not None
            _signal_group(process.popen.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=10)
        leftovers = set(tree) | self._orphans | set(_pids_with_cwd(self.home))
        leftovers = {pid for pid in leftovers if _alive(pid) and pid != os.getpid()}
        for pid in leftovers:
            _signal(pid, signal.SIGKILL)
        _wait_gone(leftovers, 10)
        self._orphans.clear()

    # -- processes

    def start_process(self, name: ProcessName) -> None:
        """Starts (or starts again) the named process; a triggerer counts as started once its
        triggerer job is in the database."""
        process = self._processes.get(name) or self._define(name)
        if process.running:
            raise DeploymentError(f"{name} is already running")
        known_jobs = self._triggerer_job_ids() if name.startswith("triggerer-") else set()
        with process.log_path.open("ab") as log:
            banner = f"\n=== {name} start #{process.starts + 1} at {time.strftime('%H:%M:%S')}\n"
            log.write(banner.encode())
            log.flush()
            process.popen = subprocess.Popen(
                process.command,
                env=process.env,
                cwd=str(self.home),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process.starts += 1
        if name.startswith("triggerer-"):
            self._triggerer_jobs.setdefault(name, []).append(
                self._wait_for_new_triggerer_job(name, known_jobs)
            )

    def kill(self, name: ProcessName, sig: int = signal.SIGKILL, *, timeout: float = 30) -> None:
        """Sends ``sig`` (default SIGKILL) to the named process's whole group (a triggerer's
        trigger runner with it) and waits until the process has exited."""
        process = self._processes.get(name)
        if process is None or process.popen is None:
            raise DeploymentError(f"{name} was never started")
        children = self._descendants([process.popen.pid])
        _signal_group(process.popen.pid, sig)
        try:
            process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise DeploymentError(f"{name} did not exit within {timeout:.0f} s of signal {sig}") from error
        if sig == signal.SIGKILL:
            _wait_gone(children, timeout)

    def restart(self, name: ProcessName, sig: int = signal.SIGKILL) -> None:
        """Kills the named process (default SIGKILL) and starts it again."""
        self.kill(name, sig)
        self.start_process(name)

    def is_running(self, name: ProcessName) -> bool:
        process = self._processes.get(name)
        return process is not None and process.running

    def pid(self, name: ProcessName) -> int | None:
        process = self._processes.get(name)
        return process.popen.pid if process and process.running and process.popen else None

    def log_path(self, name: str) -> Path:
        """The log of a process (or of ``db-migrate``)."""
        return self.logs_dir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 40) -> str:
        return _tail(self.log_path(name), lines)

    def diagnostics(self, names: Iterable[str] | None = None, lines: int = 30) -> str:
        """The tails of the scheduler's and triggerers' logs (or the named ones), and which
        processes have exited."""
        names = list(names) if names is not None else ["scheduler", *self.triggerer_names]
        parts = []
        exited = [name for name, process in self._processes.items() if not process.running]
        if exited:
            parts.append(f"exited processes: {', '.join(exited)}")
        for name in names:
            parts.append(f"--- {self.log_path(name)} (last {lines} lines)\n{self.log_tail(name, lines)}")
        return "\n".join(parts)

    def run_cli(self, args: Sequence[str], *, log_name: str | None = None, timeout: float = 120) -> str:
        """Runs ``airflow <args>`` with the deployment's environment; returns its output and
        raises (with the output) when it fails."""
        command = [self.python, "-m", "airflow", *args]
        try:
            result = subprocess.run(
                command,
                env=self.env,
                cwd=str(self.home),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise DeploymentError(
                f"airflow {' '.join(args)} did not finish within {timeout:.0f} s"
            ) from error
        output = result.stdout + result.stderr
        if log_name:
            self.log_path(log_name).write_text(output)
        if result.returncode != 0:
            raise DeploymentError(
                f"airflow {' '.join(args)} exited with {result.returncode}:\n{output[-5000:]}"
            )
        return result.stdout

    def triggers(self) -> list[dict[str, Any]]:
        """Every trigger in the metadata database: ``id``, ``classpath``, ``triggerer_id``
        (the triggerer job running it, None while unassigned) and ``created_date``."""
        rows = self.sql("SELECT id, classpath, triggerer_id, created_date FROM trigger ORDER BY id")
        names = ("id", "classpath", "triggerer_id", "created_date")
        return [dict(zip(names, row)) for row in rows]

    def sql(
        self, statement: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Runs one SQL statement on the metadata database."""
        return self.database.query(statement, params)

    # -- triggerers

    def triggerer_job_id(self, name: ProcessName) -> int:
        """The triggerer job id of the named triggerer's current (latest) start."""
        jobs = self._triggerer_jobs.get(name)
        if not jobs:
            raise DeploymentError(f"{name} has not started a triggerer job")
        return jobs[-1]

    def triggerer_name(self, job_id: int) -> ProcessName | None:
        """Which triggerer process ran (or runs) the triggerer job ``job_id``."""
        for name, jobs in self._triggerer_jobs.items():
            if job_id in jobs:
                return name
        return None

    # -- task processes

    def task_processes(self, ti: TaskInstance) -> TaskProcesses | None:
        """The processes running ``ti``'s current try, if any.

        The task process is the pid the task reported to the API, or else the process whose
        title names the task instance's id (the task runner sets ``airflow worker -- <id>``);
        either must be one of this deployment's processes (its working directory is the
        deployment's home). Its parent is the supervisor, one of the LocalExecutor's worker
        processes."""
        home = str(self.home)
        title = f"{_PROCESS_TITLE_OF_TASK}{ti.id}"
        candidates = [ti.pid] if ti.pid else []
        candidates += [pid for pid in _pids() if _command_line(pid) == title]
        for pid in candidates:
            if _alive(pid) and _cwd(pid) == home and "airflow worker" in _command_line(pid):
                parent = _parent_pid(pid)
                supervisor = parent if parent and "LocalExecutor" in _command_line(parent) else None
                return TaskProcesses(task_pid=pid, supervisor_pid=supervisor)
        return None

    def kill_task_instance(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        map_index: int = -1,
        *,
        target: Literal["task", "supervisor", "both"] = "task",
        timeout: float = 60,
    ) -> TaskProcesses:
        """Waits until the task instance runs, then SIGKILLs its task process (``task``: the
        supervisor sees it die and fails the try), its supervisor (``supervisor``: the try stops
        heartbeating and the scheduler fails it after ``task_instance_heartbeat_timeout``), or
        both. Returns the processes killed."""
        found: list[TaskProcesses] = []

        def probe() -> tuple[bool, str]:
            ti = self.api.task_instance(dag_id, run_id, task_id, map_index)
            processes = self.task_processes(ti) if ti.state == "running" else None
            if processes:
                found[:] = [processes]
            return processes is not None, f"{ti.describe()} pid={ti.pid}"

        self.api.wait_for(f"a process running {dag_id}/{run_id}/{task_id}[{map_index}]", probe, timeout)
        processes = found[0]
        if target in ("supervisor", "both"):
            if processes.supervisor_pid is None:
                raise DeploymentError(f"task process {processes.task_pid} has no LocalExecutor supervisor")
            _signal(processes.supervisor_pid, signal.SIGKILL)
            if target == "supervisor":
                self._orphans.add(processes.task_pid)
        if target in ("task", "both"):
            _signal_group(processes.task_pid, signal.SIGKILL)
            _signal(processes.task_pid, signal.SIGKILL)
        killed = [processes.task_pid] if target != "supervisor" else []
        if processes.supervisor_pid and target != "task":
            killed.append(processes.supervisor_pid)
        _wait_gone(killed, 10)
        return processes

    # -- DAGs

    def wait_for_dags(self, dag_ids: Iterable[str] | None = None, *, timeout: float = WAIT_TIMEOUT) -> None:
        """Waits until the DAG processor has parsed the DAGs: the named ones, or else every
        ``.py`` file of the dags folder that names a DAG. Raises at once on an import error."""
        wanted = set(dag_ids) if dag_ids is not None else None
        files = {path.name for path in self.dags_folder.rglob("*.py") if _looks_like_dag_file(path)}

        def probe() -> tuple[bool, str]:
            errors = self.api.import_errors()
            if errors:
                text = "\n".join(f"{error.get('filename')}:\n{error.get('stack_trace')}" for error in errors)
                raise DeploymentBroken(f"the DAG processor could not import DAG files:\n{text}")
            dags = self.api.dags()
            if wanted is not None:
                missing = sorted(wanted - {dag["dag_id"] for dag in dags})
            else:
                parsed = {
                    Path(str(dag.get("fileloc") or dag.get("relative_fileloc") or "")).name for dag in dags
                }
                missing = sorted(files - parsed)
            return not missing, f"not parsed yet: {missing}"

        try:
            self.api.wait_for("the DAGs to be parsed", probe, timeout)
        except DeploymentTimeout as error:
            raise DeploymentTimeout(f"{error}\n{self.diagnostics(['dag-processor'])}") from None

    # -- internals

    def _remaining(self, started: float) -> float:
        return max(5.0, self.startup_timeout - (time.monotonic() - started))

    def _environment(self, extra: Mapping[str, str]) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        jwt_secret = base64.urlsafe_b64encode(os.urandom(32)).decode()
        settings = {
            **DEFAULT_CONFIG,
            **{
                "core.dags_folder": str(self.dags_folder),
                "core.fernet_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
                "core.execution_api_server_url": f"{self.url}/execution/",
                "core.simple_auth_manager_passwords_file": str(
                    self.home / "simple_auth_manager_passwords.json"
                ),
                "database.sql_alchemy_conn": self.database.url,
                "database.sql_alchemy_conn_async": self.database.async_url,
                "api.base_url": self.url,
                "api.host": "127.0.0.1",
                "api.port": str(self.api_port),
                "api.secret_key": base64.urlsafe_b64encode(os.urandom(16)).decode(),
                "api_auth.jwt_secret": jwt_secret,
                "logging.base_log_folder": str(self.home / "logs"),
                "logging.worker_log_server_port": str(free_port()),
                "logging.trigger_log_server_port": str(free_port()),
                "dag_processor.dag_bundle_storage_path": str(self.home / "bundles"),
            },
            # What the caller configured wins.
            **self.config,
        }
        for key, value in settings.items():
            section, _, option = key.partition(".")
            if not option:
                raise ValueError(f"config keys are section.key, not {key!r}")
            env[f"AIRFLOW__{section.upper()}__{option.upper()}"] = value
        env["AIRFLOW_HOME"] = str(self.home)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [*self.pythonpath, os.environ.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        env["COLUMNS"] = "400"
        env.update(extra)
        return env

    def _define(self, name: ProcessName) -> _Process:
        airflow = [self.python, "-m", "airflow"]
        env = dict(self.env)
        if name == "api-server":
            command = [*airflow, "api-server", "--host", "127.0.0.1", "--port", str(self.api_port)]
            command += ["--workers", str(self.api_workers)]
        elif name in ("scheduler", "dag-processor"):
            command = [*airflow, name]
        elif name in self.triggerer_names:
            command = [*airflow, "triggerer"]
            if name != "triggerer-1":
                # Each triggerer serves its trigger logs on a port of its own.
                env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
        else:
            raise DeploymentError(f"no such process: {name} (known: {', '.join(self.process_names)})")
        process = _Process(name=name, command=command, env=env, log_path=self.log_path(name))
        self._processes[name] = process
        return process

    def _check_processes(self) -> None:
        for name, process in self._processes.items():
            if process.popen is not None and process.popen.poll() is not None:
                raise DeploymentBroken(
                    f"{name} exited with {process.popen.returncode}:\n{self.log_tail(name, 60)}"
                )

    def _triggerer_job_ids(self) -> set[int]:
        rows = self.sql("SELECT id FROM job WHERE job_type = 'TriggererJob'")
        return {int(row[0]) for row in rows}

    def _wait_for_new_triggerer_job(self, name: ProcessName, known: set[int]) -> int:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            process = self._processes[name]
            if not process.running:
                raise DeploymentBroken(f"{name} exited at start-up:\n{self.log_tail(name, 60)}")
            new = sorted(self._triggerer_job_ids() - known)
            if len(new) > 1:
                raise DeploymentError(f"more than one new triggerer job while starting {name}: {new}")
            if new:
                return new[0]
            time.sleep(0.2)
        raise DeploymentTimeout(f"{name} started no triggerer job within 120 s:\n{self.log_tail(name, 60)}")

    def _wait_for_api(self) -> None:
        def probe() -> tuple[bool, str]:
            self._check_processes()
            try:
                reply = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5)
            except requests.RequestException as error:
                return False, f"api-server not answering: {error.__class__.__name__}"
            return reply.ok, f"health answered {reply.status_code}"

        self._wait_at_start_up("the api-server to answer", probe, ["api-server"])
        self.api.token()

    def _wait_for_health(self) -> None:
        def probe() -> tuple[bool, str]:
            self._check_processes()
            health = self.api.health()
            components = ["metadatabase", "scheduler", "dag_processor"]
            if self.triggerer_count:
                components.append("triggerer")
            statuses = {name: (health.get(name) or {}).get("status") for name in components}
            return all(status == "healthy" for status in statuses.values()), json.dumps(statuses)

        self._wait_at_start_up("every component to be healthy", probe, self.process_names)

    def _wait_at_start_up(self, what: str, probe: Callable[[], tuple[bool, str]], logs: list[str]) -> None:
        try:
            self.api.wait_for(what, probe, self.startup_timeout)
        except DeploymentTimeout as error:
            raise DeploymentTimeout(f"{error}\n{self.diagnostics(logs)}") from None

    @staticmethod
    def _descendants(roots: Iterable[int]) -> set[int]:
        children: dict[int, list[int]] = {}
        for pid in _pids():
            parent = _parent_pid(pid)
            if parent is not None:
                children.setdefault(parent, []).append(pid)
        found: set[int] = set()
        stack = list(roots)
        while stack:
            pid = stack.pop()
            for child in children.get(pid, []):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found


def _looks_like_dag_file(path: Path) -> bool:
    """Airflow's safe mode: a file is parsed only if it mentions both ``airflow`` and ``dag``."""
    if path.name.startswith(("_", ".")):
        return False
    try:
        text = path.read_text(errors="replace").lower()
    except OSError:
        return False
    return "airflow" in text and "dag" in text


def write_dags(folder: Path, files: Mapping[str, str]) -> Path:
    """Writes DAG files (name to source) into ``folder`` and returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        (folder / name).write_text(source)
    return folder
