"""Jobs, job instances and their clock-driven lifecycle, for the SchedulerX emulator.

Nothing runs in the background: an instance records when it was created (and any manual
stop, retry or set-success), and its status, times, progress and log lines are derived from
the clock whenever someone reads them. This module knows nothing about HTTP.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_schedulerx.models import InstanceStatus, TriggerType

__all__ = [
    "BusinessError",
    "EmulatorState",
    "InstanceState",
    "InstanceView",
    "JobSpec",
    "NamespaceSpec",
    "load_jobs_file",
]

DEFAULT_WAIT_SECONDS = 0.5
DEFAULT_RUN_SECONDS = 2.0
FIRST_INSTANCE_ID = 1_000_000_000_001
DEFAULT_WORK_ADDR = "127.0.0.1:16888"
EXECUTOR = "openapi"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_LOG_LINES = 200

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


class BusinessError(Exception):
    """A refusal the service reports with HTTP 200 and ``Success: false``.

    :param code: the body's integer ``Code`` (400, 404, 500...).
    :param message: the body's ``Message``.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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


@dataclass
class _Mark:
    """A manual change of status (stop or set-success) at a point in time."""

    at: float
    status: InstanceStatus
    result: str | None


@dataclass
class _Attempt:
    """One run of an instance: the first from ExecuteJob, more from RetryJobInstance."""

    started_at: float
    wait: float
    run: float
    outcome: InstanceStatus
    result: str
    trigger_type: TriggerType
    marks: list[_Mark] = field(default_factory=list)

    def natural_events(self) -> list[tuple[float, InstanceStatus]]:
        events = [(self.started_at, InstanceStatus.WAITING)]
        run_at = self.started_at + self.wait
        if self.outcome is InstanceStatus.REJECTED:
            events.append((run_at, InstanceStatus.REJECTED))
        else:
            events.append((run_at, InstanceStatus.RUNNING))
            events.append((run_at + self.run, self.outcome))
        return events

    def events(self, now: float) -> list[tuple[float, InstanceStatus]]:
        natural = self.natural_events()
        if self.marks:
            first = self.marks[0].at
            natural = [e for e in natural if e[0] < first or e == natural[0]]
            natural += [(m.at, m.status) for m in self.marks]
        return [e for e in natural if e[0] <= now]


@dataclass(frozen=True)
class InstanceView:
    """What an instance looks like at one moment."""

    status: InstanceStatus
    start_time: float | None
    end_time: float | None
    progress: str
    result: str
    work_addr: str
    trigger_type: TriggerType


@dataclass
class InstanceState:
    """A job instance: its fixed facts, and the attempts from which its status is derived."""

    instance_id: int
    job: JobSpec
    namespace: str
    group_id: str
    created_at: float
    parameters: str
    trace_id: str
    work_addr: str
    attempts: list[_Attempt]
    designate_type: int | None = None
    label: str | None = None

    @property
    def job_id(self) -> int:
        return self.job.job_id

    def view(self, now: float) -> InstanceView:
        """The instance as of ``now`` (epoch seconds).

        :param now: the time to look at.
        """
        attempt = self.attempts[-1]
        events = attempt.events(now)
        status = events[-1][1]
        start = next((t for t, s in events if s is InstanceStatus.RUNNING), None)
        end = next((t for t, s in events if s in FINAL), None)
        result = ""
        if status in FINAL:
            result = attempt.result
            for mark in attempt.marks:
                if mark.at <= now and mark.result is not None:
                    result = mark.result
        return InstanceView(
            status=status,
            start_time=start,
            end_time=end,
            progress=self._progress(attempt, status, start, end, now),
            result=result,
            work_addr=self.work_addr if start is not None else "",
            trigger_type=attempt.trigger_type,
        )

    def _progress(
        self,
        attempt: _Attempt,
        status: InstanceStatus,
        start: float | None,
        end: float | None,
        now: float,
    ) -> str:
        if start is None:
            return ""
        if status is InstanceStatus.RUNNING and self.job.progress is not None:
            return self.job.progress
        if status is InstanceStatus.SUCCESS:
            return "100%"
        until = now if end is None else end
        fraction = 1.0 if attempt.run <= 0 else min(1.0, (until - start) / attempt.run)
        return f"{int(fraction * 100)}%"

    def history(self, now: float) -> list[tuple[float, InstanceStatus]]:
        """Every status change so far, across attempts, oldest first.

        :param now: the time to look at.
        """
        result: list[tuple[float, InstanceStatus]] = []
        for attempt in self.attempts:
            result.extend(attempt.events(now))
        return result

    def log_lines(self, now: float) -> list[tuple[float, str]]:
        """The log lines emitted so far, with the time each was emitted, oldest first.

        :param now: the time to look at.
        """
        emitted: list[tuple[float, str]] = []
        for attempt in self.attempts:
            if attempt.outcome is InstanceStatus.REJECTED:
                continue
            lines = self.job.logs if self.job.logs is not None else self._default_logs(attempt)
            run_at = attempt.started_at + attempt.wait
            cut = attempt.marks[0].at if attempt.marks else float("inf")
            step = attempt.run / len(lines) if lines else 0.0
            for index, line in enumerate(lines):
                at = run_at + index * step
                if at <= now and at < cut:
                    emitted.append((at, line))
        return emitted

    def _default_logs(self, attempt: _Attempt) -> list[str]:
        return [
            f"INFO start job {self.job.name} (jobId={self.job_id}), instance {self.instance_id}",
            f"INFO instance {self.instance_id} running on {self.work_addr}",
            f"INFO instance {self.instance_id} finished: {attempt.result}",
        ]


def load_jobs_file(path: str | Path) -> tuple[list[NamespaceSpec], list[JobSpec]]:
    """Read a jobs file: a JSON list of jobs, or ``{"namespaces": [...], "jobs": [...]}``.

    :param path: the file.
    :raises ValueError: when the file is not valid JSON or not of that shape.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    if isinstance(data, list):
        data = {"jobs": data}
    if not isinstance(data, dict) or not set(data) <= {"namespaces", "jobs"}:
        raise ValueError(
            f'{path}: expected a list of jobs or {{"namespaces": [...], "jobs": [...]}}',
        )
    try:
        namespaces = [NamespaceSpec.from_dict(item) for item in data.get("namespaces", [])]
        jobs = [JobSpec.from_dict(item) for item in data.get("jobs", [])]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return namespaces, jobs


class EmulatorState:
    """Namespaces, jobs and instances, guarded by one lock (the server thread and the
    test thread both use it).

    :param namespace: the default namespace.
    :param group_id: the default application group (in that namespace).
    :param strict_jobs: refuse unknown job ids instead of creating a default job.
    :param timezone: zone of the wall-clock time strings.
    :param clock: epoch-seconds clock.
    """

    def __init__(
        self,
        namespace: str,
        group_id: str,
        *,
        strict_jobs: bool = False,
        timezone: str = "Asia/Shanghai",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.default_namespace = namespace
        self.default_group = group_id
        self.strict_jobs = strict_jobs
        self.tz = ZoneInfo(timezone)
        self.clock = clock
        self._lock = threading.RLock()
        self._namespaces: dict[str, NamespaceSpec] = {}
        self._jobs: dict[int, JobSpec] = {}
        self._instances: dict[int, InstanceState] = {}
        self._by_job: dict[int, list[InstanceState]] = {}
        self._next_id = FIRST_INSTANCE_ID
        self._format_second = functools.lru_cache(maxsize=1024)(self._format_uncached)
        self.add_namespace(NamespaceSpec(namespace, {group_id}))

    # -- set-up ---------------------------------------------------------------------

    def add_namespace(self, spec: NamespaceSpec) -> None:
        """Declare a namespace (merging its groups with an existing one of that name)."""
        with self._lock:
            existing = self._namespaces.get(spec.namespace)
            if existing is None:
                self._namespaces[spec.namespace] = replace(spec, groups=set(spec.groups))
            else:
                existing.groups |= spec.groups
                existing.description = spec.description or existing.description
                existing.name = spec.name or existing.name

    def add_job(self, spec: JobSpec) -> JobSpec:
        """Add or replace a job; its namespace and group are declared if new.

        :param spec: the job.
        """
        with self._lock:
            spec.namespace = spec.namespace or self.default_namespace
            spec.group_id = spec.group_id or self.default_group
            self.add_namespace(NamespaceSpec(spec.namespace, {spec.group_id}))
            self._jobs[spec.job_id] = spec
            return spec

    # -- look-ups -------------------------------------------------------------------

    def namespaces(self) -> list[NamespaceSpec]:
        with self._lock:
            return list(self._namespaces.values())

    def check_group(self, namespace: str, group_id: str | None) -> None:
        """Raise a business error unless the namespace (and group) exist."""
        with self._lock:
            ns = self._namespaces.get(namespace)
            if ns is None:
                raise BusinessError(404, f"namespace={namespace} not exist")
            if group_id is not None and group_id not in ns.groups:
                raise BusinessError(404, f"groupId={group_id} not exist in namespace={namespace}")

    def job(self, namespace: str, group_id: str, job_id: int) -> JobSpec:
        """The job, created with defaults on first use unless jobs are strict.

        :raises BusinessError: unknown namespace or group, a job of another group, or an
            unknown job with strict jobs.
        """
        with self._lock:
            self.check_group(namespace, group_id)
            spec = self._jobs.get(job_id)
            if spec is None:
                if self.strict_jobs:
                    raise BusinessError(404, f"jobid: {job_id} not exist")
                spec = self.add_job(JobSpec(job_id, namespace=namespace, group_id=group_id))
            if spec.namespace != namespace or spec.group_id != group_id:
                raise BusinessError(500, f"jobid: {job_id} not match groupId: {group_id}")
            return spec

    def job_by_name(self, namespace: str, group_id: str, name: str) -> JobSpec:
        with self._lock:
            self.check_group(namespace, group_id)
            for spec in self._jobs.values():
                if spec.name == name and (spec.namespace, spec.group_id) == (namespace, group_id):
                    return spec
            raise BusinessError(404, f"jobName: {name} not exist")

    def jobs(self, namespace: str, group_id: str) -> list[JobSpec]:
        with self._lock:
            self.check_group(namespace, group_id)
            return [
                spec
                for spec in self._jobs.values()
                if (spec.namespace, spec.group_id) == (namespace, group_id)
            ]

    def instance(self, instance_id: int) -> InstanceState | None:
        with self._lock:
            return self._instances.get(instance_id)

    def job_instance(self, job: JobSpec, instance_id: int) -> InstanceState:
        """The instance of that job.

        :raises BusinessError: if there is none.
        """
        with self._lock:
            inst = self._instances.get(instance_id)
            if inst is None or inst.job_id != job.job_id:
                raise BusinessError(
                    404,
                    f"jobInstanceId={instance_id} not exist, jobId={job.job_id}",
                )
            return inst

    def instances_of(self, job_id: int) -> list[InstanceState]:
        with self._lock:
            return list(self._by_job.get(job_id, ()))

    def group_instances(self, namespace: str, group_id: str) -> list[InstanceState]:
        with self._lock:
            return [
                inst
                for inst in self._instances.values()
                if (inst.namespace, inst.group_id) == (namespace, group_id)
            ]

    # -- changes --------------------------------------------------------------------

    def execute(
        self,
        job: JobSpec,
        *,
        parameters: str = "",
        check_job_status: bool = False,
        worker: str | None = None,
        label: str | None = None,
        designate_type: int | None = None,
    ) -> InstanceState:
        """Start an instance of the job (TriggerType API) and return it.

        :raises BusinessError: the job is disabled and ``check_job_status`` is set.
        """
        with self._lock:
            if check_job_status and not job.enabled:
                raise BusinessError(500, f"jobId={job.job_id} is disabled")
            now = self.clock()
            outcome = job.outcome_status(retried=False)
            result = job.result if job.result is not None else DEFAULT_RESULTS.get(outcome, "")
            wait = job.wait_seconds
            if job.max_concurrency is not None and self._active(job, now) >= job.max_concurrency:
                outcome, wait = InstanceStatus.REJECTED, 0.0
                result = f"job instance rejected: exceed max concurrency {job.max_concurrency}"
            attempt = _Attempt(now, wait, job.run_seconds, outcome, result, TriggerType.API)
            inst = InstanceState(
                instance_id=self._next_id,
                job=job,
                namespace=job.namespace or self.default_namespace,
                group_id=job.group_id or self.default_group,
                created_at=now,
                parameters=parameters,
                trace_id=uuid.uuid4().hex[:30],
                work_addr=worker or job.work_addr,
                attempts=[attempt],
                designate_type=designate_type,
                label=label,
            )
            self._next_id += 1
            self._instances[inst.instance_id] = inst
            self._by_job.setdefault(job.job_id, []).append(inst)
            return inst

    def _active(self, job: JobSpec, now: float) -> int:
        return sum(
            1
            for inst in self._by_job.get(job.job_id, ())
            if inst.view(now).status in (InstanceStatus.WAITING, InstanceStatus.RUNNING)
        )

    def stop(self, inst: InstanceState) -> None:
        """Kill a waiting or running instance.

        :raises BusinessError: it is not waiting or running.
        """
        with self._lock:
            now = self.clock()
            status = inst.view(now).status
            if status not in (InstanceStatus.WAITING, InstanceStatus.RUNNING):
                raise BusinessError(
                    400,
                    f"instance is not running, jobInstanceId={inst.instance_id}",
                )
            inst.attempts[-1].marks.append(_Mark(now, InstanceStatus.KILLED, KILLED_BY_USER))

    def retry(self, inst: InstanceState) -> None:
        """Run a failed, killed, rejected or partially failed instance again.

        :raises BusinessError: it is in another status.
        """
        with self._lock:
            now = self.clock()
            status = inst.view(now).status
            if status not in RETRYABLE:
                raise BusinessError(
                    400,
                    f"jobInstanceId={inst.instance_id} status is {status.label}, "
                    "only a failed, killed or rejected instance can be retried",
                )
            job = inst.job
            outcome = job.outcome_status(retried=True)
            result = job.result if job.result is not None else DEFAULT_RESULTS.get(outcome, "")
            inst.attempts.append(
                _Attempt(
                    now,
                    job.wait_seconds,
                    job.run_seconds,
                    outcome,
                    result,
                    TriggerType.MANUAL_RERUN,
                )
            )

    def set_success(self, inst: InstanceState) -> None:
        """Mark a finished, unsuccessful instance as successful.

        :raises BusinessError: it is not finished, or already successful.
        """
        with self._lock:
            now = self.clock()
            status = inst.view(now).status
            if status not in RETRYABLE:
                raise BusinessError(
                    400,
                    f"jobInstanceId={inst.instance_id} status is {status.label}, "
                    "only a finished, unsuccessful instance can be set to success",
                )
            inst.attempts[-1].marks.append(_Mark(now, InstanceStatus.SUCCESS, None))

    # -- rendering ------------------------------------------------------------------

    def format_time(self, epoch: float | None) -> str:
        """``yyyy-MM-dd HH:mm:ss`` in the service's zone; empty when unset."""
        if epoch is None:
            return ""
        return self._format_second(int(epoch))

    def _format_uncached(self, second: int) -> str:
        return datetime.fromtimestamp(second, self.tz).strftime(TIME_FORMAT)

    def detail(self, inst: InstanceState, *, full: bool = True) -> dict[str, Any]:
        """The ``JobInstanceDetail`` of an instance (list items leave out ``JobName``,
        ``Parameters`` and ``TraceId``).

        :param inst: the instance.
        :param full: include the fields only ``GetJobInstance`` shows.
        """
        with self._lock:
            view = inst.view(self.clock())
        created = self.format_time(inst.created_at)
        detail: dict[str, Any] = {
            "DataTime": created,
            "EndTime": self.format_time(view.end_time),
            "Executor": EXECUTOR,
            "InstanceId": inst.instance_id,
            "JobId": inst.job_id,
            "Progress": view.progress,
            "Result": view.result,
            "ScheduleTime": created,
            "StartTime": self.format_time(view.start_time),
            "Status": int(view.status),
            "TimeType": inst.job.time_type,
            "TriggerType": int(view.trigger_type),
            "WorkAddr": view.work_addr,
        }
        if full:
            detail["JobName"] = inst.job.name
            detail["Parameters"] = inst.parameters
            detail["TraceId"] = inst.trace_id
        return detail

    def job_config(self, spec: JobSpec) -> dict[str, Any]:
        """The ``JobConfigInfo`` of a job."""
        return {
            "AttemptInterval": 30,
            "ClassName": spec.class_name if spec.job_type == "java" else "",
            "Content": spec.content,
            "Description": spec.description,
            "ExecuteMode": spec.execute_mode,
            "JarUrl": "",
            "JobId": spec.job_id,
            "JobType": spec.job_type,
            "MaxAttempt": 0,
            "MaxConcurrency": str(spec.max_concurrency or 1),
            "Name": spec.name,
            "Parameters": spec.parameters,
            "Status": 1 if spec.enabled else 0,
            "XAttrs": "",
            "TimeConfig": {
                "Calendar": "",
                "DataOffset": 0,
                "TimeExpression": spec.time_expression,
                "TimeType": spec.time_type,
            },
            "JobMonitorInfo": {
                "ContactInfo": [],
                "MonitorConfig": {
                    "FailEnable": False,
                    "MissWorkerEnable": False,
                    "SendChannel": "",
                    "Timeout": 7200,
                    "TimeoutEnable": False,
                    "TimeoutKillEnable": False,
                },
            },
            "MapTaskXAttrs": {
                "ConsumerSize": 5,
                "DispatcherSize": 5,
                "PageSize": 100,
                "QueueSize": 10000,
                "TaskAttemptInterval": 1,
                "TaskMaxAttempt": 0,
            },
        }

    def logs(
        self,
        inst: InstanceState,
        *,
        line: int = MAX_LOG_LINES,
        offset: int = 0,
        reverse: bool = True,
        keyword: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:
        """Log lines emitted so far, filtered, ordered and paged like ``GetLog``."""
        with self._lock:
            emitted = inst.log_lines(self.clock())
        lines = [
            text
            for at, text in emitted
            if (not keyword or keyword in text)
            and (start_ms is None or at * 1000 >= start_ms)
            and (end_ms is None or at * 1000 <= end_ms)
        ]
        if reverse:
            lines.reverse()
        count = max(0, min(line, MAX_LOG_LINES))
        return lines[offset : offset + count]
