"""One fresh interpreter's DAG-parse measurement of one candidate, printed as JSON.

Imports ``airflow.sdk`` first (every DAG file pays for it anyway), then times the
candidate's modules and the construction of a 100-task DAG, and says whether ``requests``
or ``aiohttp`` got imported on the way.

    python -m benchmarks.parse_probe schedulerx
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TASKS_PER_DAG = 100
HTTP_LIBRARIES = ("requests", "aiohttp")
#: Written to stderr once ``airflow.sdk`` is in, to split ``-X importtime`` output there.
SDK_IMPORTED_MARK = "-- airflow.sdk imported --"


@dataclass(frozen=True)
class Candidate:
    """What a DAG file using a provider imports, and how it makes one task."""

    modules: tuple[str, ...]
    make_task: Callable[[int], Any]


def _schedulerx_task(index: int) -> Any:
    from airflow_provider_schedulerx.operators.schedulerx import SchedulerXExecuteJobOperator
    from airflow_provider_schedulerx.sensors.schedulerx import SchedulerXJobInstanceSensor

    if index % 2 == 0:
        return SchedulerXExecuteJobOperator(task_id=f"start_{index}", job_id=1000 + index, deferrable=True)
    return SchedulerXJobInstanceSensor(
        task_id=f"wait_{index}",
        job_id=1000 + index,
        job_instance_id=f"{{{{ ti.xcom_pull('start_{index - 1}') }}}}",
        deferrable=True,
    )


def _dbt_cloud_sensor(index: int) -> Any:
    from airflow.providers.dbt.cloud.sensors.dbt import DbtCloudJobRunSensor

    return DbtCloudJobRunSensor(task_id=f"wait_{index}", run_id=1000 + index, deferrable=True)


def _airbyte_sensor(index: int) -> Any:
    from airflow.providers.airbyte.sensors.airbyte import AirbyteJobSensor

    return AirbyteJobSensor(task_id=f"wait_{index}", airbyte_job_id=1000 + index, deferrable=True)


def _empty_task(index: int) -> Any:
    from airflow.providers.standard.operators.empty import EmptyOperator

    return EmptyOperator(task_id=f"task_{index}")


CANDIDATES = {
    # The sensor first (like for like with the other providers), then the operators.
    "schedulerx": Candidate(
        (
            "airflow_provider_schedulerx.sensors.schedulerx",
            "airflow_provider_schedulerx.operators.schedulerx",
        ),
        _schedulerx_task,
    ),
    "dbt-cloud-sensor": Candidate(("airflow.providers.dbt.cloud.sensors.dbt",), _dbt_cloud_sensor),
    "airbyte-sensor": Candidate(("airflow.providers.airbyte.sensors.airbyte",), _airbyte_sensor),
}
#: The floor of task construction, Airflow's own do-nothing operator, built after the
#: candidate in the same interpreter (so with warmer caches than the candidate had).
FLOOR = Candidate(("airflow.providers.standard.operators.empty",), _empty_task)


def _import_ms(candidate: Candidate) -> tuple[list[float], float]:
    """Milliseconds to import each of the candidate's modules, in order, and the CPU
    milliseconds of all of them (the same but for time spent descheduled)."""
    times = []
    cpu = time.process_time()
    for module in candidate.modules:
        started = time.perf_counter()
        # ``__import__`` rather than ``importlib``: only the former shows in ``-X importtime``.
        __import__(module)
        times.append((time.perf_counter() - started) * 1000)
    return times, (time.process_time() - cpu) * 1000


def _construct_ms_per_task(sdk: Any, name: str, candidate: Candidate) -> float:
    started = time.perf_counter()
    with sdk.DAG(f"parse_cost_{name}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
        for index in range(TASKS_PER_DAG):
            candidate.make_task(index)
    return (time.perf_counter() - started) * 1000 / TASKS_PER_DAG


def measure(name: str) -> dict[str, Any]:
    candidate = CANDIDATES[name]
    started = time.perf_counter()
    __import__("airflow.sdk")
    sdk = sys.modules["airflow.sdk"]
    sdk_import_ms = (time.perf_counter() - started) * 1000
    print(SDK_IMPORTED_MARK, file=sys.stderr, flush=True)
    import_ms, import_cpu_ms = _import_ms(candidate)
    http_at_import = [lib for lib in HTTP_LIBRARIES if lib in sys.modules]
    construct_ms = _construct_ms_per_task(sdk, name, candidate)
    http_after_dag = [lib for lib in HTTP_LIBRARIES if lib in sys.modules]
    _import_ms(FLOOR)
    return {
        "candidate": name,
        "sdk_import_ms": sdk_import_ms,
        "import_ms": sum(import_ms),
        "import_cpu_ms": import_cpu_ms,
        "first_module_import_ms": import_ms[0],
        "construct_ms_per_task": construct_ms,
        "floor_construct_ms_per_task": _construct_ms_per_task(sdk, "floor", FLOOR),
        "http_libraries_at_import": http_at_import,
        "http_libraries_after_dag": http_after_dag,
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1])))
