"""The SchedulerX hook: an Airflow connection turned into a signed SchedulerX client."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_schedulerx import connection_form
from airflow_provider_schedulerx.compat import BaseHook, mask_secret

if TYPE_CHECKING:
    from airflow_provider_schedulerx.client import AsyncSchedulerXClient, SchedulerXClient
    from airflow_provider_schedulerx.connection import ConnectionSettings
    from airflow_provider_schedulerx.models import InstanceStatus, JobInstance

__all__ = ["SchedulerXHook"]


class SchedulerXHook(BaseHook):
    """Calls the Alibaba Cloud SchedulerX OpenAPI with the credentials of an Airflow connection.

    The connection's login and password are the AccessKey ID and Secret; its extras set the
    region, default namespace and group, STS token or RAM role, and transport settings (see
    the provider's README). With no AccessKey, the ``ALIBABA_CLOUD_*`` environment variables
    or RRSA/OIDC are used, as in Alibaba's own credential chain.

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

    @staticmethod
    def settings_from_connection(conn: Any) -> ConnectionSettings:
        """Read an Airflow Connection (sync or async lookup, any Airflow version)."""
        from airflow_provider_schedulerx.connection import ConnectionSettings

        extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else conn.extra
        settings = ConnectionSettings.from_fields(
            login=conn.login, password=conn.password, host=conn.host, port=conn.port, extra=extra
        )
        for value in (settings.access_key_secret, settings.security_token):
            if value:
                mask_secret(value)
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
        from airflow_provider_schedulerx.client import SchedulerXClient

        settings = self.settings
        credentials = settings.shared_credentials_provider()
        credentials.on_new_secret = mask_secret
        return SchedulerXClient(credentials, settings.config, **self._client_kwargs(settings))

    def get_conn(self) -> SchedulerXClient:
        return self.client

    async def get_async_client(self) -> AsyncSchedulerXClient:
        """An async client; the connection is looked up without blocking the event loop."""
        from airflow_provider_schedulerx.client import AsyncSchedulerXClient

        settings = self.settings_from_connection(await _aget_connection(self.schedulerx_conn_id))
        credentials = settings.shared_credentials_provider()
        credentials.on_new_secret = mask_secret
        return AsyncSchedulerXClient(credentials, settings.config, **self._client_kwargs(settings))

    @property
    def console_url(self) -> str:
        return self.settings.console_url

    def instance_console_url(self, namespace: str | None = None) -> str:
        """The console page listing the namespace's job instances."""
        from airflow_provider_schedulerx.links.schedulerx import console_url

        settings = self.settings
        return console_url(
            settings.console_url, settings.config.region_id, namespace or self.client.namespace
        )

    # -- API ----------------------------------------------------------------------------------

    def get_job_instance(
        self,
        job_id: int | str,
        job_instance_id: int | str,
        *,
        namespace: str | None = None,
        group_id: str | None = None,
    ) -> JobInstance:
        """The instance's current state (``GetJobInstance``)."""
        return self.client.get_job_instance(job_id, job_instance_id, namespace=namespace, group_id=group_id)

    def list_job_instances(
        self,
        job_id: int | str,
        *,
        status: InstanceStatus | int | None = None,
        start: datetime | int | None = None,
        end: datetime | int | None = None,
        page_size: int = 50,
        limit: int | None = None,
        namespace: str | None = None,
        group_id: str | None = None,
    ) -> Iterator[JobInstance]:
        """A job's instances, newest first, page by page (``GetJobInstanceList``)."""
        return self.client.list_job_instances(
            job_id,
            status=status,
            start=start,
            end=end,
            page_size=page_size,
            limit=limit,
            namespace=namespace,
            group_id=group_id,
        )

    def execute_job(
        self,
        job_id: int | str,
        *,
        instance_parameters: str | None = None,
        worker: str | None = None,
        label: str | None = None,
        check_job_status: bool | None = None,
        namespace: str | None = None,
        group_id: str | None = None,
    ) -> int:
        """Start the job now (``ExecuteJob``); returns the new instance's id."""
        return self.client.execute_job(
            job_id,
            instance_parameters=instance_parameters,
            worker=worker,
            label=label,
            check_job_status=check_job_status,
            namespace=namespace,
            group_id=group_id,
        )

    def stop_instance(
        self,
        job_id: int | str,
        job_instance_id: int | str,
        *,
        namespace: str | None = None,
        group_id: str | None = None,
    ) -> dict[str, Any]:
        """Stop a running instance (``StopInstance``)."""
        return self.client.stop_instance(job_id, job_instance_id, namespace=namespace, group_id=group_id)

    def retry_job_instance(
        self,
        job_id: int | str,
        job_instance_id: int | str,
        *,
        namespace: str | None = None,
        group_id: str | None = None,
    ) -> dict[str, Any]:
        """Run a finished instance again (``RetryJobInstance``)."""
        return self.client.retry_job_instance(job_id, job_instance_id, namespace=namespace, group_id=group_id)

    def set_job_instance_success(
        self,
        job_id: int | str,
        job_instance_id: int | str,
        *,
        namespace: str | None = None,
        group_id: str | None = None,
    ) -> dict[str, Any]:
        """Mark a finished instance successful (``SetJobInstanceSuccess``)."""
        return self.client.set_job_instance_success(
            job_id, job_instance_id, namespace=namespace, group_id=group_id
        )

    def get_log(
        self,
        job_id: int | str,
        job_instance_id: int | str,
        *,
        lines: int = 200,
        keyword: str | None = None,
        namespace: str | None = None,
        group_id: str | None = None,
    ) -> list[str]:
        """The instance's last ``lines`` log lines, oldest first (``GetLog``)."""
        return self.client.get_log(
            job_id, job_instance_id, lines=lines, keyword=keyword, namespace=namespace, group_id=group_id
        )

    def get_job_info(
        self, job_id: int | str, *, namespace: str | None = None, group_id: str | None = None
    ) -> dict[str, Any]:
        """The job's configuration (``GetJobInfo``)."""
        return self.client.get_job_info(job_id, namespace=namespace, group_id=group_id)

    def call(
        self, action: str, params: Mapping[str, Any] | None = None, *, method: str = "GET"
    ) -> dict[str, Any]:
        """Call any SchedulerX action, signed, and return the whole reply."""
        return self.client.call(action, params, method=method)

    def test_connection(self) -> tuple[bool, str]:
        """Check the credentials, endpoint, namespace and group with one read-only call
        (``ListJobs``, or ``ListNamespaces`` when no namespace is set). Used by the UI's
        Test button: answers within a few seconds, and a failure names the field to fix."""
        from airflow_provider_schedulerx.connection_check import check_connection, failure_reason

        try:
            settings = self.settings
        except Exception as error:  # a connection that cannot be read is a failed test too
            return False, failure_reason(error, "the configured endpoint")
        return check_connection(settings, self._client_kwargs(settings))


async def _aget_connection(conn_id: str) -> Any:
    aget = getattr(BaseHook, "aget_connection", None)
    if aget is not None:
        return await aget(conn_id)
    from asgiref.sync import sync_to_async

    return await sync_to_async(BaseHook.get_connection)(conn_id)
