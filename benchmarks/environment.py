"""Where the benchmarks run: the repository, a throwaway Airflow home, and the environment
of the processes they start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

#: The emulator's own AccessKey, namespace and group (its defaults).
ACCESS_KEY_ID = "emulator-ak"
ACCESS_KEY_SECRET = "emulator-secret"
NAMESPACE = "demo-namespace"
GROUP_ID = "demo.defaultGroup"
REGION_ID = "cn-hangzhou"


def airflow_home() -> Path:
    """A throwaway Airflow home, made once per run, so that no benchmark reads or writes
    the user's ``~/airflow``."""
    home = os.environ.get("SCHEDULERX_BENCH_AIRFLOW_HOME")
    if not home:
        home = tempfile.mkdtemp(prefix="schedulerx-bench-airflow-")
        os.environ["SCHEDULERX_BENCH_AIRFLOW_HOME"] = home
    return Path(home)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a benchmark's child process: this checkout first on the path,
    the throwaway Airflow home, no example DAGs, bytecode cached."""
    env = dict(os.environ)
    path = [str(REPO), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env.update(
        PYTHONPATH=os.pathsep.join(path),
        AIRFLOW_HOME=str(airflow_home()),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
    )
    # Bytecode is cached, as pip leaves every installed package: otherwise this checkout's
    # modules would be compiled on every import while the baselines' never are.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra)
    return env


def run_module(module: str, *args: str, timeout: float = 600, **env: str) -> str:
    """Run ``python -m module args...`` in a child process and return its stdout."""
    completed = subprocess.run(
        [PYTHON, "-m", module, *args],
        cwd=REPO,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{completed.stderr[-4000:]}")
    return completed.stdout


def connection_json(url: str, **extra: Any) -> str:
    """An Airflow connection to the emulator at ``url`` with its AccessKey, namespace, group
    and region, and ``extra`` in its extras (``AIRFLOW_CONN_<ID>`` JSON)."""
    return json.dumps(
        {
            "conn_type": "schedulerx",
            "login": ACCESS_KEY_ID,
            "password": ACCESS_KEY_SECRET,
            "host": url,
            "extra": {"namespace": NAMESPACE, "group_id": GROUP_ID, "region_id": REGION_ID, **extra},
        }
    )
