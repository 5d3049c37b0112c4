"""SchedulerX API clients: :class:`SchedulerXClient` (``requests``) and
:class:`AsyncSchedulerXClient` (``aiohttp``). Neither needs Airflow.

Both send every call signed, retry transient failures with backoff (never a call that must
not run twice, unless it surely did not arrive), bound every call in time and every reply in
size, and raise :class:`SchedulerXError` subclasses that carry the service's code, message
and request id. Their methods are the actions of
:mod:`~airflow_provider_schedulerx.rpc.actions`, one definition each.

>>> client = SchedulerXClient(StaticCredentialsProvider("ak", "secret"),
...                           ClientConfig(region_id="cn-hangzhou"),
...                           namespace="my-namespace", group_id="my.group")
>>> client.get_job_instance(1234, 5678).status          # doctest: +SKIP
<InstanceStatus.SUCCESS: 4>
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from airflow_provider_schedulerx.config import ClientConfig, validate_name
from airflow_provider_schedulerx.credentials import CredentialsProvider
from airflow_provider_schedulerx.exceptions import SchedulerXConfigError
from airflow_provider_schedulerx.models import DEFAULT_TIMEZONE, JobInstance, check_timezone
from airflow_provider_schedulerx.rpc import actions, logs, workflows
from airflow_provider_schedulerx.rpc.calls import ApiCall
from airflow_provider_schedulerx.rpc.protocol import stringify_params
from airflow_provider_schedulerx.rpc.windows import WindowSearch, run_plan, run_plan_async
from airflow_provider_schedulerx.statuses import InstanceStatus

if TYPE_CHECKING:
    import requests

    from airflow_provider_schedulerx.rpc.engine import AsyncEngine, CallStats, SyncEngine

__all__ = ["ApiCall", "AsyncSchedulerXClient", "SchedulerXClient"]

T = TypeVar("T")
P = ParamSpec("P")


@functools.lru_cache(maxsize=64)
def _scope_params(
    namespace: str | None, group_id: str | None, namespace_source: str | None, region_id: str
) -> dict[str, str]:
    """The scope parameters, checked once per combination (a poll loop repeats one)."""
    scope = {
        "Namespace": validate_name(namespace, "namespace"),
        "GroupId": validate_name(group_id, "group_id"),
        "RegionId": region_id,
    }
    if namespace_source:
        scope["NamespaceSource"] = namespace_source
    return scope  # type: ignore[return-value]


class _BaseClient:
    """What both clients share: settings and the scope defaults."""

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
        self.namespace = validate_name(namespace, "namespace", required=False)
        self.group_id = validate_name(group_id, "group_id", required=False)
        self.namespace_source = validate_name(namespace_source, "namespace_source", required=False)
        try:
            self.timezone = check_timezone(timezone)
        except ValueError as error:
            raise SchedulerXConfigError(str(error)) from None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(endpoint={self.config.endpoint!r}, "
            f"namespace={self.namespace!r}, group_id={self.group_id!r})"
        )

    def _params(self, call: ApiCall[Any]) -> dict[str, str]:
        params = stringify_params(call.params)
        if not call.scoped:
            defaults = {
                "Namespace": self.namespace,
                "GroupId": self.group_id,
                "NamespaceSource": self.namespace_source,
                "RegionId": self.config.region_id,
            }
            return {key: value for key, value in defaults.items() if value} | params
        scope = call.scope
        return {
            **_scope_params(
                scope.namespace or self.namespace,
                scope.group_id or self.group_id,
                scope.namespace_source or self.namespace_source,
                self.config.region_id,
            ),
            **params,
        }


def _with_self(method: Any, build: Callable[..., Any]) -> None:
    """Give ``method`` the signature of ``build`` with ``self`` first, so that introspection
    (``help()``, a bound method's signature) shows the method's own parameters."""
    signature = inspect.signature(build)
    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    method.__signature__ = signature.replace(parameters=[this, *signature.parameters.values()])


def _sync(build: Callable[P, ApiCall[T]]) -> Callable[Concatenate[SchedulerXClient, P], T]:
    """The sync client's method for one action of the catalogue."""

    @functools.wraps(build)
    def method(self: SchedulerXClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.run(build(*args, **kwargs))

    _with_self(method, build)
    return method


def _async(
    build: Callable[P, ApiCall[T]],
) -> Callable[Concatenate[AsyncSchedulerXClient, P], Coroutine[Any, Any, T]]:
    """The async client's method for one action of the catalogue."""

    @functools.wraps(build)
    async def method(self: AsyncSchedulerXClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.run(build(*args, **kwargs))

    _with_self(method, build)
    return method


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
        from airflow_provider_schedulerx.rpc.engine import SyncEngine
        from airflow_provider_schedulerx.rpc.sync import SyncTransport

        transport = SyncTransport(
            self.config.endpoint,
            connect_timeout=self.config.connect_timeout,
            verify_ssl=self.config.verify_ssl,
            session=session,
        )
        self.engine: SyncEngine = SyncEngine(credentials, self.config, transport)

    @property
    def stats(self) -> CallStats:
        return self.engine.stats

    @property
    def session(self) -> requests.Session:
        return self.engine.transport.session

    def close(self) -> None:
        self.engine.transport.close()

    def __enter__(self) -> SchedulerXClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, call: ApiCall[T], *, deadline: float | None = None) -> T:
        """Send ``call`` (with retries) and return its parsed reply.

        :param deadline: epoch seconds by which the call must be over, if earlier than its
            ``retry_deadline``.
        """
        return self.engine.run(call, self._params(call), self.timezone, deadline=deadline)

    call = _sync(actions.call)
    get_job_instance = _sync(actions.get_job_instance)
    execute_job = _sync(actions.execute_job)
    stop_instance = _sync(actions.stop_instance)
    retry_job_instance = _sync(actions.retry_job_instance)
    set_job_instance_success = _sync(actions.set_job_instance_success)
    get_log = _sync(logs.get_log)
    get_job_info = _sync(actions.get_job_info)
    list_jobs = _sync(actions.list_jobs)
    find_job = _sync(actions.find_job)
    list_namespaces = _sync(actions.list_namespaces)
    execute_workflow = _sync(workflows.execute_workflow)
    get_workflow_instance = _sync(workflows.get_workflow_instance)
    list_workflow_instances = _sync(workflows.list_workflow_instances)
    set_workflow_instance_success = _sync(workflows.set_workflow_instance_success)
    get_workflow = _sync(workflows.get_workflow)
    list_workflows = _sync(workflows.list_workflows)
    find_workflow = _sync(workflows.find_workflow)

    def find_in_window(self, search: WindowSearch) -> JobInstance | None:
        """The job's newest instance in the search's window, or ``None`` (one or two
        ``GetJobInstanceList`` calls; one more the first time, for the job's data offset)."""
        return run_plan(search.plan(), self.run)

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
        namespace_source: str | None = None,
    ) -> Iterator[JobInstance]:
        """Instances of a job, newest first, fetched page by page (``GetJobInstanceList``).

        :param start: only instances scheduled at or after this time (aware datetime or ms).
        :param end: only instances scheduled before this time.
        :param page_size: instances per page, at most 100.
        :param limit: stop after this many instances.
        """
        scope = actions.scope_of(namespace, group_id, namespace_source)
        first = actions.job_instance_page(
            job_id, status=status, start=start, end=end, page_size=page_size, scope=scope
        )
        return self._pages(first, page_size, limit)

    def _pages(
        self, first: ApiCall[list[JobInstance]], page_size: int, limit: int | None
    ) -> Iterator[JobInstance]:
        yielded, page, call = 0, 1, first
        while True:
            items = self.run(call)
            for item in items:
                if limit is not None and yielded >= limit:
                    return
                yield item
                yielded += 1
            if len(items) < page_size:
                return
            page += 1
            call = ApiCall(
                call.action, {**call.params, "PageNum": page}, call.parse, call.method, scope=call.scope
            )


class AsyncSchedulerXClient(_BaseClient):
    """Asynchronous client over the event loop's shared ``aiohttp`` session. Same arguments
    as :class:`SchedulerXClient`."""

    def __init__(self, credentials: CredentialsProvider, config: ClientConfig | None = None, **kwargs: Any):
        super().__init__(credentials, config, **kwargs)
        from airflow_provider_schedulerx.rpc.engine import AsyncEngine

        self.engine: AsyncEngine = AsyncEngine(credentials, self.config)

    @property
    def stats(self) -> CallStats:
        return self.engine.stats

    async def run(self, call: ApiCall[T], *, deadline: float | None = None) -> T:
        """Send ``call`` (with retries) and return its parsed reply.

        :param deadline: epoch seconds by which the call must be over, if earlier than its
            ``retry_deadline``.
        """
        return await self.engine.run(call, self._params(call), self.timezone, deadline=deadline)

    def prepared(self, call: ApiCall[T], *, deadline: float | None = None) -> Callable[[], Awaitable[T]]:
        """``call``, to be awaited again and again (a trigger's poll): its arguments are
        checked and its parameters laid out once, not on every call."""
        return functools.partial(self.engine.run, call, self._params(call), self.timezone, deadline=deadline)

    call = _async(actions.call)
    get_job_instance = _async(actions.get_job_instance)
    stop_instance = _async(actions.stop_instance)
    find_job = _async(actions.find_job)
    execute_workflow = _async(workflows.execute_workflow)
    get_workflow_instance = _async(workflows.get_workflow_instance)
    list_workflow_instances = _async(workflows.list_workflow_instances)
    set_workflow_instance_success = _async(workflows.set_workflow_instance_success)
    get_workflow = _async(workflows.get_workflow)
    list_workflows = _async(workflows.list_workflows)
    find_workflow = _async(workflows.find_workflow)

    async def find_in_window(
        self, search: WindowSearch, *, deadline: float | None = None
    ) -> JobInstance | None:
        """As :meth:`SchedulerXClient.find_in_window`; no call outlives ``deadline``."""
        return await run_plan_async(search.plan(), functools.partial(self.run, deadline=deadline))
