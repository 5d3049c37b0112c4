"""Where a task keeps its state for later tries: Airflow's own store where it has one,
Variables before Airflow 3.3 (run for real by the DAG tests; here their edges)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat import sdk as compat

from airflow_provider_schedulerx.utils.task_state import (
    TaskInstanceScope,
    VariableTaskStateStore,
    forget_after_success,
    task_state_store,
)

NOTSET: Any = object()


class FakeVariables:
    """Airflow's ``Variable`` as both major versions call it: string values, the default
    second."""

    def __init__(self) -> None:
        self.stored: dict[str, tuple[str, str | None]] = {}

    def get(self, key: str, default: Any = NOTSET) -> Any:
        if key not in self.stored:
            if default is NOTSET:
                raise KeyError(key)
            return default
        return self.stored[key][0]

    def set(self, key: str, value: str, description: str | None = None) -> None:
        assert isinstance(value, str)
        self.stored[key] = (value, description)

    def delete(self, key: str) -> None:
        self.stored.pop(key, None)


@pytest.fixture
def variables(monkeypatch: pytest.MonkeyPatch) -> FakeVariables:
    fake = FakeVariables()
    monkeypatch.setattr(compat, "Variable", fake, raising=False)
    return fake


def task_instance(map_index: int = -1, run_id: str = "scheduled__2026-01-01T00:00:00+00:00") -> Any:
    return SimpleNamespace(dag_id="nightly", run_id=run_id, task_id="run_job", map_index=map_index)


def test_airflow_s_own_store_wins_where_it_exists():
    native = object()
    assert task_state_store({"task_state_store": native, "ti": task_instance()}) is native


def test_before_airflow_3_3_the_state_lives_in_variables(variables):
    store = task_state_store({"ti": task_instance()})
    assert isinstance(store, VariableTaskStateStore)
    assert store.get("schedulerx_job_instance") is None
    store.set("schedulerx_job_instance", {"job_id": 1, "instance_id": 2})
    assert store.get("schedulerx_job_instance") == {"job_id": 1, "instance_id": 2}
    # A later try builds its own store from its own context, and finds it.
    assert task_state_store({"ti": task_instance()}).get("schedulerx_job_instance") == {  # type: ignore[union-attr]
        "job_id": 1,
        "instance_id": 2,
    }
    ((key, (_, description)),) = variables.stored.items()
    assert key.startswith("schedulerx_task_state.") and len(key) <= 64
    assert (
        "run_job" in description
        and "nightly" in description
        and "deleted when the task succeeds" in description
    )


def test_each_task_instance_and_key_has_its_own_variable(variables):
    first = VariableTaskStateStore(TaskInstanceScope.of(task_instance(map_index=0)))
    second = VariableTaskStateStore(TaskInstanceScope.of(task_instance(map_index=1)))
    other_run = VariableTaskStateStore(TaskInstanceScope.of(task_instance(run_id="manual__x")))
    first.set("k", 1)
    second.set("k", 2)
    first.set("other", 3)
    assert (first.get("k"), second.get("k"), first.get("other"), other_run.get("k")) == (1, 2, 3, None)
    assert len(variables.stored) == 3


def test_a_variable_that_names_another_task_instance_is_not_taken(variables):
    store = VariableTaskStateStore(TaskInstanceScope.of(task_instance()))
    record = {"task_instance": {"dag_id": "someone-else"}, "key": "k", "value": 1}
    variables.set(store.variable_key("k"), json.dumps(record))
    assert store.get("k") is None
    variables.set(store.variable_key("k"), "edited by hand")
    assert store.get("k") is None


def test_a_write_that_did_not_land_is_reported(monkeypatch, variables, caplog):
    monkeypatch.setattr(variables, "set", lambda *args, **kwargs: None)  # as the Task SDK 3.0 fails
    VariableTaskStateStore(TaskInstanceScope.of(task_instance())).set("k", 1)
    assert "a retry of this task cannot know it" in caplog.text


def test_success_deletes_the_variable_but_leaves_airflow_s_own_store_alone(variables):
    context = {"ti": task_instance()}
    task_state_store(context).set("k", 1)  # type: ignore[union-attr]
    forget_after_success(context, "k")
    assert variables.stored == {}

    class NativeStore:
        deleted: list[str] = []

        def delete(self, key: str) -> None:
            self.deleted.append(key)

    forget_after_success({"task_state_store": NativeStore(), "ti": task_instance()}, "k")
    assert NativeStore.deleted == []


def test_outside_a_task_instance_there_is_no_store():
    assert task_state_store({}) is None
