"""What the API shows of the store: instance details, job configurations, log lines and
times, in the service's shapes."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_schedulerx.config import DEFAULT_TIMEZONE, MAX_LOG_LINES
from airflow_provider_schedulerx.emulator.lifecycle import InstanceState
from airflow_provider_schedulerx.emulator.specs import JobSpec
from airflow_provider_schedulerx.emulator.store import EmulatorState
from airflow_provider_schedulerx.emulator.workflows import WorkflowInstanceState, WorkflowSpec

__all__ = ["Views"]

EXECUTOR = "openapi"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class Views:
    """Renders what the store holds as the service shows it.

    :param state: the store.
    :param timezone: zone of the wall-clock time strings.
    """

    def __init__(self, state: EmulatorState, timezone: str = DEFAULT_TIMEZONE) -> None:
        self.state = state
        self.tz = ZoneInfo(timezone)
        self._format_second = functools.lru_cache(maxsize=1024)(self._format_uncached)

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
        with self.state.lock:
            view = inst.view(self.state.clock())
        detail: dict[str, Any] = {
            "DataTime": self.format_time(inst.data_at),
            "EndTime": self.format_time(view.end_time),
            "Executor": EXECUTOR,
            "InstanceId": inst.instance_id,
            "JobId": inst.job_id,
            "Progress": view.progress,
            "Result": view.result,
            "ScheduleTime": self.format_time(inst.scheduled_at),
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

    def workflow_instance(self, inst: WorkflowInstanceState) -> dict[str, Any]:
        """``GetWorkflowInstance``'s data: the instance, and its graph of nodes."""
        with self.state.lock:
            now = self.state.clock()
            status, ended = inst.status(now)
            nodes = []
            for job_id in inst.workflow.order:
                job = self.state.job(inst.namespace, inst.group_id, job_id)
                node: dict[str, Any] = {"JobId": job_id, "JobName": job.name, "Status": 1, "Attempt": 0}
                started = inst.nodes.get(job_id)
                if started is not None:
                    view = started.view(now)
                    node.update(
                        JobInstanceId=started.instance_id,
                        Status=int(view.status),
                        Attempt=len(started.attempts) - 1,
                        Result=view.result,
                        WorkAddr=view.work_addr,
                        ScheduleTime=self.format_time(started.scheduled_at),
                        DataTime=self.format_time(started.data_at),
                        StartTime=self.format_time(view.start_time),
                        EndTime=self.format_time(view.end_time),
                    )
                nodes.append(node)
        return {
            "WfInstanceInfo": {**self.workflow_instance_info(inst, status, ended)},
            "WfInstanceDag": {
                "Nodes": nodes,
                "Edges": [{"Source": s, "Target": t} for s, t in inst.workflow.edges],
            },
        }

    def workflow_instance_info(
        self, inst: WorkflowInstanceState, status: int, ended: float | None
    ) -> dict[str, Any]:
        return {
            "WfInstanceId": inst.wf_instance_id,
            "WorkflowId": inst.workflow.workflow_id,
            "Status": status,
            "ScheduleTime": self.format_time(inst.created_at),
            "DataTime": self.format_time(inst.created_at),
            "StartTime": self.format_time(inst.created_at),
            "EndTime": self.format_time(ended),
        }

    def workflow_info(self, spec: WorkflowSpec) -> dict[str, Any]:
        """A workflow as ``GetWorkFlow`` and ``ListWorkFlows`` show it."""
        return {
            "WorkflowId": spec.workflow_id,
            "Name": spec.name,
            "Description": spec.description,
            "Namespace": spec.namespace,
            "GroupId": spec.group_id,
            "Status": 1 if spec.enabled else 0,
            "TimeType": 100,
            "TimeExpression": "",
            "MaxConcurrency": 1,
        }

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
                "DataOffset": int(spec.schedule.data_offset) if spec.schedule else 0,
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
        with self.state.lock:
            emitted = inst.log_lines(self.state.clock())
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
