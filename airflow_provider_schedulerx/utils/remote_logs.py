"""Following a SchedulerX instance's log while a task waits on it: the lines written since
the last poll go to the Airflow task log, in order and each once, at most
:data:`MAX_LINES_PER_POLL` a poll (a chatty job is caught up over the next polls, not
flooded into one). One ``GetLog`` call a poll at the most, read from the offset reached. A
read that brings nothing makes the log quiet: it is read again once the instance's status or
progress has changed, or else after :data:`MAX_SKIPPED_POLLS` polls; a trigger polling in its
job's rounds, where every call counts against the account's quota, waits for the change
alone. Pure: the caller makes the call, sync or async.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_schedulerx.rpc.calls import ApiCall

__all__ = ["MAX_LINES_PER_POLL", "LogFollower"]

#: Log lines shown a poll at the most.
MAX_LINES_PER_POLL = 50
#: The most polls a quiet log goes unread while the instance shows no change.
MAX_SKIPPED_POLLS = 15


class LogFollower:
    """Where a task is in an instance's log.

    :param job_id: the job.
    :param job_instance_id: the instance.
    :param shown: lines already shown (a rescheduled sensor or a trigger carries it on).
    """

    __slots__ = ("_asked_at", "_quiet_at", "_skipped", "job_id", "job_instance_id", "shown")

    def __init__(self, job_id: int, job_instance_id: int, shown: int = 0) -> None:
        self.job_id = job_id
        self.job_instance_id = job_instance_id
        self.shown = shown
        self._asked_at: object = None
        #: While the log is quiet, what the instance showed when it was last read (in a
        #: 1-tuple, as that may be ``None``), and the polls that skipped it since.
        self._quiet_at: tuple[object] | None = None
        self._skipped = 0

    def next_call(self, changes: object = None, *, only_on_change: bool = False) -> ApiCall[list[str]] | None:
        """The call for this poll, or ``None`` when this poll skips the log.

        :param changes: what tells that the instance moved on (its status and progress).
        :param only_on_change: read a quiet log again only once ``changes`` differs, not
            also after :data:`MAX_SKIPPED_POLLS` polls.
        """
        from airflow_provider_schedulerx.rpc.logs import log_page

        if self._quiet_at is not None and self._quiet_at[0] == changes:
            self._skipped += 1
            if only_on_change or self._skipped <= MAX_SKIPPED_POLLS:
                return None
        self._asked_at = changes
        return log_page(self.job_id, self.job_instance_id, offset=self.shown, lines=MAX_LINES_PER_POLL)

    def take(self, lines: list[str], log: Any) -> None:
        """Show the lines a call brought, and note how far the log has been read."""
        for line in lines:
            log.info("[SchedulerX] %s", line)
        self.shown += len(lines)
        self._quiet_at = None if lines else (self._asked_at,)
        self._skipped = 0

    def rest_call(self, lines: int) -> ApiCall[list[str]]:
        """The call for the lines not shown yet once the instance ended, at most ``lines``."""
        from airflow_provider_schedulerx.rpc.logs import log_page

        return log_page(self.job_id, self.job_instance_id, offset=self.shown, lines=lines)
