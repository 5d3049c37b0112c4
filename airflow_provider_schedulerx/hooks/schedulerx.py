"""The SchedulerX hook: an Airflow connection turned into a signed SchedulerX client."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from airflow.providers.common.compat.sdk import BaseHook, mask_secret

from airflow_provider_schedulerx.client import AsyncSchedulerXClient, SchedulerXClient
from airflow_provider_schedulerx.hooks import connection_form
from airflow_provider_schedulerx.hooks.console import ConsoleLinks

if TYPE_CHECKING:
    from airflow_provider_schedulerx.exceptions import SchedulerXError
    from airflow_provider_schedulerx.hooks.connection import ConnectionSettings
    from airflow_provider_schedulerx.models import JobInstance
    from airflow_provider_schedulerx.rpc.calls import ApiCall

__all__ = ["SchedulerXHook"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
#: Log lines shown of an instance that ended.
LOG_TAIL_LINES = 20
#: When ExecuteJob's reply is lost, the instances started through the API since this long
#: before the call (allowing for clock skew), at most this many, are candidates for its own.
LOST_START_CLOCK_MARGIN = 60.0
LOST_START_CANDIDATES = 20
#: After ExecuteJob's reply was lost and no instance of it shows yet, the lookup is made once
#: more this many seconds later, before the job is started again.
LOST_START_SETTLE_SECONDS = 5.0
#: The longest a stop may take: a task being killed has little time left.
STOP_WITHIN = 10.0


def _forward(
    method: Callable[Concatenate[SchedulerXClient, P], R],
) -> Callable[Concatenate[SchedulerXHook, P], R]:
    """The hook's method that calls the client's method of the same name and signature."""
    name = method.__name__

    @functools.wraps(method)
    def forward(self: SchedulerXHook, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return getattr(self.client, name)(*args, **kwargs)

    return forward


class SchedulerXHook(ConsoleLinks, BaseHook):
    """Calls the Alibaba Cloud SchedulerX OpenAPI with the credentials of an Airflow connection.

    The connection's login and password are the AccessKey ID and Secret; its extras set the
    region, default namespace and group, STS token or RAM role, and transport settings (see
    docs/connection.rst). With no AccessKey, the ``ALIBABA_CLOUD_*`` environment variables
    or RRSA/OIDC are used, as in Alibaba's own credential chain. Each API method is the
    client's (:class:`~airflow_provider_schedulerx.client.SchedulerXClient`), with its
    signature.

    :param schedulerx_conn_id: the Airflow connection to use.
    :param namespace: namespace for calls that do not name one (default: the connection's).
    :param group_id: application group for calls that do not name one (default: the
        connection's).
    :param namespace_source: ``NamespaceSource`` (default: the connection's).
    """

    conn_name_attr = "schedulerx_conn_id"
    default_conn_name = connection_form.DEFAULT_CONN_ID
    conn_type = connection_form.CONN_TYPE
    hook_name = connection_form.HOOK_NAME

    def __init__(
        self,
        schedulerx_conn_id: str = default_conn_name,
        *,
        namespace: str | None = None,
        group_id: str | None = None,
        namespace_source: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.schedulerx_conn_id = schedulerx_conn_id
        self.namespace = namespace
        self.group_id = group_id
        self.namespace_source = namespace_source

    def __repr__(self) -> str:
        return f"SchedulerXHook(schedulerx_conn_id={self.schedulerx_conn_id!r})"

    # -- connection ---------------------------------------------------------------------------

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (Airflow before 3.2; newer versions read
        them from provider info)."""
        return connection_form.wtforms_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabelled and hidden standard fields of the connection form."""
        return connection_form.ui_field_behaviour()

    def settings_from_connection(self, conn: Any) -> ConnectionSettings:
        """Read an Airflow Connection (sync or async lookup, any Airflow version): its
        secrets are registered with Airflow's secrets masker, and what may be a mistake in it
        is logged as a warning."""
        from airflow_provider_schedulerx.hooks.connection import ConnectionSettings
        from airflow_provider_schedulerx.rpc.redaction import set_redactor

        extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else conn.extra
        settings = ConnectionSettings.from_fields(
            login=conn.login, password=conn.password, host=conn.host, port=conn.port, extra=extra
        )
        for value in (settings.access_key_secret, settings.security_token):
            if value:
                mask_secret(value)
        for warning in settings.warnings:
            self.log.warning("Connection %s: %s", self.schedulerx_conn_id, warning)
        set_redactor(_redact_text)
        return settings

    @cached_property
    def settings(self) -> ConnectionSettings:
        """The connection's settings, read once per hook."""
        return self.settings_from_connection(self.get_connection(self.schedulerx_conn_id))

    def _client_kwargs(self, settings: ConnectionSettings) -> dict[str, Any]:
        kwargs = settings.client_kwargs()
        for name in ("namespace", "group_id", "namespace_source"):
            if getattr(self, name):
                kwargs[name] = getattr(self, name)
        return kwargs

    @cached_property
    def client(self) -> SchedulerXClient:
        """The synchronous client, built once per hook; its HTTP connections are pooled."""
        settings = self.settings
        credentials = settings.shared_credentials_provider()
        credentials.on_new_secret = mask_secret
        return SchedulerXClient(credentials, settings.config, **self._client_kwargs(settings))

    def get_conn(self) -> SchedulerXClient:
        return self.client

    async def get_async_client(self) -> AsyncSchedulerXClient:
        """An async client; the connection is read without blocking the event loop (and
        without the deadlock that reading it synchronously risks in a triggerer)."""
        from airflow.providers.common.compat.connection import get_async_connection

        settings = self.settings_from_connection(await get_async_connection(self.schedulerx_conn_id))
        self.__dict__["settings"] = settings
        credentials = settings.shared_credentials_provider()
        credentials.on_new_secret = mask_secret
        return AsyncSchedulerXClient(credentials, settings.config, **self._client_kwargs(settings))

    # -- API: the client's methods ------------------------------------------------------------

    call = _forward(SchedulerXClient.call)
    get_job_instance = _forward(SchedulerXClient.get_job_instance)
    list_job_instances = _forward(SchedulerXClient.list_job_instances)
    execute_job = _forward(SchedulerXClient.execute_job)
    stop_instance = _forward(SchedulerXClient.stop_instance)
    retry_job_instance = _forward(SchedulerXClient.retry_job_instance)
    set_job_instance_success = _forward(SchedulerXClient.set_job_instance_success)
    get_log = _forward(SchedulerXClient.get_log)
    get_job_info = _forward(SchedulerXClient.get_job_info)
    list_jobs = _forward(SchedulerXClient.list_jobs)
    find_job = _forward(SchedulerXClient.find_job)
    find_in_window = _forward(SchedulerXClient.find_in_window)
    execute_workflow = _forward(SchedulerXClient.execute_workflow)
    get_workflow_instance = _forward(SchedulerXClient.get_workflow_instance)
    list_workflow_instances = _forward(SchedulerXClient.list_workflow_instances)
    set_workflow_instance_success = _forward(SchedulerXClient.set_workflow_instance_success)
    get_workflow = _forward(SchedulerXClient.get_workflow)
    list_workflows = _forward(SchedulerXClient.list_workflows)
    find_workflow = _forward(SchedulerXClient.find_workflow)
    list_namespaces = _forward(SchedulerXClient.list_namespaces)

    # -- what the tasks do with the API ----------------------------------------------------------

    def log_tail(self, job_id: int, job_instance_id: int, *, lines: int = LOG_TAIL_LINES) -> list[str]:
        """The last log lines of an instance, oldest first; none if they cannot be had (a
        missing log must not hide the outcome being reported)."""
        from airflow_provider_schedulerx.exceptions import SchedulerXError

        try:
            return self.get_log(job_id, job_instance_id, lines=lines)
        except SchedulerXError as error:
            self.log.warning("Could not read the log of instance %s: %s", job_instance_id, error)
            return []

    def stop_if_running(self, job_id: int, job_instance_id: int, *, reason: str) -> bool:
        """Stop the instance unless it has ended; True if it was stopped. Bounded by
        :data:`STOP_WITHIN` seconds, since a task being killed has little time left; a stop
        that fails is logged, not raised."""
        from airflow_provider_schedulerx.exceptions import SchedulerXBusinessError, SchedulerXError
        from airflow_provider_schedulerx.rpc import actions

        try:
            self.client.run(
                actions.stop_instance(job_id, job_instance_id), deadline=time.time() + STOP_WITHIN
            )
        except SchedulerXBusinessError as refusal:  # the instance is not running (any more)
            self.log.info("SchedulerX job %s instance %s not stopped: %s", job_id, job_instance_id, refusal)
            return False
        except SchedulerXError as error:
            self.log.error("Could not stop SchedulerX job %s instance %s: %s", job_id, job_instance_id, error)
            return False
        self.log.info("Stopped SchedulerX job %s instance %s (%s)", job_id, job_instance_id, reason)
        return True

    def start_job(
        self,
        job_id: int,
        *,
        instance_parameters: str | None = None,
        worker: str | None = None,
        worker_label: str | None = None,
        check_job_status: bool | None = None,
    ) -> int:
        """Start the job once (``ExecuteJob``) and return the instance's id. When the reply
        is lost, the one instance the call can have started is followed; if none shows, the
        lookup is made again after :data:`LOST_START_SETTLE_SECONDS`, then the job is
        started again. Raises :class:`SchedulerXOutcomeUnknownError` when several instances
        fit, or when they cannot be looked up: starting it again could run the job twice."""

        def send() -> int:
            instance_id = self.execute_job(
                job_id,
                instance_parameters=instance_parameters,
                worker=worker,
                worker_label=worker_label,
                check_job_status=check_job_status,
            )
            self.log.info("Started SchedulerX job %d: instance %d", job_id, instance_id)
            return instance_id

        return self.start_once(
            send,
            lambda since: self.find_started_instances(
                job_id, since=since, instance_parameters=instance_parameters
            ),
            "ExecuteJob",
            "the job",
        )

    def start_once(
        self, send: Callable[[], int], find: Callable[[float], list[int]], action: str, what: str
    ) -> int:
        """``send()`` a start once and return the instance's id. When the reply is lost,
        the one instance that ``find(since)`` gives is followed; if none shows, the lookup is
        made again after :data:`LOST_START_SETTLE_SECONDS`, then the start is sent again.
        Raises :class:`SchedulerXOutcomeUnknownError` when several instances fit, or when
        they cannot be looked up: sending it again could run the work twice."""
        from airflow_provider_schedulerx.exceptions import SchedulerXError, SchedulerXOutcomeUnknownError

        sent_at = time.time()
        try:
            return send()
        except SchedulerXOutcomeUnknownError as error:
            lost = error
        for look in range(2):
            if look:
                time.sleep(LOST_START_SETTLE_SECONDS)
            try:
                matches = find(sent_at)
            except SchedulerXError as lookup_error:
                raise SchedulerXOutcomeUnknownError(
                    f"{lost}. Looking for the instance it may have started failed too "
                    f"({lookup_error}); not starting {what} again"
                ) from None
            if len(matches) == 1:
                self.log.warning(
                    "%s's reply was lost (%s), but it started instance %d; following it",
                    action,
                    lost,
                    matches[0],
                )
                return matches[0]
            if matches:
                raise SchedulerXOutcomeUnknownError(
                    f"{lost}. Since the call, instances {matches} match this task; not starting {what} again"
                ) from None
        self.log.warning(
            "%s's reply was lost (%s) and no instance of it shows; starting %s again", action, lost, what
        )
        return send()

    def find_started_instances(
        self, job_id: int, *, since: float, instance_parameters: str | None
    ) -> list[int]:
        """The instances ExecuteJob may have started at or after ``since`` (epoch seconds)
        with these parameters: started through the API, newest first."""
        from airflow_provider_schedulerx.models import TriggerType

        since_ms = int((since - LOST_START_CLOCK_MARGIN) * 1000)
        recent = self.list_job_instances(job_id, start=since_ms, limit=LOST_START_CANDIDATES)
        candidates = [item.instance_id for item in recent if item.trigger_type == TriggerType.API]
        wanted = instance_parameters or ""
        return [
            instance_id
            for instance_id in candidates
            if (self.get_job_instance(job_id, instance_id).parameters or "") == wanted
        ]

    def poll_until(
        self,
        job_id: int,
        job_instance_id: int,
        *,
        done: Callable[[JobInstance], bool],
        tolerate: Callable[[SchedulerXError], bool],
        poll_interval: float,
        deadline: float | None,
        seen: Callable[[JobInstance], None] | None = None,
    ) -> JobInstance | None:
        """Poll the instance every ``poll_interval`` seconds until ``done`` says so (and
        return it), or until ``deadline`` (epoch seconds; return ``None``). A failed poll
        that ``tolerate`` forgives is polled again; any other is raised. ``seen`` hears of
        every instance polled."""
        from airflow_provider_schedulerx.rpc import actions

        return self.poll_call(
            actions.get_job_instance(job_id, job_instance_id),
            done=done,
            tolerate=tolerate,
            poll_interval=poll_interval,
            deadline=deadline,
            seen=seen,
        )

    def poll_call(
        self,
        call: ApiCall[T],
        *,
        done: Callable[[T], bool],
        tolerate: Callable[[SchedulerXError], bool],
        poll_interval: float,
        deadline: float | None,
        seen: Callable[[T], None] | None = None,
    ) -> T | None:
        """:meth:`poll_until`, of any call's reply."""
        from airflow_provider_schedulerx.exceptions import SchedulerXError

        while True:
            if deadline is not None and time.time() >= deadline:
                return None
            try:
                reply = self.client.run(call, deadline=deadline)
            except SchedulerXError as error:
                if not tolerate(error):
                    raise
            else:
                if seen is not None:
                    seen(reply)
                if done(reply):
                    return reply
            wait = poll_interval if deadline is None else min(poll_interval, max(0.0, deadline - time.time()))
            time.sleep(wait)

    def test_connection(self) -> tuple[bool, str]:
        """Check the credentials, endpoint, namespace and group with one read-only call
        (``ListJobs``, or ``ListNamespaces`` when no namespace is set). Used by the UI's
        Test button: answers within 10 seconds whatever the endpoint does, and a failure
        names the field to fix."""
        from airflow_provider_schedulerx.hooks.connection_check import check_connection, failure_reason

        try:
            settings = self.settings
        except Exception as error:  # a connection that cannot be read is a failed test too
            return False, failure_reason(error, "the configured endpoint")
        return check_connection(settings, self._client_kwargs(settings))


def _redact_text(text: str) -> object:
    from airflow.providers.common.compat.sdk import redact

    return redact(text)
