"""Fault injection: every kind, counted and rate-based faults, action filters, and the
rule that faults (but ``reset``) only hit authenticated requests."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_schedulerx.emulator import Faults

JOB = {"JobId": 201}


def code_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["Code"]


def test_throttle_with_retry_after(raw, emulator):
    emulator.faults.set("throttle", count=2)
    for _ in range(2):
        response = raw.call("GetJobInfo", JOB)
        assert code_of(response) == (400, "Throttling.User")
        assert response.headers["x-acs-retry-after"] == "100"
    assert raw.call("GetJobInfo", JOB).status_code == 200
    assert emulator.stats.faults["throttle"] == 2
    assert emulator.stats.responses[("GetJobInfo", "Throttling.User")] == 2
    assert emulator.stats.responses[("GetJobInfo", "OK")] == 1


def test_throttle_retry_after_is_configurable(raw, emulator):
    emulator.faults.set("throttle", count=1, seconds=2.5)
    assert raw.call("GetJobInfo", JOB).headers["x-acs-retry-after"] == "2500"
    emulator.faults.set("throttle", count=1, seconds=0)
    response = raw.call("GetJobInfo", JOB)
    assert code_of(response) == (400, "Throttling.User")
    assert "x-acs-retry-after" not in response.headers


def test_throttled_execute_job_creates_nothing(raw, emulator):
    emulator.faults.set("throttle", count=1)
    assert code_of(raw.call("ExecuteJob", JOB)) == (400, "Throttling.User")
    assert emulator.instances(201) == []


def test_server_errors_alternate(raw, emulator):
    emulator.faults.set("server_error", count=3)
    codes = [code_of(raw.call("GetJobInfo", JOB)) for _ in range(3)]
    assert codes == [
        (503, "ServiceUnavailable"),
        (500, "InternalError"),
        (503, "ServiceUnavailable"),
    ]
    assert raw.call("GetJobInfo", JOB).status_code == 200


def test_reset_before_processing(raw, emulator):
    emulator.faults.set("reset", count=1, actions=["ExecuteJob"])
    with pytest.raises(requests.ConnectionError):
        raw.call("ExecuteJob", JOB)
    assert emulator.instances(201) == []
    assert emulator.stats.faults["reset"] == 1
    assert emulator.stats.calls["ExecuteJob"] == 1
    assert raw.call("ExecuteJob", JOB).status_code == 200


def test_reset_hits_even_unauthenticated_requests(emulator, make_raw):
    emulator.faults.set("reset", count=1)
    bad = make_raw(emulator.url, secret="wrong")
    with pytest.raises(requests.ConnectionError):
        bad.call("GetJobInfo", JOB)
    assert code_of(bad.call("GetJobInfo", JOB)) == (400, "SignatureDoesNotMatch")


def test_reset_after_processing_really_took_effect(raw, emulator, wait_status):
    emulator.faults.set("reset_after", count=1, actions=["ExecuteJob"])
    with pytest.raises(requests.ConnectionError):
        raw.call("ExecuteJob", JOB)
    instances = emulator.instances(201)
    assert len(instances) == 1
    assert emulator.stats.executions[201] == 1
    assert emulator.stats.faults["reset_after"] == 1
    listed = raw.data("GetJobInstanceList", JOB)["JobInstanceDetails"]
    assert [d["InstanceId"] for d in listed] == [instances[0].instance_id]


def test_cut_sends_half_the_body_then_drops_the_connection(raw, emulator):
    emulator.faults.set("cut", count=1, actions=["ExecuteJob"])
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="Connection broken"):
        raw.call("ExecuteJob", JOB)
    assert emulator.stats.executions[201] == 1
    assert emulator.stats.faults["cut"] == 1
    assert raw.call("ExecuteJob", JOB).status_code == 200


def test_slow_replies(raw, emulator):
    emulator.faults.set("slow", count=1, seconds=0.3)
    started = time.monotonic()
    assert raw.call("GetJobInfo", JOB).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    raw.call("GetJobInfo", JOB)
    assert time.monotonic() - started < 0.3


def test_slow_reply_times_out_the_client_but_took_effect(raw, emulator):
    emulator.faults.set("slow", count=1, seconds=1.0, actions=["ExecuteJob"])
    with pytest.raises(requests.Timeout):
        raw.send(
            raw.v3(
                "ExecuteJob",
                {
                    "Namespace": "demo-namespace",
                    "GroupId": "demo.defaultGroup",
                    "RegionId": "cn-hangzhou",
                    **JOB,
                },
            ),
            timeout=0.2,
        )
    assert len(emulator.instances(201)) == 1


def test_malformed_body(raw, emulator):
    emulator.faults.set("malformed", count=1)
    response = raw.call("GetJobInfo", JOB)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.text.startswith("{")
    with pytest.raises(ValueError):
        response.json()
    assert raw.call("GetJobInfo", JOB).json()["Success"] is True


def test_clock_skew(raw, emulator):
    emulator.faults.set("clock_skew", count=1)
    assert code_of(raw.call("GetJobInfo", JOB)) == (400, "InvalidTimeStamp.Expired")
    assert raw.call("GetJobInfo", JOB).status_code == 200


def test_expired_credentials(raw, emulator):
    emulator.faults.set("expired_credentials", count=1)
    assert code_of(raw.call("GetJobInfo", JOB)) == (400, "InvalidSecurityToken.Expired")


def test_faults_only_hit_authenticated_requests(emulator, raw, make_raw):
    emulator.faults.set("throttle", count=1)
    emulator.faults.set("malformed", count=1)
    bad = make_raw(emulator.url, secret="wrong")
    assert code_of(bad.call("GetJobInfo", JOB)) == (400, "SignatureDoesNotMatch")
    assert emulator.stats.faults == {}
    assert code_of(raw.call("GetJobInfo", JOB)) == (400, "Throttling.User")


def test_action_filter(raw, emulator):
    emulator.faults.set("server_error", rate=1.0, actions=["ExecuteJob"])
    assert raw.call("GetJobInfo", JOB).status_code == 200
    assert raw.call("ExecuteJob", JOB).status_code == 503
    emulator.faults.clear()
    assert raw.call("ExecuteJob", JOB).status_code == 200


def test_rate_is_deterministic_with_a_seed(make_emulator, make_raw):
    patterns = []
    for _ in range(2):
        emu = make_emulator(seed=42)
        emu.faults.set("server_error", rate=0.3)
        client = make_raw(emu.url)
        patterns.append([client.call("GetJobInfo", JOB).status_code == 200 for _ in range(40)])
    assert patterns[0] == patterns[1]
    assert 4 <= patterns[0].count(False) <= 24


def test_rate_and_count_together(raw, emulator):
    emulator.faults.set("throttle", rate=1.0, count=1)
    assert raw.call("GetJobInfo", JOB).status_code == 400
    assert raw.call("GetJobInfo", JOB).status_code == 200
    assert emulator.faults.active() == {}


def test_stats_reset(raw, emulator):
    raw.call("ExecuteJob", JOB)
    assert emulator.stats.calls["ExecuteJob"] == 1
    emulator.stats.reset()
    assert not emulator.stats.calls
    assert not emulator.stats.executions
    raw.call("ExecuteJob", JOB)
    assert emulator.stats.executions[201] == 1


def test_fault_settings_are_validated():
    faults = Faults()
    with pytest.raises(ValueError, match="unknown fault kind"):
        faults.set("explode")
    with pytest.raises(ValueError, match="rate"):
        faults.set("throttle", rate=1.5)
    with pytest.raises(ValueError, match="count"):
        faults.set("throttle", count=-1)


def test_sdk_sees_throttling(emulator):
    from alibabacloud_schedulerx220190430 import models as sx
    from alibabacloud_schedulerx220190430.client import Client
    from alibabacloud_tea_openapi.exceptions import ThrottlingException
    from alibabacloud_tea_openapi.models import Config

    emulator.faults.set("throttle", count=1, seconds=0.25)
    client = Client(
        Config(
            access_key_id="emulator-ak",
            access_key_secret="emulator-secret",
            endpoint=emulator.endpoint,
            protocol="http",
            region_id="cn-hangzhou",
        )
    )
    with pytest.raises(ThrottlingException) as caught:
        client.get_job_info(
            sx.GetJobInfoRequest(
                namespace="demo-namespace",
                group_id="demo.defaultGroup",
                region_id="cn-hangzhou",
                job_id=201,
            )
        )
    assert caught.value.code == "Throttling.User"
    assert caught.value.retry_after == 250


def test_faults_can_be_limited_to_jobs_and_one_set_per_jobs_holds():
    faults = Faults(seed=1)
    faults.set("server_error", count=2, jobs=[7])
    faults.set("server_error", count=1, jobs=[8])
    assert faults.draw("server_error", "GetJobInstance", 9) is None
    assert faults.draw("server_error", "GetJobInstance", None) is None
    assert faults.draw("server_error", "GetJobInstance", 8) is not None
    assert faults.draw("server_error", "GetJobInstance", 8) is None  # its one is used up
    assert faults.draw("server_error", "GetJobInstance", 7) is not None
    faults.set("server_error", count=1)  # for every job, alongside job 7's
    assert faults.draw("server_error", "GetJobInstance", 7) is not None  # job 7's goes first
    assert faults.draw("server_error", "GetJobInstance", 7) is not None  # then everyone's
    assert not faults
