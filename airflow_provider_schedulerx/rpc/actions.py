"""The catalogue of SchedulerX actions: for each, its one definition, with the signature of
the client method that calls it, the checks of its arguments, and how its reply is read.

Each definition returns an :class:`ApiCall`; the sync and async clients (and through them
the hook) turn it into a method of the same signature, so that adding an action is one
definition here and one line per client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from airflow_provider_schedulerx.config import (
    MAX_LOG_LINES,
    shown,
    validate_count,
    validate_id,
    validate_name,
)
from airflow_provider_schedulerx.exceptions import SchedulerXConfigError, SchedulerXResponseError
from airflow_provider_schedulerx.models import JobInstance
from airflow_provider_schedulerx.rpc.calls import ApiCall, Scope, scope_of, whole_reply
from airflow_provider_schedulerx.rpc.replies import data_of, job_instance, the_one_named
from airflow_provider_schedulerx.statuses import InstanceStatus

__all__ = [
    "MAX_INSTANCE_PARAMETERS_BYTES",
    "MAX_LOG_LINES",
    "MAX_PAGE_SIZE",
    "ApiCall",
    "Scope",
    "call",
    "check_instance_parameters",
    "execute_job",
    "find_job",
    "get_job_info",
    "get_job_instance",
    "job_instance_page",
    "list_jobs",
    "list_namespaces",
    "retry_job_instance",
    "scope_of",
    "set_job_instance_success",
    "stop_instance",
]

T = TypeVar("T")
#: The largest page of a list: the service publishes no maximum, and its SDK's examples stay
#: well under this.
MAX_PAGE_SIZE = 100
#: ``ExecuteJob`` travels in the query string; the gateway refuses a longer one (HTTP 414).
MAX_INSTANCE_PARAMETERS_BYTES = 6144


def call(
    action: str, params: Mapping[str, Any] | None = None, *, method: str = "GET"
) -> ApiCall[dict[str, Any]]:
    """Call any SchedulerX action and return the whole reply (``RequestId``, ``Data``...).

    ``RegionId`` is added; ``Namespace``, ``GroupId`` and ``NamespaceSource`` are added from
    the client's defaults when set and not given in ``params``.
    """
    if not isinstance(action, str) or not action.isidentifier() or not action.isascii():
        raise SchedulerXConfigError(f"action: {shown(action)} is not a SchedulerX API action name")
    verb = method.upper() if isinstance(method, str) else method
    if verb not in ("GET", "POST"):
        raise SchedulerXConfigError(f"method: {shown(method)} must be GET or POST")
    if params is not None and not isinstance(params, Mapping):
        raise SchedulerXConfigError(
            f"params: expected a mapping of parameter names to values, got {shown(params)}"
        )
    return ApiCall(action, dict(params or {}), whole_reply, verb, scoped=False)


def check_instance_parameters(
    value: Any, setting: str = "instance_parameters", limit: int = MAX_INSTANCE_PARAMETERS_BYTES
) -> str | None:
    """Parameters of one run: a string whose URL-encoded form fits in ``limit`` bytes."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SchedulerXConfigError(f"{setting}: expected a string, got {shown(value)}")
    size = len(quote(value, safe="-_.~"))
    if size > limit:
        raise SchedulerXConfigError(
            f"{setting}: at most {limit} bytes once URL-encoded (the gateway refuses longer "
            f"requests), got {size}"
        )
    return value


def execute_job(
    job_id: int | str,
    *,
    instance_parameters: str | None = None,
    worker: str | None = None,
    worker_label: str | None = None,
    check_job_status: bool | None = None,
    namespace: str | None = None,
    group_id: str | None = None,
    namespace_source: str | None = None,
) -> ApiCall[int]:
    """Start a job now (``ExecuteJob``) and return the new instance's id, on ``worker`` (an
    address) or on a worker with ``worker_label``, if given.

    Never retried once the request may have reached the service: an ambiguous failure
    raises :class:`SchedulerXOutcomeUnknownError`.
    """
    worker = validate_name(worker, "worker", required=False)
    label = validate_name(worker_label, "worker_label", required=False)
    if worker and label:
        raise SchedulerXConfigError("worker and worker_label: designate a worker or a label, not both")
    if check_job_status is not None and not isinstance(check_job_status, bool):
        raise SchedulerXConfigError(
            f"check_job_status: expected true or false, got {shown(check_job_status)}"
        )
    params: dict[str, Any] = {
        "JobId": validate_id(job_id, "job_id"),
        "InstanceParameters": check_instance_parameters(instance_parameters),
        "CheckJobStatus": check_job_status,
    }
    if worker:
        params.update(DesignateType=1, Worker=worker)
    elif label:
        params.update(DesignateType=2, Label=label)

    def parse(reply: dict[str, Any], timezone: str) -> int:
        instance_id = data_of(reply, "ExecuteJob").integer("JobInstanceId")
        if instance_id <= 0:
            raise SchedulerXResponseError(
                f"ExecuteJob: the reply's JobInstanceId is {instance_id}, not an id"
            )
        return instance_id

    return ApiCall("ExecuteJob", params, parse, scope=scope_of(namespace, group_id, namespace_source))


class InstanceAction(Generic[T]):
    """An action on one instance of a job, named by ``JobId`` and the instance's id.

    :param read: given the job's and the instance's id, reads the reply.
    """

    def __init__(
        self,
        name: str,
        doc: str,
        action: str,
        method: str,
        instance_key: str,
        read: Callable[[int, int], Callable[[dict[str, Any], str], T]],
    ) -> None:
        self.__name__ = self.__qualname__ = name
        self.__doc__ = doc
        self._action, self._method, self._instance_key, self._read = action, method, instance_key, read

    def __call__(
        self,
        job_id: int | str,
        job_instance_id: int | str,
        *,
        namespace: str | None = None,
        group_id: str | None = None,
        namespace_source: str | None = None,
    ) -> ApiCall[T]:
        wanted_job, wanted = validate_id(job_id, "job_id"), validate_id(job_instance_id, "job_instance_id")
        return ApiCall(
            self._action,
            {"JobId": wanted_job, self._instance_key: wanted},
            self._read(wanted_job, wanted),
            self._method,
            scope=scope_of(namespace, group_id, namespace_source),
        )

    def __repr__(self) -> str:
        return f"<action {self._action}>"


#: The types of the values a ``JobInstanceDetail`` is compared by when polled again.
_SCALARS = frozenset({str, int, float, bool, type(None)})


class _TheInstance:
    """Reads the ``GetJobInstance`` replies of one instance. A poll mostly finds the instance
    as it was: a ``JobInstanceDetail`` equal to the last one read, value for value and type
    for type, all of them scalars, gives back the record read from that one (records are
    immutable) instead of reading it again."""

    __slots__ = ("_detail", "_instance", "_timezone", "_types", "_wanted", "_wanted_job")

    def __init__(self, wanted_job: int, wanted: int) -> None:
        self._wanted_job, self._wanted = wanted_job, wanted
        self._detail: dict[str, Any] | None = None
        self._types: list[type] = []
        self._timezone = ""
        self._instance: JobInstance | None = None

    def __call__(self, reply: dict[str, Any], timezone: str) -> JobInstance:
        data = reply.get("Data")
        detail = data.get("JobInstanceDetail") if type(data) is dict else None
        types = [*map(type, detail.values())] if type(detail) is dict else None
        if (
            self._instance is not None
            and detail == self._detail
            and types == self._types
            and timezone == self._timezone
        ):
            return self._instance
        instance = job_instance(data_of(reply, "GetJobInstance").child("JobInstanceDetail"), timezone)
        if (instance.job_id, instance.instance_id) != (self._wanted_job, self._wanted):
            raise SchedulerXResponseError(
                f"GetJobInstance: the reply describes instance {instance.instance_id} of job "
                f"{instance.job_id}, not instance {self._wanted} of job {self._wanted_job}"
            )
        if types is not None and _SCALARS.issuperset(types):
            self._detail, self._types, self._timezone, self._instance = detail, types, timezone, instance
        return instance


def _thewhole_reply(wanted_job: int, wanted: int) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    return whole_reply


get_job_instance = InstanceAction(
    "get_job_instance",
    "The instance's current state (``GetJobInstance``).",
    "GetJobInstance",
    "GET",
    "JobInstanceId",
    _TheInstance,
)
stop_instance = InstanceAction(
    "stop_instance",
    "Stop a waiting or running instance (``StopInstance``).",
    "StopInstance",
    "GET",
    "InstanceId",
    _thewhole_reply,
)
retry_job_instance = InstanceAction(
    "retry_job_instance",
    "Run a finished instance again (``RetryJobInstance``).",
    "RetryJobInstance",
    "POST",
    "JobInstanceId",
    _thewhole_reply,
)
set_job_instance_success = InstanceAction(
    "set_job_instance_success",
    "Mark a finished, unsuccessful instance as successful (``SetJobInstanceSuccess``).",
    "SetJobInstanceSuccess",
    "POST",
    "JobInstanceId",
    _thewhole_reply,
)


def get_job_info(
    job_id: int | str,
    *,
    job_name: str | None = None,
    namespace: str | None = None,
    group_id: str | None = None,
    namespace_source: str | None = None,
) -> ApiCall[dict[str, Any]]:
    """The job's configuration (``GetJobInfo``'s ``JobConfigInfo``)."""
    params = {
        "JobId": validate_id(job_id, "job_id"),
        "JobName": validate_name(job_name, "job_name", required=False),
    }

    def parse(reply: dict[str, Any], timezone: str) -> dict[str, Any]:
        return dict(data_of(reply, "GetJobInfo").child("JobConfigInfo").data)

    return ApiCall("GetJobInfo", params, parse, scope=scope_of(namespace, group_id, namespace_source))


def list_jobs(
    *,
    job_name: str | None = None,
    status: int | None = None,
    namespace: str | None = None,
    group_id: str | None = None,
    namespace_source: str | None = None,
) -> ApiCall[list[dict[str, Any]]]:
    """The jobs of the group (``ListJobs``), those whose name contains ``job_name`` if given;
    ``status`` 1 for the enabled ones, 0 for the disabled ones."""
    if status is not None and status not in (0, 1):
        raise SchedulerXConfigError(f"status: expected 0 (disabled) or 1 (enabled), got {shown(status)}")
    params = {"JobName": validate_name(job_name, "job_name", required=False), "Status": status}

    def parse(reply: dict[str, Any], timezone: str) -> list[dict[str, Any]]:
        return [dict(item.data) for item in data_of(reply, "ListJobs").objects("Jobs")]

    return ApiCall("ListJobs", params, parse, scope=scope_of(namespace, group_id, namespace_source))


def find_job(
    job_name: str,
    *,
    namespace: str | None = None,
    group_id: str | None = None,
    namespace_source: str | None = None,
) -> ApiCall[int]:
    """The id of the one job of the group named ``job_name`` (``ListJobs``, whose name
    filter also matches parts of names: only an exact match counts).

    :raises SchedulerXConfigError: when no job, or more than one, has that name.
    """
    name = validate_name(job_name, "job_name")

    def parse(reply: dict[str, Any], timezone: str) -> int:
        jobs = data_of(reply, "ListJobs").objects("Jobs")
        return the_one_named(jobs, "JobId", str(name), "job")

    return ApiCall(
        "ListJobs", {"JobName": name}, parse, scope=scope_of(namespace, group_id, namespace_source)
    )


def list_namespaces() -> ApiCall[list[dict[str, Any]]]:
    """The namespaces of the region (``ListNamespaces``)."""

    def parse(reply: dict[str, Any], timezone: str) -> list[dict[str, Any]]:
        return [dict(item.data) for item in data_of(reply, "ListNamespaces").objects("Namespaces")]

    return ApiCall("ListNamespaces", {}, parse, "POST", scoped=False)


def to_millis(value: datetime | int | None, setting: str) -> int | None:
    """An aware datetime (or epoch milliseconds) as epoch milliseconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise SchedulerXConfigError(f"{setting}: give a timezone-aware datetime, got {value!r}")
        return int(value.timestamp() * 1000)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53:
        return value
    raise SchedulerXConfigError(f"{setting}: expected a datetime or epoch milliseconds, got {shown(value)}")


def job_instance_page(
    job_id: int | str,
    *,
    status: InstanceStatus | int | None = None,
    start: datetime | int | None = None,
    end: datetime | int | None = None,
    page: int = 1,
    page_size: int = MAX_PAGE_SIZE,
    scope: Scope | None = None,
) -> ApiCall[list[JobInstance]]:
    """One page of a job's instances, newest first (``GetJobInstanceList``)."""
    wanted_job = validate_id(job_id, "job_id")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or status < 0):
        raise SchedulerXConfigError(f"status: expected an instance status number, got {shown(status)}")
    params = {
        "JobId": wanted_job,
        "Status": None if status is None else int(status),
        "StartTimestamp": to_millis(start, "start"),
        "EndTimestamp": to_millis(end, "end"),
        "PageNum": validate_count(page, "page", minimum=1),
        "PageSize": validate_count(page_size, "page_size", minimum=1, maximum=MAX_PAGE_SIZE),
    }

    def parse(reply: dict[str, Any], timezone: str) -> list[JobInstance]:
        items = [
            job_instance(item, timezone)
            for item in data_of(reply, "GetJobInstanceList").objects("JobInstanceDetails")
        ]
        if strays := [item.instance_id for item in items if item.job_id != wanted_job]:
            raise SchedulerXResponseError(
                f"GetJobInstanceList: the reply for job {wanted_job} lists instances of other "
                f"jobs: {strays[:5]}"
            )
        return items

    return ApiCall("GetJobInstanceList", params, parse, scope=scope or Scope())
