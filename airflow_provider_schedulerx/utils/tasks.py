"""What every SchedulerX task shares: the hook, the checks of what it was given, what it
pushes to XCom (redacted), how it reports an instance, and how it fails.

A mixin, placed before ``BaseOperator`` or ``BaseSensorOperator``. Light to import: DAG files
import its importers, so the hook, the client and the models load only when a task runs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection, Iterator
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_schedulerx.config import validate_id, validate_name
from airflow_provider_schedulerx.exceptions import SchedulerXConfigError, SchedulerXError
from airflow_provider_schedulerx.hooks.connection_form import DEFAULT_CONN_ID
from airflow_provider_schedulerx.links.schedulerx import CONSOLE_URL_XCOM_KEY, SchedulerXJobInstanceLink
from airflow_provider_schedulerx.utils.waiting import Verdict, WaitPolicy

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import BaseOperatorLink

    from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
    from airflow_provider_schedulerx.models import JobInstance
    from airflow_provider_schedulerx.utils.remote_logs import LogFollower

__all__ = [
    "SchedulerXTaskMixin",
    "default_deferrable",
    "defer_timeout",
    "last_try",
    "redacted",
    "task_deadline",
]

#: The templated fields of a task's namespace and group.
SCOPE_FIELDS = ("namespace", "group_id")
#: The templated fields of a task on one job instance.
JOB_INSTANCE_FIELDS = ("job_id", "job_name", "job_instance_id", *SCOPE_FIELDS)

#: The task state key of the job that ``job_name`` named in a try (a rescheduled sensor's
#: pokes are one try across processes).
NAMED_JOB_KEY = "schedulerx_named_job"

#: Airflow's own deferral timeout comes this long after the task's deadline: a backstop for
#: a triggerer that is down, so that the trigger reports the deadline itself when it can.
DEFER_BACKSTOP_SECONDS = 60.0


def redacted(value: Any) -> Any:
    """``value`` with every secret Airflow's masker knows replaced, for XCom: an instance
    echoes the parameters it was started with, which a template may have filled with one."""
    from airflow.providers.common.compat.sdk import redact

    return redact(value)


def task_deadline(context: Any, execution_timeout: timedelta | None, timeout: float | None) -> float | None:
    """Epoch seconds by which the wait must end: the earlier of the task's start plus its
    ``execution_timeout`` and now plus ``timeout``."""
    candidates = []
    if timeout is not None:
        candidates.append(time.time() + float(timeout))
    if execution_timeout is not None:
        ti = context.get("ti") if context else None
        start = getattr(ti, "start_date", None)
        started = start.timestamp() if start is not None else time.time()
        candidates.append(started + execution_timeout.total_seconds())
    return min(candidates) if candidates else None


def defer_timeout(deadline: float | None) -> timedelta | None:
    """Airflow's own deferral timeout for a wait that ends at ``deadline``."""
    if deadline is None:
        return None
    return timedelta(seconds=max(0.0, deadline - time.time()) + DEFER_BACKSTOP_SECONDS)


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` of the Airflow configuration."""
    from airflow.providers.common.compat.sdk import conf

    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


def last_try(context: Any) -> bool:
    """Whether a failure of this try fails the task for good (no retry is left)."""
    ti = context.get("ti") if context else None
    try_number, max_tries = getattr(ti, "try_number", None), getattr(ti, "max_tries", None)
    if not isinstance(try_number, int) or not isinstance(max_tries, int):
        return True
    return try_number > max_tries


class SchedulerXTaskMixin:
    """The hook, the id checks, XCom and the way a SchedulerX task ends.

    :param schedulerx_conn_id: the Airflow connection.
    :param namespace: namespace, if not the connection's (templated).
    :param group_id: application group, if not the connection's (templated).
    :param stream_logs: while the task waits, show the instance's new SchedulerX log lines
        in the task log (at most 50 a poll, one ``GetLog`` call a poll at the most).
    """

    ui_color = "#ff6a00"
    ui_fgcolor = "#ffffff"
    operator_extra_links: Collection[BaseOperatorLink] = (SchedulerXJobInstanceLink(),)

    if TYPE_CHECKING:
        log: Any
        policy: WaitPolicy
        job_id: Any
        job_name: Any
        job_id_in_use: int | None

        def defer(self, *args: Any, **kwargs: Any) -> NoReturn: ...

    def __init__(
        self,
        *,
        schedulerx_conn_id: str = DEFAULT_CONN_ID,
        namespace: str | None = None,
        group_id: str | None = None,
        stream_logs: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        from airflow_provider_schedulerx.utils.waiting import check_flag

        self.stream_logs = check_flag(stream_logs, "stream_logs")
        self._followers: dict[tuple[int, int], LogFollower] = {}
        if not isinstance(schedulerx_conn_id, str) or not schedulerx_conn_id.strip():
            raise SchedulerXConfigError(
                f"schedulerx_conn_id: expected the id of an Airflow connection, got {schedulerx_conn_id!r}"
            )
        self.schedulerx_conn_id = schedulerx_conn_id
        self.namespace = namespace
        self.group_id = group_id

    @cached_property
    def hook(self) -> SchedulerXHook:
        from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook

        return SchedulerXHook(self.schedulerx_conn_id, namespace=self.namespace, group_id=self.group_id)

    # -- what the task was given ------------------------------------------------------------

    def choose_job(self, job_id: Any, job_name: Any) -> None:
        """Take ``job_id`` or ``job_name`` (both templated): one of the two."""
        if (job_id is None) == (job_name is None):
            given = "both" if job_id is not None else "neither"
            raise SchedulerXConfigError(f"job_id or job_name: give one of the two, not {given}")
        self.job_id = job_id
        self.job_name = job_name
        self.job_id_in_use: int | None = None

    def resolve_job(self, context: Any) -> int:
        """The job of this try: ``job_id``, or the one job named ``job_name``, looked up once
        per try (``ListJobs``).

        :raises AirflowFailException: when no job, or several, have that name.
        """
        if self.job_id_in_use is not None:
            return self.job_id_in_use
        if self.job_name is None:
            self.job_id_in_use = self.checked_id(self.job_id, "job_id")
            return self.job_id_in_use
        from airflow_provider_schedulerx.utils.task_state import task_state_store

        with self.failing_as_airflow():
            name = str(validate_name(self.job_name, "job_name"))
        ti = context.get("ti") if context else None
        key = {"name": name, "try": getattr(ti, "try_number", None)}
        store = task_state_store(context) if context else None
        stored = store.get(NAMED_JOB_KEY) if store is not None else None
        if isinstance(stored, dict) and {k: stored.get(k) for k in key} == key and stored.get("job_id"):
            self.job_id_in_use = self.checked_id(stored["job_id"], "job_id")
            return self.job_id_in_use
        with self.failing_as_airflow():
            self.job_id_in_use = self.hook.find_job(name)
        self.log.info("Job %r is job %d", name, self.job_id_in_use)
        if store is not None:
            store.set(NAMED_JOB_KEY, {**key, "job_id": self.job_id_in_use})
        return self.job_id_in_use

    @contextlib.contextmanager
    def failing_as_airflow(self) -> Iterator[None]:
        """Turn SchedulerX errors into the way an Airflow task fails: bad input or a refusal
        for good, a transient failure retryably."""
        from airflow_provider_schedulerx.utils.errors import task_error

        try:
            yield
        except SchedulerXError as error:
            raise task_error(error) from None

    def checked_id(self, value: Any, setting: str) -> int:
        """A rendered id, or the try fails for good naming the setting."""
        with self.failing_as_airflow():
            return validate_id(value, setting)

    def check_scope(self) -> None:
        """The rendered namespace and group, checked before any call."""
        with self.failing_as_airflow():
            self.namespace = validate_name(self.namespace, "namespace", required=False)
            self.group_id = validate_name(self.group_id, "group_id", required=False)

    # -- what it tells -------------------------------------------------------------------------

    def push(self, context: Any, key: str, value: Any) -> None:
        context["ti"].xcom_push(key=key, value=redacted(value))

    def console_url(self, owner_id: int | None, instance_id: int | None) -> str:
        """The console page of the task's instance (of its job while there is none)."""
        return self.hook.job_console_url(
            owner_id, instance_id, namespace=self.namespace, group_id=self.group_id
        )

    def push_console_url(self, context: Any, owner_id: int | None, instance_id: int | None = None) -> None:
        """The link's URL, to XCom at once: the "SchedulerX Console" link reads it there
        while the task still runs."""
        self.push(context, CONSOLE_URL_XCOM_KEY, self.console_url(owner_id, instance_id))

    def log_tail(self, job_id: int, instance_id: int, lines: int | None = None) -> list[str]:
        tail = (
            self.hook.log_tail(job_id, instance_id)
            if lines is None
            else self.hook.log_tail(job_id, instance_id, lines=lines)
        )
        if tail:
            self.log.info("Last %d log lines of instance %d:\n%s", len(tail), instance_id, "\n".join(tail))
        return tail

    def report(self, instance: JobInstance | dict[str, Any]) -> dict[str, Any]:
        """Log how the instance stands and its log tail (what the task has not shown of
        it yet); its dict, redacted, for XCom."""
        from airflow_provider_schedulerx.models import summarize

        data = instance if isinstance(instance, dict) else instance.to_dict()
        self.log.info("%s", summarize(data))
        self.log_rest(data["job_id"], data["instance_id"])
        return redacted(data)

    # -- the instance's log while the task waits ------------------------------------------------

    def follower(self, job_id: int, instance_id: int, shown: int = 0) -> LogFollower:
        """Where the task is in the instance's log (``shown`` lines, where it starts)."""
        from airflow_provider_schedulerx.utils.remote_logs import LogFollower

        key = (job_id, instance_id)
        if key not in self._followers:
            self._followers[key] = LogFollower(job_id, instance_id, shown)
        return self._followers[key]

    def resume_log(self, event: dict[str, Any], job_id: int, instance_id: int) -> None:
        """Take up the log where the trigger's event says it was left."""
        follower = self.follower(job_id, instance_id)
        follower.shown = max(follower.shown, int(event.get("log_lines_shown") or 0))

    def follow_log(self, instance: Any) -> None:
        """Show the log lines of ``instance`` (a job instance) written since the last poll
        (when ``stream_logs``)."""
        if not self.stream_logs:
            return
        job_id, instance_id = instance.job_id, instance.instance_id
        follower = self.follower(job_id, instance_id)
        call = follower.next_call((instance.status, instance.progress))
        if call is None:
            return
        try:
            lines = self.hook.client.run(call)
        except SchedulerXError as error:
            self.log.warning("Could not read the log of instance %d: %s", instance_id, error)
            return
        follower.take(lines, self.log)

    def log_rest(self, job_id: int, instance_id: int) -> None:
        """The log tail of an instance that ended, less what the task showed of it."""
        from airflow_provider_schedulerx.config import MAX_LOG_LINES
        from airflow_provider_schedulerx.hooks.schedulerx import LOG_TAIL_LINES

        follower = self._followers.get((job_id, instance_id))
        if follower is None or not follower.shown:
            self.log_tail(job_id, instance_id)
            return
        try:
            rest = self.hook.client.run(follower.rest_call(MAX_LOG_LINES))
        except SchedulerXError as error:
            self.log.warning("Could not read the log of instance %d: %s", instance_id, error)
            return
        if len(rest) >= MAX_LOG_LINES:
            self.log.info("[SchedulerX] ... more than %d lines not shown; the last ones:", MAX_LOG_LINES)
            self.log_tail(job_id, instance_id)
            return
        if len(rest) > LOG_TAIL_LINES:
            self.log.info("[SchedulerX] ... %d lines not shown", len(rest) - LOG_TAIL_LINES)
        follower.take(rest[-LOG_TAIL_LINES:], self.log)

    def defer_to_trigger(
        self, trigger_class: Any, *args: Any, poll_interval: float, deadline: float | None, **options: Any
    ) -> NoReturn:
        """Hand the wait to the triggerer: ``trigger_class(*args, **options)`` under the
        task's connection and waiting policy. Airflow's own deferral timeout backs up the
        trigger's deadline."""
        success, failure = self.policy.numbers()
        self.defer(
            trigger=trigger_class(
                *args,
                schedulerx_conn_id=self.schedulerx_conn_id,
                namespace=self.namespace,
                group_id=self.group_id,
                poll_interval=poll_interval,
                deadline=deadline,
                success_statuses=success,
                failure_statuses=failure,
                **options,
            ),
            method_name="execute_complete",
            timeout=defer_timeout(deadline),
        )

    # -- how it ends ----------------------------------------------------------------------

    def fail_with(self, instance: JobInstance | dict[str, Any], verdict: Verdict) -> NoReturn:
        """End the try for an instance that ended badly: its result and log tail in the
        message; retryable, so that a retry starts (or waits for) another instance."""
        from airflow_provider_schedulerx.utils.errors import SchedulerXInstanceFailed

        data = instance if isinstance(instance, dict) else instance.to_dict()
        tail = self.hook.log_tail(data["job_id"], data["instance_id"])
        message = (
            f"SchedulerX job {data['job_id']} instance {data['instance_id']} ended {data['status_name']}"
        )
        if verdict is Verdict.UNLISTED:
            message += ", a final status in neither success_statuses nor failure_statuses"
        if data.get("result"):
            message += f": {data['result']}"
        if tail:
            message += "\nLast log lines:\n" + "\n".join(f"  {line}" for line in tail)
        raise SchedulerXInstanceFailed(redacted(message))
