"""A DAG file that uses the operators and sensor imports neither HTTP library, nor the
client, nor OpenLineage: those load when a task or trigger runs, not on every parse."""

from __future__ import annotations

import json
import subprocess
import sys

# What any DAG file imports first: the Task SDK, or on Airflow 2 the operator and sensor
# bases that the provider's compat module takes from there.
PROBE = """
import json, sys
try:
    import airflow.sdk
except ImportError:
    import airflow.models.baseoperator, airflow.models.baseoperatorlink, airflow.sensors.base
before = set(sys.modules)
import airflow_provider_schedulerx.operators.schedulerx
import airflow_provider_schedulerx.operators.workflows
import airflow_provider_schedulerx.sensors.schedulerx
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_importing_the_operators_and_sensor_loads_no_http_library_or_client():
    added = json.loads(
        subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True, text=True).stdout
    )
    assert "airflow_provider_schedulerx.sensors.schedulerx" in added
    heavy = {"requests", "aiohttp", "urllib3", "openlineage", "airflow.providers.openlineage"} | {
        f"airflow_provider_schedulerx.{name}"
        for name in ("client", "models", "hooks.schedulerx", "triggers.schedulerx", "utils.openlineage")
    }
    assert not heavy & set(added), sorted(heavy & set(added))
