"""State that a task keeps for its later tries, on every supported Airflow.

The SchedulerX operators keep the job instance a try started, so that a retry follows that
instance instead of starting the job a second time. Airflow 3.3 gives every task
``context["task_state_store"]`` for this: keys scoped to the task instance (DAG run, task,
map index) that outlive its tries. Before 3.3 nothing of the kind exists, and the obvious
stand-ins do not last: the XComs of a task instance are cleared when its next try starts,
``next_kwargs`` only live through one deferral, task instance notes belong to the people
who write them, and a worker of Airflow 3.0 to 3.2 reaches the metadata database only
through the Execution API (XComs, Variables, connections, task instance state).

So there the state lives in Airflow Variables, one per task instance and key, written
through the same API that every task already uses for Variables: the metadata database on
Airflow 2, the Execution API on Airflow 3. A Variable outlives every try, whichever worker
runs it and however the earlier try ended (a failure, a timeout, a killed or lost worker).
The operators delete theirs when the task succeeds; a task that failed for good keeps its
Variable, so that clearing the task later reattaches to an instance that still runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from typing import Any, Protocol

__all__ = [
    "TaskInstanceScope",
    "TaskStateStore",
    "VariableTaskStateStore",
    "forget_after_success",
    "task_state_store",
]

log = logging.getLogger(__name__)


class TaskStateStore(Protocol):
    """What the operators use of Airflow 3.3's ``task_state_store``: JSON values by key,
    scoped to the running task instance and kept across its tries."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class TaskInstanceScope:
    """A task instance across its tries."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    @classmethod
    def of(cls, ti: Any) -> TaskInstanceScope:
        map_index = getattr(ti, "map_index", -1)
        return cls(ti.dag_id, ti.run_id, ti.task_id, -1 if map_index is None else int(map_index))


class VariableTaskStateStore:
    """Task state in Airflow Variables, for Airflow before 3.3.

    The Variable of a key is ``schedulerx_task_state.<digest>``: a digest of the task instance
    and the key, because those can be long and hold characters (``+``, ``:``, ``/``) that do
    not belong in a Variable key or an Execution API path. The value is JSON that names the
    task instance and the key again, and the Variable's description says what it is for.
    """

    VARIABLE_PREFIX = "schedulerx_task_state."

    def __init__(self, scope: TaskInstanceScope) -> None:
        self.scope = scope

    def variable_key(self, key: str) -> str:
        identity = json.dumps([*asdict(self.scope).values(), key], separators=(",", ":"))
        return self.VARIABLE_PREFIX + hashlib.sha256(identity.encode()).hexdigest()[:40]

    def _owns(self, stored: Any, key: str) -> bool:
        return (
            isinstance(stored, dict)
            and stored.get("task_instance") == asdict(self.scope)
            and stored.get("key") == key
        )

    def _read(self, variable_key: str) -> Any:
        from airflow.providers.common.compat.sdk import Variable

        # The default is positional: Airflow 2 names it default_var, Airflow 3 default.
        stored = Variable.get(variable_key, None)
        try:
            return None if stored is None else json.loads(stored)
        except ValueError:
            return None

    def get(self, key: str) -> Any:
        stored = self._read(self.variable_key(key))
        return stored["value"] if self._owns(stored, key) else None

    def set(self, key: str, value: Any) -> None:
        from airflow.providers.common.compat.sdk import Variable

        scope = self.scope
        variable_key = self.variable_key(key)
        record = {"task_instance": asdict(scope), "key": key, "value": value}
        description = (
            f"Kept by airflow-provider-schedulerx for the retries of task {scope.task_id} "
            f"(map index {scope.map_index}) of DAG {scope.dag_id}, run {scope.run_id}; "
            "deleted when the task succeeds."
        )
        # JSON made here: how Variable.set serializes a dict differs between versions.
        Variable.set(variable_key, json.dumps(record), description=description)
        # The Task SDK of Airflow 3.0 to 3.2 logs a failed write instead of raising it.
        if self._read(variable_key) != record:
            log.error(
                "Could not keep %s=%r in Variable %s: a retry of this task cannot know it",
                key,
                value,
                variable_key,
            )

    def delete(self, key: str) -> None:
        from airflow.providers.common.compat.sdk import Variable

        Variable.delete(self.variable_key(key))


def task_state_store(context: Any) -> TaskStateStore | None:
    """The running task instance's state store: Airflow's own where it has one (3.3+),
    Variables otherwise; None outside a task instance."""
    native = context.get("task_state_store")
    if native is not None:
        return native
    ti = context.get("ti")
    if ti is None:
        return None
    return VariableTaskStateStore(TaskInstanceScope.of(ti))


def forget_after_success(context: Any, key: str) -> None:
    """Drop ``key`` once the task succeeded, where nothing else would (a Variable lives
    until deleted). Airflow's own store keeps it, under its ``[state_store]`` retention and
    ``clear_on_success`` settings."""
    store = task_state_store(context)
    if isinstance(store, VariableTaskStateStore):
        store.delete(key)
