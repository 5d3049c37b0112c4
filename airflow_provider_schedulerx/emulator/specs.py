"""What the emulator is told to know: namespaces, and jobs with how their instances behave
(from the Python API or a jobs file)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from airflow_provider_schedulerx.emulator.schedules import ScheduleSpec
from airflow_provider_schedulerx.emulator.workflows import WorkflowSpec
from airflow_provider_schedulerx.models import InstanceStatus

__all__ = ["JobSpec", "NamespaceSpec", "load_jobs_file"]

DEFAULT_WAIT_SECONDS = 0.5
DEFAULT_RUN_SECONDS = 2.0
DEFAULT_WORK_ADDR = "127.0.0.1:16888"


OUTCOMES: dict[str, InstanceStatus] = {
    "success": InstanceStatus.SUCCESS,
    "failed": InstanceStatus.FAILED,
    "rejected": InstanceStatus.REJECTED,
    "partial_failed": InstanceStatus.PARTIAL_FAILED,
    "killed": InstanceStatus.KILLED,
}

DEFAULT_RESULTS: dict[InstanceStatus, str] = {
    InstanceStatus.SUCCESS: "success",
    InstanceStatus.FAILED: "java.lang.RuntimeException: job failed (emulated)",
    InstanceStatus.REJECTED: "job instance rejected: no available worker (emulated)",
    InstanceStatus.PARTIAL_FAILED: "partial failed: 1 of 3 sub-tasks failed (emulated)",
    InstanceStatus.KILLED: "killed (emulated)",
}

KILLED_BY_USER = "killed by user"

RETRYABLE = frozenset(
    {
        InstanceStatus.FAILED,
        InstanceStatus.KILLED,
        InstanceStatus.REJECTED,
        InstanceStatus.PARTIAL_FAILED,
    }
)

FINAL = frozenset({*RETRYABLE, InstanceStatus.SUCCESS})


@dataclass
class JobSpec:
    """A job the emulator knows, and how its instances behave.

    :param job_id: the SchedulerX job id.
    :param name: job name (default ``job-<id>``).
    :param namespace: namespace of the job (default: the emulator's).
    :param group_id: application group of the job (default: the emulator's).
    :param wait_seconds: how long an instance stays WAITING (1).
    :param run_seconds: how long it then stays RUNNING (3).
    :param outcome: ``success``, ``failed``, ``rejected`` (at the end of waiting, without
        running), ``partial_failed`` or ``killed``; or a status number, such as one the
        service may add in future.
    :param result: the instance's ``Result`` once finished (a default per outcome).
    :param logs: log lines an instance emits, spread evenly over its run.
    :param progress: ``Progress`` reported while running (default: a percentage).
    :param enabled: a disabled job refuses ExecuteJob with ``CheckJobStatus=true``.
    :param max_concurrency: instances allowed to wait or run at once; an instance over the
        limit is rejected at once. ``None`` means no limit.
    :param retry_outcome: outcome of attempts started by RetryJobInstance (default: outcome).
    :param description: job description.
    :param job_type: ``java``, ``python``, ``shell``, ``golang``, ``http``...
    :param execute_mode: ``standalone``, ``broadcast``, ``parallel``, ``grid``, ``batch``,
        ``sharding``.
    :param class_name: the Java processor class (java jobs).
    :param content: the script (script jobs).
    :param parameters: the job's default parameters.
    :param time_type: 1 cron, 3 fix_rate, 4 second_delay, 5 one_time, 100 api.
    :param time_expression: cron expression or interval for the time type.
    :param work_addr: address of the worker that runs the instances.
    :param schedule: the service's own schedule of the job (a fixed rate or a cron
        expression, with a data offset): the job then gets instances of its own over time,
        and its time type and expression follow the schedule. In a jobs file, a mapping
        (``{"fix_rate": 60}``, ``{"cron": "0 0 2 * * ?", "data_offset": 86400}``).
    """

    job_id: int
    name: str | None = None
    namespace: str | None = None
    group_id: str | None = None
    wait_seconds: float = DEFAULT_WAIT_SECONDS
    run_seconds: float = DEFAULT_RUN_SECONDS
    outcome: str | int = "success"
    result: str | None = None
    logs: list[str] | None = None
    progress: str | None = None
    enabled: bool = True
    max_concurrency: int | None = None
    retry_outcome: str | int | None = None
    description: str = ""
    job_type: str = "java"
    execute_mode: str = "standalone"
    class_name: str = "com.example.schedulerx.EmulatedProcessor"
    content: str = ""
    parameters: str = ""
    time_type: int = 100
    time_expression: str = ""
    work_addr: str = DEFAULT_WORK_ADDR
    schedule: ScheduleSpec | None = None

    def __post_init__(self) -> None:
        if isinstance(self.job_id, bool) or int(self.job_id) <= 0:
            raise ValueError(f"job_id must be a positive integer, got {self.job_id!r}")
        self.job_id = int(self.job_id)
        for outcome in (self.outcome, self.retry_outcome):
            if outcome is not None and not _is_status_code(outcome) and outcome not in OUTCOMES:
                raise ValueError(
                    f"job {self.job_id}: outcome {outcome!r} is not one of {sorted(OUTCOMES)} "
                    "or a status number",
                )
        if self.wait_seconds < 0 or self.run_seconds < 0:
            raise ValueError(f"job {self.job_id}: wait_seconds and run_seconds must be >= 0")
        if self.name is None:
            self.name = f"job-{self.job_id}"
        if self.logs is not None:
            self.logs = [str(line) for line in self.logs]
        if isinstance(self.schedule, Mapping):
            self.schedule = ScheduleSpec.from_dict(self.schedule)
        if self.schedule is not None:
            self.time_type = self.schedule.time_type
            self.time_expression = self.schedule.time_expression

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobSpec:
        """Build from a jobs-file entry (the same snake_case keys as the fields).

        :param data: the entry.
        :raises ValueError: on an unknown key or a bad value.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown job field(s) {sorted(unknown)}; known: {sorted(known)}")
        if "job_id" not in data:
            raise ValueError(f"a job needs a job_id: {dict(data)!r}")
        return cls(**dict(data))

    def outcome_status(self, retried: bool) -> InstanceStatus:
        outcome = (self.retry_outcome or self.outcome) if retried else self.outcome
        if isinstance(outcome, int):
            return InstanceStatus(outcome)
        return OUTCOMES[outcome]


def _is_status_code(outcome: object) -> bool:
    """A bare status number: lets a job end in a status the provider does not know yet."""
    return isinstance(outcome, int) and not isinstance(outcome, bool) and outcome >= 0


@dataclass
class NamespaceSpec:
    """A namespace and the application groups in it."""

    namespace: str
    groups: set[str] = field(default_factory=set)
    name: str | None = None
    description: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NamespaceSpec:
        if "namespace" not in data:
            raise ValueError(f"a namespace entry needs a 'namespace' key: {dict(data)!r}")
        return cls(
            namespace=str(data["namespace"]),
            groups={str(g) for g in data.get("groups", [])},
            name=data.get("name"),
            description=str(data.get("description", "")),
        )


def load_jobs_file(path: str | Path) -> tuple[list[NamespaceSpec], list[JobSpec], list[WorkflowSpec]]:
    """Read a jobs file: a JSON list of jobs, or ``{"namespaces": [...], "jobs": [...],
    "workflows": [...]}``.

    :param path: the file.
    :raises ValueError: when the file is not valid JSON or not of that shape.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    if isinstance(data, list):
        data = {"jobs": data}
    if not isinstance(data, dict) or not set(data) <= {"namespaces", "jobs", "workflows"}:
        raise ValueError(
            f'{path}: expected a list of jobs or {{"namespaces": [...], "jobs": [...], "workflows": [...]}}',
        )
    try:
        namespaces = [NamespaceSpec.from_dict(item) for item in data.get("namespaces", [])]
        jobs = [JobSpec.from_dict(item) for item in data.get("jobs", [])]
        workflows = [WorkflowSpec.from_dict(item) for item in data.get("workflows", [])]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return namespaces, jobs, workflows
