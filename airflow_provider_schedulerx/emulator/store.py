"""The emulator's store: namespaces, jobs and instances, and the changes the API makes to
them, guarded by one lock (the server thread and the test thread both use it). This module
knows nothing about HTTP."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from airflow_provider_schedulerx.config import validate_count
from airflow_provider_schedulerx.emulator.errors import ServiceError
from airflow_provider_schedulerx.emulator.lifecycle import Attempt, InstanceState, Mark
from airflow_provider_schedulerx.emulator.specs import (
    DEFAULT_RESULTS,
    FINAL,
    KILLED_BY_USER,
    RETRYABLE,
    JobSpec,
    NamespaceSpec,
)
from airflow_provider_schedulerx.emulator.workflows import WorkflowStore
from airflow_provider_schedulerx.models import InstanceStatus, TriggerType

__all__ = ["EmulatorState", "InstanceState"]

#: The id of the first instance when the clock gives a lower one.
FIRST_INSTANCE_ID = 1_000_000_000_001

#: Finished instances kept by default; older ones are forgotten, as the service does.
DEFAULT_KEEP_INSTANCES = 10_000


class EmulatorState:
    """Namespaces, jobs and instances, guarded by one lock (the server thread and the
    test thread both use it).

    :param namespace: the default namespace.
    :param group_id: the default application group (in that namespace).
    :param strict_jobs: refuse unknown job ids instead of creating a default job.
    :param clock: epoch-seconds clock.
    :param keep_instances: finished instances kept; the oldest beyond it are forgotten.
    :param one_start_per_second: refuse a second ExecuteJob of one job within one second of
        the clock, as the service does (its job id and schedule time are a unique index).

    Instance ids start from the clock (microseconds since the epoch), so that an id never
    names another instance after a restart.
    """

    def __init__(
        self,
        namespace: str,
        group_id: str,
        *,
        strict_jobs: bool = False,
        clock: Callable[[], float] = time.time,
        keep_instances: int = DEFAULT_KEEP_INSTANCES,
        one_start_per_second: bool = True,
    ) -> None:
        self.default_namespace = namespace
        self.default_group = group_id
        self.strict_jobs = strict_jobs
        self.clock = clock
        self.keep_instances = validate_count(keep_instances, "keep_instances", minimum=1)
        self.one_start_per_second = one_start_per_second
        self.lock = threading.RLock()
        self._namespaces: dict[str, NamespaceSpec] = {}
        self._jobs: dict[int, JobSpec] = {}
        self._instances: OrderedDict[int, InstanceState] = OrderedDict()
        self._by_job: dict[int, list[InstanceState]] = {}
        self._next_id = max(FIRST_INSTANCE_ID, int(time.time() * 1_000_000))
        #: For each scheduled job, the time up to which its ticks have fired.
        self._fired_through: dict[int, float] = {}
        self.workflows = WorkflowStore(self)
        self.add_namespace(NamespaceSpec(namespace, {group_id}))

    # -- set-up ---------------------------------------------------------------------

    def add_namespace(self, spec: NamespaceSpec) -> None:
        """Declare a namespace (merging its groups with an existing one of that name)."""
        with self.lock:
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
        with self.lock:
            spec.namespace = spec.namespace or self.default_namespace
            spec.group_id = spec.group_id or self.default_group
            self.add_namespace(NamespaceSpec(spec.namespace, {spec.group_id}))
            self._jobs[spec.job_id] = spec
            if spec.schedule is not None:
                start = spec.schedule.start
                self._fired_through[spec.job_id] = self.clock() if start is None else start - 1
            else:
                self._fired_through.pop(spec.job_id, None)
            return spec

    # -- look-ups -------------------------------------------------------------------

    def namespaces(self) -> list[NamespaceSpec]:
        with self.lock:
            return list(self._namespaces.values())

    def check_group(self, namespace: str, group_id: str | None) -> None:
        """Raise a business error unless the namespace (and group) exist."""
        with self.lock:
            ns = self._namespaces.get(namespace)
            if ns is None:
                raise ServiceError.business(404, f"namespace={namespace} not exist")
            if group_id is not None and group_id not in ns.groups:
                raise ServiceError.business(404, f"groupId={group_id} not exist in namespace={namespace}")

    def job(self, namespace: str, group_id: str, job_id: int) -> JobSpec:
        """The job, created with defaults on first use unless jobs are strict.

        :raises ServiceError: unknown namespace or group, a job of another group, or an
            unknown job with strict jobs.
        """
        with self.lock:
            self.check_group(namespace, group_id)
            spec = self._jobs.get(job_id)
            if spec is None:
                if self.strict_jobs:
                    raise ServiceError.business(404, f"jobid: {job_id} not exist")
                spec = self.add_job(JobSpec(job_id, namespace=namespace, group_id=group_id))
            if spec.namespace != namespace or spec.group_id != group_id:
                raise ServiceError.business(500, f"jobid: {job_id} not match groupId: {group_id}")
            return spec

    def job_by_name(self, namespace: str, group_id: str, name: str) -> JobSpec:
        with self.lock:
            self.check_group(namespace, group_id)
            for spec in self._jobs.values():
                if spec.name == name and (spec.namespace, spec.group_id) == (namespace, group_id):
                    return spec
            raise ServiceError.business(404, f"jobName: {name} not exist")

    def jobs(self, namespace: str, group_id: str) -> list[JobSpec]:
        with self.lock:
            self.check_group(namespace, group_id)
            return [
                spec
                for spec in self._jobs.values()
                if (spec.namespace, spec.group_id) == (namespace, group_id)
            ]

    def instance(self, instance_id: int) -> InstanceState | None:
        with self.lock:
            self.fire_schedules()
            return self._instances.get(instance_id)

    def job_instance(self, job: JobSpec, instance_id: int) -> InstanceState:
        """The instance of that job.

        :raises ServiceError: if there is none.
        """
        with self.lock:
            self.fire_schedules()
            inst = self._instances.get(instance_id)
            if inst is None or inst.job_id != job.job_id:
                raise ServiceError.business(
                    404,
                    f"jobInstanceId={instance_id} not exist, jobId={job.job_id}",
                )
            return inst

    def instances_of(self, job_id: int) -> list[InstanceState]:
        with self.lock:
            self.fire_schedules()
            return list(self._by_job.get(job_id, ()))

    def group_instances(self, namespace: str, group_id: str) -> list[InstanceState]:
        with self.lock:
            self.fire_schedules()
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

        :raises ServiceError: the job is disabled and ``check_job_status`` is set.
        """
        with self.lock:
            if check_job_status and not job.enabled:
                raise ServiceError.business(500, f"jobId={job.job_id} is disabled")
            now = self.clock()
            outcome, result = self._outcome(job)
            wait = job.wait_seconds
            if job.max_concurrency is not None and self._active(job, now) >= job.max_concurrency:
                outcome, wait = InstanceStatus.REJECTED, 0.0
                result = f"job instance rejected: exceed max concurrency {job.max_concurrency}"
            inst = self._add_instance(
                job,
                Attempt(now, wait, job.run_seconds, outcome, result, TriggerType.API),
                created_at=now,
                parameters=parameters,
                work_addr=worker or job.work_addr,
                designate_type=designate_type,
                label=label,
            )
            self._forget_old(now)
            return inst

    def fire_schedules(self) -> None:
        """Create the instances that scheduled jobs have had up to now, as the service
        would have started them at each tick (nothing runs in the background: the ticks
        since the last look are caught up on each look)."""
        with self.lock:
            if not self._fired_through:
                return
            now = self.clock()
            for job_id, through in list(self._fired_through.items()):
                job = self._jobs[job_id]
                assert job.schedule is not None
                ticks = list(job.schedule.ticks(through, now))[-self.keep_instances :]
                outcome, result = self._outcome(job)
                for tick in ticks:
                    self._add_instance(
                        job,
                        Attempt(
                            tick, job.wait_seconds, job.run_seconds, outcome, result, TriggerType.SCHEDULED
                        ),
                        created_at=tick,
                        parameters=job.parameters,
                        schedule_time=tick,
                        data_time=tick - job.schedule.data_offset,
                    )
                self._fired_through[job_id] = now
            self._forget_old(now)

    def start_node(self, job: JobSpec, at: float, parameters: str) -> InstanceState:
        """Start an instance of ``job`` at ``at`` as a node of a workflow instance."""
        with self.lock:
            outcome, result = self._outcome(job)
            inst = self._add_instance(
                job,
                Attempt(at, job.wait_seconds, job.run_seconds, outcome, result, TriggerType.API),
                created_at=at,
                parameters=parameters,
            )
            self._forget_old(self.clock())
            return inst

    def new_id(self) -> int:
        """A new instance id (of a job or a workflow instance)."""
        with self.lock:
            self._next_id += 1
            return self._next_id - 1

    def _outcome(self, job: JobSpec) -> tuple[InstanceStatus, str]:
        outcome = job.outcome_status(retried=False)
        return outcome, job.result if job.result is not None else DEFAULT_RESULTS.get(outcome, "")

    def _add_instance(self, job: JobSpec, attempt: Attempt, **facts: Any) -> InstanceState:
        inst = InstanceState(
            instance_id=self.new_id(),
            job=job,
            namespace=job.namespace or self.default_namespace,
            group_id=job.group_id or self.default_group,
            trace_id=uuid.uuid4().hex[:30],
            attempts=[attempt],
            **{"work_addr": job.work_addr, **facts},
        )
        self._instances[inst.instance_id] = inst
        self._by_job.setdefault(job.job_id, []).append(inst)
        return inst

    def _forget_old(self, now: float) -> None:
        """Forget the oldest finished instances beyond ``keep_instances``; an instance still
        waiting or running is kept whatever its age."""
        excess = len(self._instances) - self.keep_instances
        if excess <= 0:
            return
        for instance_id, inst in list(self._instances.items()):
            if excess <= 0:
                break
            if inst.view(now).status in FINAL:
                del self._instances[instance_id]
                self._by_job[inst.job_id].remove(inst)
                excess -= 1

    def check_start_second(self, job: JobSpec) -> None:
        """Refuse a start of ``job`` in a second of the clock that already has one, as the
        service does (its job id and schedule time are a unique index).

        :raises ServiceError: the job already has an instance scheduled in this second.
        """
        if not self.one_start_per_second:
            return
        with self.lock:
            second = int(self.clock())
            if any(int(inst.created_at) == second for inst in self._by_job.get(job.job_id, ())[-8:]):
                raise ServiceError.business(
                    500,
                    f"jobId={job.job_id} already has an instance scheduled at this second: "
                    "ExecuteJob takes one instance of a job per second",
                )

    def _active(self, job: JobSpec, now: float) -> int:
        return sum(
            1
            for inst in self._by_job.get(job.job_id, ())
            if inst.view(now).status in (InstanceStatus.WAITING, InstanceStatus.RUNNING)
        )

    def stop(self, inst: InstanceState) -> None:
        """Kill a waiting or running instance.

        :raises ServiceError: it is not waiting or running.
        """
        with self.lock:
            now = self.clock()
            status = inst.view(now).status
            if status not in (InstanceStatus.WAITING, InstanceStatus.RUNNING):
                raise ServiceError.business(
                    400,
                    f"instance is not running, jobInstanceId={inst.instance_id}",
                )
            inst.attempts[-1].marks.append(Mark(now, InstanceStatus.KILLED, KILLED_BY_USER))

    def retry(self, inst: InstanceState) -> None:
        """Run a failed, killed, rejected or partially failed instance again.

        :raises ServiceError: it is in another status.
        """
        with self.lock:
            now = self.clock()
            _check_finished_unsuccessfully(inst, now, "retried")
            job = inst.job
            outcome = job.outcome_status(retried=True)
            result = job.result if job.result is not None else DEFAULT_RESULTS.get(outcome, "")
            inst.attempts.append(
                Attempt(
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

        :raises ServiceError: it is not finished, or already successful.
        """
        with self.lock:
            now = self.clock()
            _check_finished_unsuccessfully(inst, now, "set to success")
            inst.attempts[-1].marks.append(Mark(now, InstanceStatus.SUCCESS, None))


def _check_finished_unsuccessfully(inst: InstanceState, now: float, to_be: str) -> None:
    status = inst.view(now).status
    if status not in RETRYABLE:
        raise ServiceError.business(
            400,
            f"jobInstanceId={inst.instance_id} status is {status.label}, "
            f"only a failed, killed or rejected instance can be {to_be}",
        )
