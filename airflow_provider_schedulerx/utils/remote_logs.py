"""Following a SchedulerX instance's log while a task waits on it: the lines written since
the last poll go to the Airflow task log, in order and each once, at most
:data:`MAX_LINES_PER_POLL` a poll (a chatty job is caught up over the next polls, not
flooded into one). One ``GetLog`` call a poll at the most, read from the offset reached; a
poll that brings nothing makes the next ones look less often (every 2nd, 4th, up to 8th
poll), until lines come again. A trigger polling in its job's rounds, where every call
counts against the account's quota, looks again after a read that brought nothing only once
the instance's status or progress has changed. Pure: the caller makes the call, sync or
async.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_schedulerx.rpc.calls import ApiCall

__all__ = ["MAX_LINES_PER_POLL", "LogFollower"]

#: Log lines shown a poll at the most.
MAX_LINES_PER_POLL = 50
#: The most polls skipped between two looks at a log that brings nothing new.
MAX_SKIPPED_POLLS = 7


class LogFollower:
    """Where a task is in an instance's log.

    :param job_id: the job.
    :param job_instance_id: the instance.
    :param shown: lines already shown (a rescheduled sensor or a trigger carries it on).
    """

    __slots__ = ("_quiet_at", "_skip", "_wait", "job_id", "job_instance_id", "shown")

    def __init__(self, job_id: int, job_instance_id: int, shown: int = 0) -> None:
        self.job_id = job_id
        self.job_instance_id = job_instance_id
        self.shown = shown
        self._skip = 0
        self._wait = 0
        self._quiet_at: object = None

    def next_call(self, changes: object = None) -> ApiCall[list[str]] | None:
        """The call for this poll, or ``None`` when this poll skips the log.

        :param changes: what tells that the instance moved on (its status and progress), for
            a poll that looks again after an empty read only once it differs.
        """
        from airflow_provider_schedulerx.rpc.logs import log_page

        if changes is not None:
            if self._quiet_at is not None and self._quiet_at == changes:
                return None
            self._quiet_at = changes
        elif self._wait:
            self._wait -= 1
            return None
        return log_page(self.job_id, self.job_instance_id, offset=self.shown, lines=MAX_LINES_PER_POLL)

    def take(self, lines: list[str], log: Any) -> None:
        """Show the lines a call brought, and note how far the log has been read."""
        for line in lines:
            log.info("[SchedulerX] %s", line)
        self.shown += len(lines)
        if lines:
            self._skip = self._wait = 0
            self._quiet_at = None
        else:
            self._skip = min(2 * self._skip + 1, MAX_SKIPPED_POLLS)
            self._wait = self._skip

    def rest_call(self, lines: int) -> ApiCall[list[str]]:
        """The call for the lines not shown yet once the instance ended, at most ``lines``."""
        from airflow_provider_schedulerx.rpc.logs import log_page

        return log_page(self.job_id, self.job_instance_id, offset=self.shown, lines=lines)
