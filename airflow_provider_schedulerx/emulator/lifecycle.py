"""A job instance's clock-driven lifecycle.

Nothing runs in the background: an instance records when it was created (and any manual
stop, retry or set-success), and its status, times, progress and log lines are derived from
the clock whenever someone reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from airflow_provider_schedulerx.emulator.specs import FINAL, JobSpec
from airflow_provider_schedulerx.models import InstanceStatus, TriggerType

__all__ = ["Attempt", "InstanceState", "InstanceView", "Mark"]


@dataclass
class Mark:
    """A manual change of status (stop or set-success) at a point in time."""

    at: float
    status: InstanceStatus
    result: str | None


@dataclass
class Attempt:
    """One run of an instance: the first from ExecuteJob, more from RetryJobInstance."""

    started_at: float
    wait: float
    run: float
    outcome: InstanceStatus
    result: str
    trigger_type: TriggerType
    marks: list[Mark] = field(default_factory=list)

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
    attempts: list[Attempt]
    designate_type: int | None = None
    label: str | None = None
    #: The tick of the schedule that fired it (default: when it was created).
    schedule_time: float | None = None
    #: The time of the data it is for (default: its schedule time).
    data_time: float | None = None

    @property
    def job_id(self) -> int:
        return self.job.job_id

    @property
    def scheduled_at(self) -> float:
        return self.created_at if self.schedule_time is None else self.schedule_time

    @property
    def data_at(self) -> float:
        return self.scheduled_at if self.data_time is None else self.data_time

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
        attempt: Attempt,
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

    def _default_logs(self, attempt: Attempt) -> list[str]:
        return [
            f"INFO start job {self.job.name} (jobId={self.job_id}), instance {self.instance_id}",
            f"INFO instance {self.instance_id} running on {self.work_addr}",
            f"INFO instance {self.instance_id} finished: {attempt.result}",
        ]
