"""The lifecycle contract: what a try does with the instance an earlier try started, and
what becomes of an instance when Airflow stops the task that follows it.

- An automatic retry (after a failure or a lost worker) follows the earlier try's instance
  while it runs, or takes its success, only when it is the same request (job, parameters,
  worker or label, map index).
- A clear starts a new cycle of tries: the cleared try's instance is stopped if it still
  runs, and a new one is started. Airflow marks the first try of a cycle itself:
  ``max_tries - retries + 1 == try_number``. Airflow 2.11 clears a running task as if it
  failed; there the cleared try stops its instance when it is killed, which comes to the same.
- A task stopped by Airflow (marked failed, cleared, timed out, evicted) stops its instance;
  one marked successful leaves it running.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Followed", "Request", "Resume", "first_try_of_cycle", "resume", "stop_on_kill"]

#: The task state key of the instance a try follows. Changing it would orphan the instances
#: of tasks being retried during an upgrade.
STATE_KEY = "schedulerx_job_instance"


@dataclass(frozen=True)
class Request:
    """What a start asks SchedulerX for. Only a later try of the same request may follow
    the instance it started. The parameters are kept as a digest: they may hold secrets."""

    job_id: int
    parameters: str | None
    worker: str | None
    label: str | None
    map_index: int

    def digest(self) -> str:
        fields = [self.job_id, self.parameters or "", self.worker or "", self.label or "", self.map_index]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Followed:
    """The instance a try started, as kept for the later tries of its task instance.

    :param try_number: the try that started it.
    :param stopped: why a try stopped it, if one did (``clear``, ``deadline``...).
    """

    job_id: int
    instance_id: int
    request: str
    try_number: int
    stopped: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> Followed | None:
        """The record, or None for anything else (an older release's, or garbage)."""
        if not isinstance(value, dict):
            return None
        try:
            return cls(
                job_id=int(value["job_id"]),
                instance_id=int(value["instance_id"]),
                request=str(value.get("request", "")),
                try_number=int(value.get("try_number", 0)),
                stopped=value.get("stopped"),
            )
        except (KeyError, TypeError, ValueError):
            return None


class Resume(enum.Enum):
    """What a try does about the instance an earlier try left."""

    #: Nothing to follow: start a new instance.
    START = "start"
    #: Follow it while it runs, take its success, or start anew once it ended otherwise.
    FOLLOW = "follow"
    #: Stop it if it still runs (a clear, or another request), then start a new one.
    REPLACE = "replace"


def first_try_of_cycle(ti: Any, retries: int) -> bool:
    """Whether ``ti`` runs the first try of a cycle: the task's very first, or the first
    after a clear (Airflow's own test, from the tries it allows)."""
    try_number, max_tries = getattr(ti, "try_number", None), getattr(ti, "max_tries", None)
    if not isinstance(try_number, int) or not isinstance(max_tries, int):
        return False
    return max_tries - retries + 1 == try_number


def resume(saved: Followed | None, request: Request, *, first_of_cycle: bool) -> Resume:
    """What this try does about the instance ``saved`` names."""
    if saved is None:
        return Resume.START
    if saved.request != request.digest() or first_of_cycle:
        return Resume.REPLACE
    return Resume.FOLLOW


def stop_on_kill(state: str | None) -> bool:
    """Whether a task being stopped by Airflow stops its instance, given the state Airflow
    now gives its task instance (``None`` when it could not be read): all but a success."""
    return state != "success"
