"""Workflows in the emulator: a DAG of jobs inside SchedulerX.

A workflow instance starts the job instances of its nodes in dependency order: a node's
instance starts when the last of its upstream nodes succeeded, and a node with a failed (or
killed, rejected) upstream never runs. Like a job instance, nothing runs in the background:
the node instances due by now are started whenever the workflow instance is read.

The workflow instance is successful when every node succeeded (or when
``SetWfInstanceSuccess`` says so), failed when a node ended otherwise and none still runs,
and running in between.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_schedulerx.emulator.errors import ServiceError
from airflow_provider_schedulerx.models import InstanceStatus

if TYPE_CHECKING:
    from airflow_provider_schedulerx.emulator.lifecycle import InstanceState
    from airflow_provider_schedulerx.emulator.store import EmulatorState

__all__ = ["WorkflowInstanceState", "WorkflowSpec", "WorkflowStatus", "WorkflowStore"]


class WorkflowStatus:
    """The statuses of a workflow instance."""

    PENDING = 1
    PREPARING = 2
    RUNNING = 3
    SUCCESS = 4
    FAILED = 5


@dataclass
class WorkflowSpec:
    """A workflow: its nodes (job ids) and edges (upstream job id, downstream job id).

    :param workflow_id: the workflow id.
    :param nodes: the jobs it runs, each once per workflow instance.
    :param edges: ``(upstream, downstream)`` pairs of those jobs; no cycle.
    :param name: workflow name (default ``workflow-<id>``).
    :param namespace: namespace (default: the emulator's).
    :param group_id: application group (default: the emulator's).
    :param enabled: a disabled workflow refuses ExecuteWorkflow.
    """

    workflow_id: int
    nodes: list[int]
    edges: list[tuple[int, int]] = field(default_factory=list)
    name: str | None = None
    description: str = ""
    namespace: str | None = None
    group_id: str | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        self.nodes = [int(node) for node in self.nodes]
        self.edges = [(int(source), int(target)) for source, target in self.edges]
        if not self.nodes or len(set(self.nodes)) != len(self.nodes):
            raise ValueError(f"workflow {self.workflow_id}: nodes must be distinct job ids, at least one")
        for source, target in self.edges:
            if source not in self.nodes or target not in self.nodes:
                raise ValueError(f"workflow {self.workflow_id}: edge {source}->{target} joins no two nodes")
        self.order = self._topological_order()
        if self.name is None:
            self.name = f"workflow-{self.workflow_id}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkflowSpec:
        known = {"workflow_id", "nodes", "edges", "name", "description", "namespace", "group_id", "enabled"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown workflow field(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{**data, "edges": [tuple(edge) for edge in data.get("edges", [])]})

    def upstream(self, node: int) -> list[int]:
        return [source for source, target in self.edges if target == node]

    def _topological_order(self) -> list[int]:
        order: list[int] = []
        remaining = list(self.nodes)
        while remaining:
            ready = [node for node in remaining if all(up in order for up in self.upstream(node))]
            if not ready:
                raise ValueError(f"workflow {self.workflow_id}: its edges make a cycle")
            order += ready
            remaining = [node for node in remaining if node not in ready]
        return order


@dataclass
class WorkflowInstanceState:
    """A workflow instance: when it started, and the job instances of its nodes so far."""

    wf_instance_id: int
    workflow: WorkflowSpec
    namespace: str
    group_id: str
    created_at: float
    parameters: str
    nodes: dict[int, InstanceState] = field(default_factory=dict)
    #: When SetWfInstanceSuccess marked it successful.
    succeeded_at: float | None = None

    def due_nodes(self, now: float) -> list[tuple[int, float]]:
        """The nodes not started whose upstream nodes all succeeded by ``now``, each with
        when it starts (the last upstream's end, or the workflow's start), in order."""
        due = []
        for node in self.workflow.order:
            if node in self.nodes:
                continue
            ends = []
            for up in self.workflow.upstream(node):
                inst = self.nodes.get(up)
                view = inst.view(now) if inst is not None else None
                if view is None or view.status is not InstanceStatus.SUCCESS or view.end_time is None:
                    break
                ends.append(view.end_time)
            else:
                start = max(ends, default=self.created_at)
                if start <= now:
                    due.append((node, start))
        return due

    def status(self, now: float) -> tuple[int, float | None]:
        """The status at ``now``, and when it ended (if it did)."""
        if self.succeeded_at is not None and self.succeeded_at <= now:
            return WorkflowStatus.SUCCESS, self.succeeded_at
        views = {node: inst.view(now) for node, inst in self.nodes.items()}
        running = [v for v in views.values() if v.status in (InstanceStatus.WAITING, InstanceStatus.RUNNING)]
        bad = [v for v in views.values() if v.end_time is not None and v.status is not InstanceStatus.SUCCESS]
        ends = [v.end_time for v in views.values() if v.end_time is not None]
        if bad and not running:
            return WorkflowStatus.FAILED, max(ends)
        if len(views) == len(self.workflow.nodes) and not running and not bad:
            return WorkflowStatus.SUCCESS, max(ends)
        return WorkflowStatus.RUNNING, None


class WorkflowStore:
    """The workflows and their instances, under the state's lock.

    :param state: the store of jobs and their instances.
    """

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._workflows: dict[int, WorkflowSpec] = {}
        self._instances: dict[int, WorkflowInstanceState] = {}
        #: ExecuteWorkflow calls that started an instance, by workflow id.
        self.executions: Counter[int] = Counter()

    def add(self, spec: WorkflowSpec) -> WorkflowSpec:
        """Add or replace a workflow; its nodes must be jobs of its namespace and group."""
        state = self.state
        with state.lock:
            spec.namespace = spec.namespace or state.default_namespace
            spec.group_id = spec.group_id or state.default_group
            for node in spec.nodes:
                state.job(spec.namespace, spec.group_id, node)
            self._workflows[spec.workflow_id] = spec
            return spec

    def workflow(self, namespace: str, group_id: str, workflow_id: int) -> WorkflowSpec:
        with self.state.lock:
            self.state.check_group(namespace, group_id)
            spec = self._workflows.get(workflow_id)
            if spec is None or (spec.namespace, spec.group_id) != (namespace, group_id):
                raise ServiceError.business(404, f"workflowId={workflow_id} not exist")
            return spec

    def workflows(self, namespace: str, group_id: str) -> list[WorkflowSpec]:
        with self.state.lock:
            self.state.check_group(namespace, group_id)
            return [s for s in self._workflows.values() if (s.namespace, s.group_id) == (namespace, group_id)]

    def execute(self, spec: WorkflowSpec, parameters: str) -> WorkflowInstanceState:
        state = self.state
        with state.lock:
            if not spec.enabled:
                raise ServiceError.business(500, f"workflowId={spec.workflow_id} is disabled")
            inst = WorkflowInstanceState(
                wf_instance_id=state.new_id(),
                workflow=spec,
                namespace=str(spec.namespace),
                group_id=str(spec.group_id),
                created_at=state.clock(),
                parameters=parameters,
            )
            self._instances[inst.wf_instance_id] = inst
            self.executions[spec.workflow_id] += 1
            self._advance(inst)
            return inst

    def instance(self, spec: WorkflowSpec, wf_instance_id: int) -> WorkflowInstanceState:
        with self.state.lock:
            inst = self._instances.get(wf_instance_id)
            if inst is None or inst.workflow.workflow_id != spec.workflow_id:
                raise ServiceError.business(404, f"wfInstanceId={wf_instance_id} not exist")
            self._advance(inst)
            return inst

    def instances_of(self, spec: WorkflowSpec) -> list[WorkflowInstanceState]:
        with self.state.lock:
            found = [i for i in self._instances.values() if i.workflow.workflow_id == spec.workflow_id]
            for inst in found:
                self._advance(inst)
            return found

    def set_success(self, inst: WorkflowInstanceState) -> None:
        with self.state.lock:
            now = self.state.clock()
            status, _ = inst.status(now)
            if status != WorkflowStatus.FAILED:
                raise ServiceError.business(400, f"wfInstanceId={inst.wf_instance_id} is not failed")
            inst.succeeded_at = now

    def _advance(self, inst: WorkflowInstanceState) -> None:
        """Start the node instances that are due by now (a chain of them, if need be)."""
        now = self.state.clock()
        while due := inst.due_nodes(now):
            for node, at in due:
                job = self.state.job(inst.namespace, inst.group_id, node)
                inst.nodes[node] = self.state.start_node(job, at, inst.parameters)
