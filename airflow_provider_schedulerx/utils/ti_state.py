"""The state Airflow gives a task instance now, read from the task's own process or from a
trigger, on every supported Airflow: what tells a task being marked successful apart from
one marked failed or cleared. ``None`` whenever it cannot be read."""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["current_state", "current_state_async"]

log = logging.getLogger(__name__)


def _pick(states: Any, run_id: str, task_id: str, map_index: int) -> str | None:
    """A state out of ``GetTaskStates``' ``{run_id: {task_id or task_id_<index>: state}}``."""
    of_run = states.get(run_id) if isinstance(states, dict) else None
    if not isinstance(of_run, dict):
        return None
    key = task_id if map_index < 0 else f"{task_id}_{map_index}"
    state = of_run.get(key, of_run.get(task_id))
    return None if state is None else str(state)


def _identity(ti: Any) -> tuple[str, str, str, int]:
    map_index = getattr(ti, "map_index", -1)
    return ti.dag_id, ti.run_id, ti.task_id, -1 if map_index is None else int(map_index)


def current_state(ti: Any) -> str | None:
    """From the task's own process (also inside ``on_kill``)."""
    if ti is None:
        return None
    dag_id, run_id, task_id, map_index = _identity(ti)
    try:
        if hasattr(ti, "refresh_from_db"):  # Airflow 2: the metadata database itself
            ti.refresh_from_db()
            return None if ti.state is None else str(ti.state)
        states = type(ti).get_task_states(
            dag_id=dag_id,
            task_ids=[task_id],
            run_ids=[run_id],
            map_index=None if map_index < 0 else map_index,
        )
        return _pick(states, run_id, task_id, map_index)
    except Exception as error:  # what cannot be read is None: the caller then plays safe
        log.warning("Could not read the state of task %s: %s", task_id, error)
        return None


async def current_state_async(ti: Any) -> str | None:
    """From a trigger, without blocking the triggerer's event loop: the triggerer's own
    channel to its supervisor on Airflow 3, the metadata database (in a thread) on Airflow 2."""
    if ti is None:
        return None
    dag_id, run_id, task_id, map_index = _identity(ti)
    try:
        try:
            from airflow.sdk.execution_time import task_runner
            from airflow.sdk.execution_time.comms import GetTaskStates, TaskStatesResult
        except ImportError:  # Airflow 2
            return await _from_database(dag_id, run_id, task_id, map_index)
        reply = await task_runner.SUPERVISOR_COMMS.asend(
            GetTaskStates(
                dag_id=dag_id,
                task_ids=[task_id],
                run_ids=[run_id],
                map_index=None if map_index < 0 else map_index,
            )
        )
        if not isinstance(reply, TaskStatesResult):
            return None
        return _pick(reply.task_states, run_id, task_id, map_index)
    except Exception as error:
        log.warning("Could not read the state of task %s: %s", task_id, error)
        return None


async def _from_database(dag_id: str, run_id: str, task_id: str, map_index: int) -> str | None:
    from asgiref.sync import sync_to_async

    def read() -> str | None:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        with create_session() as session:
            state = (
                session.query(TaskInstance.state)
                .filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index)
                .scalar()
            )
        return None if state is None else str(state)

    return await sync_to_async(read)()
