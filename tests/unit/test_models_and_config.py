from __future__ import annotations

import json
import pickle

import pendulum
import pytest

from airflow_provider_schedulerx.config import (
    ClientConfig,
    default_endpoint,
    normalize_endpoint,
    validate_id,
    validate_name,
)
from airflow_provider_schedulerx.exceptions import (
    SchedulerXAuthError,
    SchedulerXBusinessError,
    SchedulerXConfigError,
    SchedulerXError,
    SchedulerXResponseError,
    SchedulerXServerError,
    SchedulerXThrottledError,
)
from airflow_provider_schedulerx.models import (
    InstanceStatus,
    TimeType,
    TriggerType,
    parse_service_time,
    parse_statuses,
)
from airflow_provider_schedulerx.rpc.protocol import parse_reply
from airflow_provider_schedulerx.rpc.replies import ReplyFields, job_instance


def from_api(detail, timezone="Asia/Shanghai"):
    return job_instance(ReplyFields("GetJobInstance", detail, "JobInstanceDetail"), timezone)


DETAIL = {
    "DataTime": "2026-11-24 10:00:00",
    "EndTime": "2026-11-24 10:00:05",
    "Executor": "worker-1",
    "InstanceId": 1_000_000_000_001,
    "JobId": 101,
    "JobName": "nightly-etl",
    "Parameters": "date=2026-11-24",
    "Progress": "100%",
    "Result": "ok",
    "ScheduleTime": "2026-11-24 10:00:00",
    "StartTime": "2026-11-24 10:00:01",
    "Status": 4,
    "TimeType": 100,
    "TraceId": "abc",
    "TriggerType": 3,
    "WorkAddr": "10.0.0.1:16888",
}


def test_every_documented_status_value():
    expected = {
        0: "UNKNOWN",
        1: "WAITING",
        2: "READY",
        3: "RUNNING",
        4: "SUCCESS",
        5: "FAILED",
        6: "KILLED",
        7: "PAUSED",
        8: "SUBMITTED",
        9: "REJECTED",
        10: "ACCEPTED",
        11: "PARTIAL_FAILED",
        12: "SKIPPED",
        99: "REMOVED",
    }
    assert {s.value: s.name for s in InstanceStatus} == expected


def test_unknown_service_status_is_kept_not_a_crash():
    status = InstanceStatus(42)
    assert int(status) == 42
    assert not status.recognized
    assert status.name == "UNRECOGNIZED_42"
    instance = from_api({**DETAIL, "Status": 42})
    assert instance.status == 42
    assert not instance.is_finished
    assert instance.to_dict()["status_name"] == "unrecognized 42"


def test_parse_statuses_accepts_names_numbers_members_and_rejects_the_rest():
    assert parse_statuses(["success", 5, "PARTIAL_FAILED", InstanceStatus.KILLED, "9"], "s") == {
        InstanceStatus.SUCCESS,
        InstanceStatus.FAILED,
        InstanceStatus.PARTIAL_FAILED,
        InstanceStatus.KILLED,
        InstanceStatus.REJECTED,
    }
    with pytest.raises(ValueError, match=r"success_statuses: 'done' is not a SchedulerX instance status"):
        parse_statuses(["done"], "success_statuses")
    with pytest.raises(ValueError, match="4 \\(success\\)"):
        parse_statuses([42], "failure_statuses")


def test_job_instance_from_api_reads_every_field_with_pendulum_times():
    instance = from_api(DETAIL)
    assert instance.status is InstanceStatus.SUCCESS
    assert instance.time_type is TimeType.API
    assert instance.trigger_type is TriggerType.API
    assert instance.start_time == pendulum.datetime(2026, 11, 24, 10, 0, 1, tz="Asia/Shanghai")
    assert instance.start_time.timezone_name == "Asia/Shanghai"
    assert instance.duration == 4
    assert instance.is_finished and instance.is_success
    assert (instance.executor, instance.work_addr, instance.trace_id) == ("worker-1", "10.0.0.1:16888", "abc")
    data = instance.to_dict()
    json.dumps(data)
    assert data["start_time"] == "2026-11-24T10:00:01+08:00"
    assert "took 4s" in instance.summary()


def test_times_in_a_configured_zone_and_empty_strings():
    instance = from_api({**DETAIL, "EndTime": "", "StartTime": None}, timezone="UTC")
    assert instance.end_time is None and instance.start_time is None
    assert instance.schedule_time == pendulum.datetime(2026, 11, 24, 10, tz="UTC")
    assert parse_service_time(1764000000000, "UTC") == pendulum.from_timestamp(1764000000, tz="UTC")


def test_list_items_without_name_parameters_trace():
    item = {k: v for k, v in DETAIL.items() if k not in ("JobName", "Parameters", "TraceId")}
    instance = from_api(item)
    assert instance.job_name is None and instance.parameters is None


@pytest.mark.parametrize(
    ("region", "network", "endpoint"),
    [
        ("cn-hangzhou", "public", "https://schedulerx.cn-hangzhou.aliyuncs.com"),
        ("cn-shenzhen", "public", "https://schedulerx.cn-shenzhen.aliyuncs.com"),
        ("ap-southeast-1", "public", "https://schedulerx.aliyuncs.com"),
        ("cn-beijing", "vpc", "https://schedulerx-vpc.cn-beijing.aliyuncs.com"),
    ],
)
def test_default_endpoints(region, network, endpoint):
    assert default_endpoint(region, network) == endpoint
    assert ClientConfig(region_id=region, network=network).endpoint == endpoint


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("schedulerx.cn-hangzhou.aliyuncs.com", "https://schedulerx.cn-hangzhou.aliyuncs.com"),
        ("https://example.com:8443/", "https://example.com:8443"),
        ("http://127.0.0.1:8866", "http://127.0.0.1:8866"),
        ("http://localhost:1", "http://localhost:1"),
        ("http://[::1]:8866", "http://[::1]:8866"),
    ],
)
def test_endpoint_normalization(value, expected):
    assert normalize_endpoint(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://schedulerx.aliyuncs.com", "plain http to a non-loopback host"),
        ("http://10.0.0.5:8866", "plain http to a non-loopback host"),
        ("ftp://x", "must use https"),
        ("https://host/path", "must not have a path"),
        ("https://user:pw@host", "not a valid endpoint"),
        ("https://host:99999", "invalid port"),
        ("", "expected a host name or URL"),
    ],
)
def test_bad_endpoints_are_refused_with_the_reason(value, message):
    with pytest.raises(SchedulerXConfigError, match=message):
        normalize_endpoint(value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"signature_version": "v2"}, "signature_version: 'v2' is not one of v3, v1"),
        ({"network": "intranet"}, "network: 'intranet' is not one of public, vpc"),
        ({"timeout": 0}, "timeout: expected a number of seconds at least 0.1 and at most 600, got 0"),
        ({"timeout": -1}, "timeout: expected a number of seconds at least 0.1"),
        (
            {"timeout": float("inf")},
            "timeout: expected a number of seconds at least 0.1 and at most 600, got inf",
        ),
        ({"timeout": float("nan")}, "timeout: expected a number of seconds"),
        ({"timeout": "10"}, "timeout: expected a number of seconds at least 0.1 and at most 600, got '10'"),
        ({"backoff": float("nan")}, "backoff: expected a number of seconds"),
        ({"max_retries": 1.5}, "max_retries: expected a whole number from 0 to 20, got 1.5"),
        ({"max_retries": 21}, "max_retries: expected a whole number from 0 to 20, got 21"),
        ({"verify_ssl": "yes"}, "verify_ssl: expected true or false"),
        ({"max_retries": -1}, "max_retries"),
        ({"region_id": "Hangzhou"}, "region_id"),
    ],
)
def test_bad_settings_fail_before_any_call(kwargs, message):
    with pytest.raises(SchedulerXConfigError, match=message):
        ClientConfig(**kwargs)


@pytest.mark.parametrize(
    "value",
    ["abc", "-1", -5, 0, "", None, 1.5, True, "12a", "\u00b2", "\uff11\uff10\uff11", "9" * 5000, 2**63],
)
def test_bad_ids(value):
    with pytest.raises(
        SchedulerXConfigError, match="job_id: expected a SchedulerX id, a whole number from 1 to"
    ):
        validate_id(value, "job_id")


def test_an_overlong_id_is_not_repeated_in_full():
    with pytest.raises(SchedulerXConfigError) as caught:
        validate_id("9" * 5000, "job_id")
    assert len(str(caught.value)) < 200


def test_good_ids_and_names():
    assert validate_id(" 42 ", "job_id") == 42
    assert validate_id(7, "job_id") == 7
    assert validate_name(" ns ", "namespace") == "ns"
    with pytest.raises(SchedulerXConfigError, match="namespace is required"):
        validate_name("", "namespace")
    with pytest.raises(SchedulerXConfigError, match="must not contain spaces"):
        validate_name("a b", "group_id")


def _reply(status, body, headers=None):
    return parse_reply(status, headers or {}, json.dumps(body).encode(), action="GetJobInstance")


def test_reply_errors_map_to_classes():
    gateway = {"RequestId": "R1", "HostId": "h", "Message": "m", "Recommend": "https://r"}
    with pytest.raises(SchedulerXThrottledError) as throttled:
        _reply(400, {**gateway, "Code": "Throttling.User"}, {"x-acs-retry-after": "1500"})
    assert throttled.value.retry_after == 1.5 and throttled.value.retryable
    with pytest.raises(SchedulerXServerError):
        _reply(503, {**gateway, "Code": "ServiceUnavailable"})
    with pytest.raises(SchedulerXAuthError, match="AccessKey Secret does not match") as auth:
        _reply(
            400,
            {
                **gateway,
                "Code": "SignatureDoesNotMatch",
                "Message": "Specified signature is not matched with our calculation. server string "
                "to sign is:GET&%2F&SecurityToken%3Dleaky",
            },
        )
    assert "leaky" not in str(auth.value)
    assert auth.value.request_id == "R1" and auth.value.http_status == 400 and not auth.value.retryable
    with pytest.raises(SchedulerXAuthError, match="clock"):
        _reply(400, {**gateway, "Code": "InvalidTimeStamp.Expired"})
    with pytest.raises(SchedulerXAuthError, match="permission"):
        _reply(403, {**gateway, "Code": "Forbidden.RAM"})
    with pytest.raises(SchedulerXBusinessError, match="not match groupId") as business:
        _reply(
            200,
            {"Code": 500, "Success": False, "Message": "jobid: 1 not match groupId: g", "RequestId": "R2"},
        )
    assert business.value.code == "500" and business.value.request_id == "R2"
    with pytest.raises(SchedulerXResponseError):
        parse_reply(200, {}, b"{not json", action="GetJobInstance")
    with pytest.raises(SchedulerXServerError):
        parse_reply(502, {}, b"<html>bad gateway</html>", action="GetJobInstance")
    assert _reply(200, {"Success": True, "Data": {}})["Data"] == {}


def test_errors_survive_pickling_and_have_useful_text():
    error = SchedulerXThrottledError(
        "slow down", code="Throttling", request_id="R", http_status=400, retry_after=2.0
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is SchedulerXThrottledError
    assert (copy.code, copy.request_id, copy.http_status) == ("Throttling", "R", 400)
    assert str(error) == "Throttling: slow down (HTTP 400, RequestId R)"
    assert isinstance(SchedulerXConfigError("x"), ValueError)
    assert issubclass(SchedulerXAuthError, SchedulerXError)
