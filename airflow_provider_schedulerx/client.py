"""SchedulerX API clients: :class:`SchedulerXClient` (``requests``) and
:class:`AsyncSchedulerXClient` (``aiohttp``). Neither needs Airflow.

Both send every call signed, retry transient failures with backoff (never a call that must
not run twice, unless it surely did not arrive), and raise :class:`SchedulerXError`
subclasses that carry the service's code, message and request id.

>>> client = SchedulerXClient(StaticCredentialsProvider("ak", "secret"),
...                           ClientConfig(region_id="cn-hangzhou"),
...                           namespace="my-namespace", group_id="my.group")
>>> client.get_job_instance(1234, 5678).status          # doctest: +SKIP
<InstanceStatus.SUCCESS: 4>
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from airflow_provider_schedulerx.config import API_VERSION, ClientConfig, validate_id, validate_name
from airflow_provider_schedulerx.credentials import CredentialsProvider
from airflow_provider_schedulerx.exceptions import (
    SchedulerXAuthError,
    SchedulerXConfigError,
    SchedulerXConnectionError,
    SchedulerXError,
)
from airflow_provider_schedulerx.models import (
    DEFAULT_TIMEZONE,
    InstanceStatus,
    JobInstance,
    ServiceTimeReader,
)
from airflow_provider_schedulerx.protocol import (
    PreparedRequest,
    RequestTemplate,
    install_url_redaction,
    parse_reply,
    stringify_params,
)
from airflow_provider_schedulerx.retries import RetryPolicy, is_idempotent

if TYPE_CHECKING:
    import aiohttp
    import requests
    import yarl

__all__ = ["ApiCall", "AsyncSchedulerXClient", "CallStats", "SchedulerXClient"]

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_LOG_LINES = 200
MAX_REMEMBERED_SCOPES = 16
#: Calls whose request template a client keeps (a poll loop repeats one call).
MAX_REMEMBERED_REQUESTS = 16


@dataclass
class CallStats:
    """What a client has sent: attempts, retries and the time spent waiting between them."""

    calls: int = 0
    attempts: int = 0
    retries: int = 0
    retry_wait: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    def _record_error(self, error: SchedulerXError) -> None:
        key = error.code or type(error).__name__
        self.errors[key] = self.errors.get(key, 0) + 1


@dataclass(frozen=True)
class ApiCall(Generic[T]):
    """One action: its parameters, and how to read its reply.

    :param scoped: add the namespace, group and region parameters.
    """

    action: str
    params: Mapping[str, Any]
    parse: Callable[[dict[str, Any]], T]
    method: str = "GET"
    scoped: bool = True


def _data(reply: dict[str, Any]) -> dict[str, Any]:
    data = reply.get("Data")
    return data if isinstance(data, dict) else {}


def _to_millis(value: datetime | int | float | None, setting: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise SchedulerXConfigError(f"{setting}: give a timezone-aware datetime, got {value!r}")
        return int(value.timestamp() * 1000)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    raise SchedulerXConfigError(f"{setting}: expected a datetime or epoch milliseconds, got {value!r}")


@dataclass
class _Attempts:
    started: float
    retries: int = 0
    renewed_credentials: bool = False
    #: False while the credentials are obtained: a failure then left the service untouched.
    sending: bool = False


class _BaseClient:
    """What both clients share: settings, scope defaults and the call definitions."""

    def __init__(
        self,
        credentials: CredentialsProvider,
        config: ClientConfig | None = None,
        *,
        namespace: str | None = None,
        group_id: str | None = None,
        namespace_source: str | None = None,
        timezone: str = DEFAULT_TIMEZONE,
    ):
        self.credentials = credentials
        self.config = config or ClientConfig()
        self.namespace = namespace or None
        self.group_id = group_id or None
        self.namespace_source = namespace_source or None
        self.timezone = timezone
        try:
            self._read_time = ServiceTimeReader(timezone)
        except ValueError:
            raise SchedulerXConfigError(
                f"timezone: {timezone!r} is not a known time zone (an IANA name such as Asia/Shanghai or UTC)"
            ) from None
        self._scopes: dict[tuple[str | None, str | None, str | None], dict[str, str]] = {}
        self._templates: dict[tuple[Any, ...], RequestTemplate] = {}
        self.retry_policy = RetryPolicy(
            max_retries=self.config.max_retries,
            deadline=self.config.retry_deadline,
            backoff=self.config.backoff,
            backoff_max=self.config.backoff_max,
        )
        self.stats = CallStats()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(endpoint={self.config.endpoint!r}, "
            f"namespace={self.namespace!r}, group_id={self.group_id!r})"
        )

    # -- request building ---------------------------------------------------------------

    def _scope(
        self, namespace: str | None = None, group_id: str | None = None, namespace_source: str | None = None
    ) -> dict[str, str]:
        """The scope parameters, validated once per combination (a poll loop repeats one)."""
        key = (
            namespace or self.namespace,
            group_id or self.group_id,
            namespace_source or self.namespace_source,
        )
        scope = self._scopes.get(key)
        if scope is None:
            if len(self._scopes) >= MAX_REMEMBERED_SCOPES:
                self._scopes.clear()
            scope = self._scopes[key] = self._validated_scope(*key)
        return scope

    def _validated_scope(
        self, namespace: str | None, group_id: str | None, namespace_source: str | None
    ) -> dict[str, str]:
        scope = {
            "Namespace": validate_name(namespace, "namespace"),
            "GroupId": validate_name(group_id, "group_id"),
            "RegionId": self.config.region_id,
        }
        if namespace_source:
            scope["NamespaceSource"] = namespace_source
        return scope

    def _params(self, call: ApiCall[Any], scope: Mapping[str, str | None]) -> dict[str, str]:
        params = stringify_params(call.params)
        if call.scoped:
            params = {**self._scope(**scope), **params}  # type: ignore[arg-type]
        else:
            params.setdefault("RegionId", self.config.region_id)
        return params

    def _prepare(self, call: ApiCall[Any], params: dict[str, str], credentials: Any) -> PreparedRequest:
        """One signed attempt of ``call``, from the call's request template (made once)."""
        key = (call.action, call.method, tuple(params.items()), credentials)
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) >= MAX_REMEMBERED_REQUESTS:
                self._templates.clear()
            template = self._templates[key] = RequestTemplate(
                action=call.action,
                version=API_VERSION,
                params=params,
                method=call.method,
                endpoint=self.config.endpoint,
                access_key_id=credentials.access_key_id,
                access_key_secret=credentials.access_key_secret,
                security_token=credentials.security_token,
                signature_version=self.config.signature_version,
                user_agent=self.config.user_agent,
            )
        return template.sign()

    def _after_failure(self, call: ApiCall[Any], error: SchedulerXError, state: _Attempts) -> float:
        """Seconds to wait before retrying ``call``; raises the final error instead when
        retrying is over. An expired STS token is renewed and retried once, at once."""
        self.stats._record_error(error)
        if (
            isinstance(error, SchedulerXAuthError)
            and (error.code or "").startswith("InvalidSecurityToken")
            and self.credentials.refreshable
            and not state.renewed_credentials
        ):
            self.credentials.invalidate()
            state.renewed_credentials = True
            return 0.0
        idempotent = is_idempotent(call.action) or not state.sending
        delay = self.retry_policy.delay(error, state.retries, time.monotonic() - state.started, idempotent)
        if delay is None:
            raise RetryPolicy.final_error(error, call.action, idempotent) from None
        state.retries += 1
        self.stats.retries += 1
        self.stats.retry_wait += delay
        log.warning(
            "%s failed (%s); retry %d of %d in %.1fs",
            call.action,
            error,
            state.retries,
            self.retry_policy.max_retries,
            delay,
        )
        return delay

    # -- call definitions (shared by the sync and async clients) --------------------------

    def _raw_call(
        self, action: str, params: Mapping[str, Any] | None, method: str
    ) -> ApiCall[dict[str, Any]]:
        if not isinstance(action, str) or not action.isidentifier():
            raise SchedulerXConfigError(f"action: {action!r} is not a SchedulerX API action name")
        method = method.upper()
        if method not in ("GET", "POST"):
            raise SchedulerXConfigError(f"method: {method!r} must be GET or POST")
        defaults = {
            "Namespace": self.namespace,
            "GroupId": self.group_id,
            "NamespaceSource": self.namespace_source,
        }
        merged = {key: value for key, value in defaults.items() if value} | dict(params or {})
        return ApiCall(action, merged, lambda reply: reply, method, scoped=False)

    def _get_job_instance(self, job_id: Any, job_instance_id: Any) -> ApiCall[JobInstance]:
        params = {
            "JobId": validate_id(job_id, "job_id"),
            "JobInstanceId": validate_id(job_instance_id, "job_instance_id"),
        }

        def parse(reply: dict[str, Any]) -> JobInstance:
            detail = _data(reply).get("JobInstanceDetail")
            if not isinstance(detail, dict) or "InstanceId" not in detail:
                raise SchedulerXError(
                    f"GetJobInstance: no instance {params['JobInstanceId']} of job {params['JobId']} "
                    "in the reply",
                    request_id=reply.get("RequestId"),
                )
            return JobInstance.from_api(detail, read_time=self._read_time)

        return ApiCall("GetJobInstance", params, parse)

    def _execute_job(
        self,
        job_id: Any,
        instance_parameters: str | None,
        worker: str | None,
        label: str | None,
        check_job_status: bool | None,
    ) -> ApiCall[int]:
        if worker and label:
            raise SchedulerXConfigError("worker and label: designate a worker or a label, not both")
        params: dict[str, Any] = {
            "JobId": validate_id(job_id, "job_id"),
            "InstanceParameters": instance_parameters or None,
            "CheckJobStatus": check_job_status,
        }
        if worker:
            params.update(DesignateType=1, Worker=worker)
        elif label:
            params.update(DesignateType=2, Label=label)

        def parse(reply: dict[str, Any]) -> int:
            instance_id = _data(reply).get("JobInstanceId")
            if instance_id is None:
                raise SchedulerXError(
                    "ExecuteJob: the reply holds no JobInstanceId", request_id=reply.get("RequestId")
                )
            return int(instance_id)

        return ApiCall("ExecuteJob", params, parse)

    def _instance_action(
        self, action: str, job_id: Any, job_instance_id: Any, method: str, instance_key: str = "JobInstanceId"
    ) -> ApiCall[dict[str, Any]]:
        params = {
            "JobId": validate_id(job_id, "job_id"),
            instance_key: validate_id(job_instance_id, "job_instance_id"),
        }
        return ApiCall(action, params, lambda reply: reply, method)

    def _get_log(
        self, job_id: Any, job_instance_id: Any, lines: int, keyword: str | None
    ) -> ApiCall[list[str]]:
        if not isinstance(lines, int) or isinstance(lines, bool) or not 1 <= lines <= MAX_LOG_LINES:
            raise SchedulerXConfigError(f"lines: expected 1 to {MAX_LOG_LINES}, got {lines!r}")
        params = {
            "JobId": str(validate_id(job_id, "job_id")),
            "JobInstanceId": str(validate_id(job_instance_id, "job_instance_id")),
            "Line": lines,
            "Keyword": keyword or None,
            "Reverse": True,
        }

        def parse(reply: dict[str, Any]) -> list[str]:
            logs = _data(reply).get("Logs") or []
            # Asked newest first, so that the tail is what comes back; shown oldest first.
            return [str(line) for line in reversed(logs)]

        return ApiCall("GetLog", params, parse)

    def _get_job_info(self, job_id: Any, job_name: str | None) -> ApiCall[dict[str, Any]]:
        params = {"JobId": validate_id(job_id, "job_id"), "JobName": job_name or None}
        return ApiCall("GetJobInfo", params, lambda reply: _data(reply).get("JobConfigInfo") or {})

    def _list_jobs(self, job_name: str | None, status: int | None) -> ApiCall[list[dict[str, Any]]]:
        params = {"JobName": job_name or None, "Status": status}
        return ApiCall("ListJobs", params, lambda reply: list(_data(reply).get("Jobs") or []))

    def _list_namespaces(self) -> ApiCall[list[dict[str, Any]]]:
        return ApiCall(
            "ListNamespaces",
            {},
            lambda reply: list(_data(reply).get("Namespaces") or []),
            "POST",
            scoped=False,
        )

    def _job_instance_page(
        self, job_id: Any, status: Any, start_ms: int | None, end_ms: int | None, page: int, size: int
    ) -> ApiCall[list[JobInstance]]:
        params = {
            "JobId": validate_id(job_id, "job_id"),
            "Status": None if status is None else int(status),
            "StartTimestamp": start_ms,
            "EndTimestamp": end_ms,
            "PageNum": page,
            "PageSize": size,
        }

        def parse(reply: dict[str, Any]) -> list[JobInstance]:
            items = _data(reply).get("JobInstanceDetails") or []
            return [JobInstance.from_api(item, read_time=self._read_time) for item in items]

        return ApiCall("GetJobInstanceList", params, parse)


class SchedulerXClient(_BaseClient):
    """Synchronous client over a pooled ``requests.Session``.

    :param credentials: where the signing keys come from.
    :param config: endpoint, signature version, timeouts and retries.
    :param namespace: default ``Namespace`` of every scoped call.
    :param group_id: default ``GroupId`` of every scoped call.
    :param namespace_source: default ``NamespaceSource``, if the namespace needs one.
    :param timezone: zone of the service's wall-clock times.
    :param session: a ``requests.Session`` to use instead of the client's own.
    """

    def __init__(
        self,
        credentials: CredentialsProvider,
        config: ClientConfig | None = None,
        *,
        session: requests.Session | None = None,
        **kwargs: Any,
    ):
        super().__init__(credentials, config, **kwargs)
        self._session = session
        self._session_lock = threading.Lock()
        self._adapter: tuple[Any, dict[str, Any]] | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            with self._session_lock:
                if self._session is None:
                    import requests

                    from airflow_provider_schedulerx.http_adapter import SchedulerXAdapter

                    install_url_redaction()
                    session = requests.Session()
                    adapter = SchedulerXAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
                    session.mount("https://", adapter)
                    session.mount("http://", adapter)
                    session.verify = self.config.verify_ssl
                    self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
            self._adapter = None

    def __enter__(self) -> SchedulerXClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, call: ApiCall[T], **scope: str | None) -> T:
        """Send ``call`` (with retries) and return its parsed reply."""
        params = self._params(call, scope)
        state = _Attempts(time.monotonic())
        self.stats.calls += 1
        while True:
            try:
                state.sending = False
                credentials = self.credentials.get_credentials()
                state.sending = True
                reply = self._send(self._prepare(call, params, credentials), call.action)
                return call.parse(reply)
            except SchedulerXError as error:
                time.sleep(self._after_failure(call, error, state))

    def _transport(self) -> tuple[Any, dict[str, Any]]:
        """The session's adapter for the endpoint, and the settings ``Session.request`` would
        merge from the environment (proxies, CA bundle), worked out once per client: a
        signed call is already a complete request, so it goes straight to the adapter."""
        if self._adapter is None:
            session = self.session
            endpoint = self.config.endpoint + "/"
            verify = None if self.config.verify_ssl else False
            settings: dict[str, Any] = dict(
                session.merge_environment_settings(endpoint, {}, False, verify, None)
            )
            settings["timeout"] = (self.config.connect_timeout, self.config.timeout)
            self._adapter = (session.get_adapter(endpoint), settings)
        return self._adapter

    def _send(self, request: PreparedRequest, action: str) -> dict[str, Any]:
        import requests

        self.stats.attempts += 1
        adapter, settings = self._transport()
        prepared = requests.PreparedRequest()
        prepared.method, prepared.url, prepared.body = request.method, request.url, request.body or None
        prepared.headers = requests.structures.CaseInsensitiveDict(request.headers)
        if prepared.body is not None:
            prepared.headers["content-length"] = str(len(prepared.body))
        try:
            response = adapter.send(prepared, **settings)
            body = response.content
        except requests.RequestException as exc:
            raise _requests_error(exc, action, self.config.endpoint) from None
        return parse_reply(response.status_code, response.headers, body, action=action)

    # -- the API ----------------------------------------------------------------------------

    def call(
        self, action: str, params: Mapping[str, Any] | None = None, *, method: str = "GET"
    ) -> dict[str, Any]:
        """Call any SchedulerX action and return the whole reply (``RequestId``, ``Data``...).

        ``RegionId`` is added; ``Namespace``, ``GroupId`` and ``NamespaceSource`` are added
        from the client's defaults when set and not given in ``params``.
        """
        return self.run(self._raw_call(action, params, method))

    def get_job_instance(
        self,
        job_id: Any,
        job_instance_id: Any,
        *,
        namespace: str | None = None,
        group_id: str | None = None,
        namespace_source: str | None = None,
    ) -> JobInstance:
        """The instance's current state (``GetJobInstance``)."""
        return self.run(
            self._get_job_instance(job_id, job_instance_id),
            namespace=namespace,
            group_id=group_id,
            namespace_source=namespace_source,
        )

    def execute_job(
        self,
        job_id: Any,
        *,
        instance_parameters: str | None = None,
        worker: str | None = None,
        label: str | None = None,
        check_job_status: bool | None = None,
        namespace: str | None = None,
        group_id: str | None = None,
        namespace_source: str | None = None,
    ) -> int:
        """Start a job now (``ExecuteJob``) and return the new instance's id.

        Never retried once the request may have reached the service: an ambiguous failure
        raises :class:`SchedulerXOutcomeUnknownError`.
        """
        return self.run(
            self._execute_job(job_id, instance_parameters, worker, label, check_job_status),
            namespace=namespace,
            group_id=group_id,
            namespace_source=namespace_source,
        )

    def stop_instance(self, job_id: Any, job_instance_id: Any, **scope: str | None) -> dict[str, Any]:
        """Stop a running instance (``StopInstance``)."""
        return self.run(
            self._instance_action("StopInstance", job_id, job_instance_id, "GET", "InstanceId"), **scope
        )

    def retry_job_instance(self, job_id: Any, job_instance_id: Any, **scope: str | None) -> dict[str, Any]:
        """Run a finished instance again (``RetryJobInstance``)."""
        return self.run(self._instance_action("RetryJobInstance", job_id, job_instance_id, "POST"), **scope)

    def set_job_instance_success(
        self, job_id: Any, job_instance_id: Any, **scope: str | None
    ) -> dict[str, Any]:
        """Mark a finished instance as successful (``SetJobInstanceSuccess``)."""
        return self.run(
            self._instance_action("SetJobInstanceSuccess", job_id, job_instance_id, "POST"), **scope
        )

    def get_log(
        self,
        job_id: Any,
        job_instance_id: Any,
        *,
        lines: int = MAX_LOG_LINES,
        keyword: str | None = None,
        **scope: str | None,
    ) -> list[str]:
        """The last ``lines`` log lines of an instance, oldest first (``GetLog``)."""
        return self.run(self._get_log(job_id, job_instance_id, lines, keyword), **scope)

    def get_job_info(
        self, job_id: Any, *, job_name: str | None = None, **scope: str | None
    ) -> dict[str, Any]:
        """The job's configuration (``GetJobInfo``'s ``JobConfigInfo``)."""
        return self.run(self._get_job_info(job_id, job_name), **scope)

    def list_jobs(
        self, *, job_name: str | None = None, status: int | None = None, **scope: str | None
    ) -> list[dict[str, Any]]:
        """The jobs of the group (``ListJobs``)."""
        return self.run(self._list_jobs(job_name, status), **scope)

    def list_namespaces(self) -> list[dict[str, Any]]:
        """The namespaces of the region (``ListNamespaces``)."""
        return self.run(self._list_namespaces())

    def list_job_instances(
        self,
        job_id: Any,
        *,
        status: InstanceStatus | int | None = None,
        start: datetime | int | None = None,
        end: datetime | int | None = None,
        page_size: int = 50,
        limit: int | None = None,
        namespace: str | None = None,
        group_id: str | None = None,
        namespace_source: str | None = None,
    ) -> Iterator[JobInstance]:
        """Instances of a job, newest first, fetched page by page (``GetJobInstanceList``).

        :param start: only instances scheduled at or after this time (aware datetime or ms).
        :param end: only instances scheduled before this time.
        :param limit: stop after this many instances.
        """
        if not 1 <= page_size <= 100:
            raise SchedulerXConfigError(f"page_size: expected 1 to 100, got {page_size!r}")
        start_ms, end_ms = _to_millis(start, "start"), _to_millis(end, "end")
        scope = {"namespace": namespace, "group_id": group_id, "namespace_source": namespace_source}
        yielded = 0
        page = 1
        while True:
            items = self.run(
                self._job_instance_page(job_id, status, start_ms, end_ms, page, page_size), **scope
            )
            for item in items:
                if limit is not None and yielded >= limit:
                    return
                yield item
                yielded += 1
            if len(items) < page_size:
                return
            page += 1


_TLS_FAILURE = (
    "TLS failed: the endpoint's certificate could not be verified (fix the endpoint, or set "
    "verify_ssl to false only if you trust the network)"
)


def _requests_error(exc: Exception, action: str, endpoint: str) -> SchedulerXConnectionError:
    import requests

    sent = True
    reason = type(exc).__name__
    if isinstance(exc, requests.exceptions.SSLError):
        sent, reason = False, _TLS_FAILURE
    elif isinstance(exc, requests.ConnectTimeout):
        sent, reason = False, "connection timed out"
    elif isinstance(exc, requests.ReadTimeout):
        reason = "no reply before the timeout"
    elif isinstance(exc, requests.exceptions.ChunkedEncodingError):
        reason = "connection lost before the reply"
    elif isinstance(exc, requests.ConnectionError):
        cause = exc.args[0] if exc.args else None
        inner = getattr(cause, "reason", cause)
        from urllib3.exceptions import NameResolutionError, NewConnectionError

        if isinstance(inner, (NewConnectionError, NameResolutionError)):
            sent = False
            # urllib3 2 makes NameResolutionError a kind of NewConnectionError: test it first.
            reason = "host name not found" if isinstance(inner, NameResolutionError) else "cannot connect"
        else:
            reason = "connection lost before the reply"
    return SchedulerXConnectionError(f"{action}: {reason} ({endpoint})", sent=sent)


# -- async --------------------------------------------------------------------------------

_shared_sessions: dict[int, tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession]] = {}
_CONNECTION_LIMIT = 64


def shared_session() -> aiohttp.ClientSession:
    """The one pooled ``aiohttp`` session of the running event loop (a triggerer process
    has one loop, so all its triggers share one pool of keep-alive connections)."""
    import aiohttp

    loop = asyncio.get_running_loop()
    entry = _shared_sessions.get(id(loop))
    if entry is not None and entry[0] is loop and not entry[1].closed:
        return entry[1]
    for key, (other_loop, _) in list(_shared_sessions.items()):
        if other_loop.is_closed():
            del _shared_sessions[key]
    connector = aiohttp.TCPConnector(limit=_CONNECTION_LIMIT, ttl_dns_cache=300, keepalive_timeout=30)
    # The API sets no cookies: a jar that keeps none spares every poll the cookie filtering.
    session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
    _shared_sessions[id(loop)] = (loop, session)
    return session


async def close_shared_session() -> None:
    """Close the running loop's shared session (tests and shutdown)."""
    entry = _shared_sessions.pop(id(asyncio.get_running_loop()), None)
    if entry is not None:
        await entry[1].close()


class AsyncSchedulerXClient(_BaseClient):
    """Asynchronous client over the event loop's shared ``aiohttp`` session; the calls a
    trigger needs. Same arguments as :class:`SchedulerXClient`."""

    _timeout: aiohttp.ClientTimeout | None = None

    def __init__(self, credentials: CredentialsProvider, config: ClientConfig | None = None, **kwargs: Any):
        super().__init__(credentials, config, **kwargs)
        self._urls: dict[str, yarl.URL] = {}

    async def run(self, call: ApiCall[T], **scope: str | None) -> T:
        """Send ``call`` (with retries) and return its parsed reply."""
        return await self._run(call, self._params(call, scope))

    def job_instance_poll(
        self, job_id: Any, job_instance_id: Any, **scope: str | None
    ) -> Callable[[], Awaitable[JobInstance]]:
        """:meth:`get_job_instance` of one instance, to be awaited again and again (a
        trigger's poll): its ids are checked and its parameters laid out once, not on every
        call."""
        call = self._get_job_instance(job_id, job_instance_id)
        return functools.partial(self._run, call, self._params(call, scope))

    async def _run(self, call: ApiCall[T], params: dict[str, str]) -> T:
        state = _Attempts(time.monotonic())
        self.stats.calls += 1
        while True:
            try:
                state.sending = False
                credentials = await self.credentials.get_credentials_async()
                state.sending = True
                reply = await self._send(self._prepare(call, params, credentials), call.action)
                return call.parse(reply)
            except SchedulerXError as error:
                await asyncio.sleep(self._after_failure(call, error, state))

    async def _send(self, request: PreparedRequest, action: str) -> dict[str, Any]:
        import aiohttp

        self.stats.attempts += 1
        if self._timeout is None:
            # The same limits as the sync client's (connect, read). Timers that only run
            # while connecting cost a pooled poll nothing; a total or pool-wait timer would
            # be armed and cancelled on every poll.
            self._timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=self.config.connect_timeout, sock_read=self.config.timeout
            )
        try:
            async with shared_session().request(
                request.method,
                self._url(request.url),
                headers=request.headers,
                data=request.body or None,
                timeout=self._timeout,
                ssl=self.config.verify_ssl,
            ) as response:
                body = await response.read()
                return parse_reply(response.status, response.headers, body, action=action)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _aiohttp_error(exc, action, self.config.endpoint) from None

    def _url(self, url: str) -> yarl.URL:
        """``url`` as ``aiohttp`` takes it, parsed once per call (a poll loop sends one URL
        again and again, and yarl remembers only its last 128), and sent exactly as signed,
        without requoting."""
        parsed = self._urls.get(url)
        if parsed is None:
            import yarl

            if len(self._urls) >= MAX_REMEMBERED_REQUESTS:
                self._urls.clear()
            parsed = self._urls[url] = yarl.URL(url, encoded=True)
        return parsed

    async def call(
        self, action: str, params: Mapping[str, Any] | None = None, *, method: str = "GET"
    ) -> dict[str, Any]:
        return await self.run(self._raw_call(action, params, method))

    async def get_job_instance(self, job_id: Any, job_instance_id: Any, **scope: str | None) -> JobInstance:
        return await self.run(self._get_job_instance(job_id, job_instance_id), **scope)

    async def stop_instance(self, job_id: Any, job_instance_id: Any, **scope: str | None) -> dict[str, Any]:
        return await self.run(
            self._instance_action("StopInstance", job_id, job_instance_id, "GET", "InstanceId"), **scope
        )

    async def get_log(
        self,
        job_id: Any,
        job_instance_id: Any,
        *,
        lines: int = MAX_LOG_LINES,
        keyword: str | None = None,
        **scope: str | None,
    ) -> list[str]:
        return await self.run(self._get_log(job_id, job_instance_id, lines, keyword), **scope)


def _aiohttp_error(exc: BaseException, action: str, endpoint: str) -> SchedulerXConnectionError:
    import aiohttp

    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return SchedulerXConnectionError(f"{action}: connection timed out ({endpoint})", sent=False)
    if isinstance(exc, aiohttp.ClientSSLError):
        return SchedulerXConnectionError(f"{action}: {_TLS_FAILURE} ({endpoint})", sent=False)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return SchedulerXConnectionError(f"{action}: cannot connect ({endpoint})", sent=False)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return SchedulerXConnectionError(f"{action}: no reply before the timeout ({endpoint})")
    return SchedulerXConnectionError(f"{action}: connection lost before the reply ({endpoint})")
