"""A local, offline SchedulerX OpenAPI server (with STS) for demos, tests and benchmarks.

It checks V3 and V1 signatures, timestamps and nonces like Alibaba Cloud's gateway, keeps
jobs and job instances whose status follows the clock, throttles calls beyond a rate per
AccessKey (``rate_limit``) and can inject faults::

    from airflow_provider_schedulerx.emulator import Emulator, JobSpec

    with Emulator(jobs=[JobSpec(job_id=101, run_seconds=1.0)]) as emu:
        ...  # call emu.url with AccessKey "emulator-ak" / "emulator-secret"

Command line: ``python -m airflow_provider_schedulerx.emulator --port 8866``.
"""

from airflow_provider_schedulerx.emulator.faults import FAULT_KINDS, FaultRule, Faults
from airflow_provider_schedulerx.emulator.flow_control import FlowControl
from airflow_provider_schedulerx.emulator.identities import DEFAULT_OIDC_PROVIDER_ARN
from airflow_provider_schedulerx.emulator.lifecycle import InstanceState
from airflow_provider_schedulerx.emulator.server import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    DEFAULT_GROUP_ID,
    DEFAULT_NAMESPACE,
    DEFAULT_REGION_ID,
    Emulator,
)
from airflow_provider_schedulerx.emulator.specs import JobSpec, NamespaceSpec
from airflow_provider_schedulerx.emulator.stats import EmulatorStats
from airflow_provider_schedulerx.emulator.workflows import WorkflowSpec

__all__ = [
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCESS_KEY_SECRET",
    "DEFAULT_GROUP_ID",
    "DEFAULT_NAMESPACE",
    "DEFAULT_OIDC_PROVIDER_ARN",
    "DEFAULT_REGION_ID",
    "FAULT_KINDS",
    "Emulator",
    "EmulatorStats",
    "FaultRule",
    "Faults",
    "FlowControl",
    "InstanceState",
    "JobSpec",
    "NamespaceSpec",
    "WorkflowSpec",
]
