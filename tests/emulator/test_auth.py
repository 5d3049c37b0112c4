"""Signature, credential, timestamp and nonce checks, over real loopback HTTP, with requests
signed by this package's own signing functions."""

from __future__ import annotations

import hashlib
import time

import pytest

from airflow_provider_schedulerx import signing
from airflow_provider_schedulerx.emulator.auth import NonceCache, parse_timestamp

JOB = {"JobId": 201}
COMMON = {"Namespace": "demo-namespace", "GroupId": "demo.defaultGroup", "RegionId": "cn-hangzhou"}


def utc_timestamp(offset_seconds: float = 0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset_seconds))


def error_of(response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["Code"], body["Message"]


@pytest.mark.parametrize("scheme", ["v3", "v1"])
def test_signed_call_succeeds(raw, scheme):
    response = raw.call("ExecuteJob", JOB, scheme=scheme)
    assert response.status_code == 200
    body = response.json()
    assert body["Success"] is True
    assert body["Code"] == 200
    assert body["Message"] == ""
    assert body["Data"]["JobInstanceId"] >= 1_000_000_000_001
    assert body["RequestId"] == body["RequestId"].upper()
    assert response.headers["x-acs-request-id"] == body["RequestId"]


@pytest.mark.parametrize("scheme", ["v3", "v1"])
def test_post_with_form_body_is_verified_and_merged(raw, scheme, emulator):
    if scheme == "v3":
        prepared = raw.v3(
            "ListJobs",
            {"RegionId": "cn-hangzhou"},
            method="POST",
            form={**COMMON, "JobName": "quick"},
        )
    else:
        prepared = raw.v1("ListJobs", {**COMMON, "JobName": "quick"}, method="POST")
    response = raw.send(prepared)
    assert response.status_code == 200, response.text
    names = [job["Name"] for job in response.json()["Data"]["Jobs"]]
    assert names == ["quick-success", "quick-failure", "quick-reject", "quick-partial"]


@pytest.mark.parametrize("scheme", ["v3", "v1"])
def test_wrong_secret_is_signature_mismatch_with_string_to_sign(emulator, make_raw, scheme):
    client = make_raw(emulator.url, secret="not-the-secret")
    prepared = (client.v3 if scheme == "v3" else client.v1)("ExecuteJob", {**COMMON, **JOB})
    response = client.send(prepared)
    status, code, message = error_of(response)
    assert (status, code) == (400, "SignatureDoesNotMatch")
    if scheme == "v1":
        params = {k: v for k, v in prepared.params.items() if k != "Signature"}
        assert message.endswith(signing.v1_string_to_sign("GET", params))
    else:
        assert message.split("server string to sign is:")[1].startswith("ACS3-HMAC-SHA256\n")
    assert "not-the-secret" not in response.text
    body = response.json()
    assert body["HostId"] == emulator.endpoint
    assert body["Recommend"] == (
        "https://api.aliyun.com/troubleshoot?q=SignatureDoesNotMatch"
        f"&product=schedulerx2&requestId={body['RequestId']}"
    )
    assert emulator.stats.executions[201] == 0


def test_v3_string_to_sign_in_message_is_the_clients(emulator, make_raw):
    client = make_raw(emulator.url, secret="wrong")
    prepared = client.v3("GetJobInstance", {**COMMON, "JobId": 201, "JobInstanceId": 1})
    canonical = signing.v3_canonical_request(
        "GET",
        "/",
        prepared.params,
        {k: v for k, v in prepared.headers.items() if k != "Authorization"},
        prepared.headers["x-acs-content-sha256"],
    )
    expected = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    _, _, message = error_of(client.send(prepared))
    assert message.endswith(expected)


@pytest.mark.parametrize("scheme", ["v3", "v1"])
def test_unknown_access_key(emulator, make_raw, scheme):
    client = make_raw(emulator.url, access_key_id="nobody")
    response = client.call("ExecuteJob", JOB, scheme=scheme)
    assert error_of(response)[:2] == (404, "InvalidAccessKeyId.NotFound")


def test_second_static_key(emulator, make_raw):
    emulator.add_access_key("second-user", "second-secret")
    client = make_raw(emulator.url, access_key_id="second-user", secret="second-secret")
    assert client.data("ExecuteJob", JOB)["JobInstanceId"]


@pytest.mark.parametrize("scheme", ["v3", "v1"])
@pytest.mark.parametrize("offset", [-16 * 60, 16 * 60])
def test_timestamp_outside_window_is_expired(raw, scheme, offset):
    stamp = utc_timestamp(offset)
    key = "date" if scheme == "v3" else "timestamp"
    build = raw.v3 if scheme == "v3" else raw.v1
    response = raw.send(build("ExecuteJob", {**COMMON, **JOB}, **{key: stamp}))
    assert error_of(response)[:2] == (400, "InvalidTimeStamp.Expired")


def test_timestamp_within_window_is_accepted(raw):
    response = raw.send(raw.v3("ExecuteJob", {**COMMON, **JOB}, date=utc_timestamp(-14 * 60)))
    assert response.status_code == 200


@pytest.mark.parametrize("scheme", ["v3", "v1"])
def test_unparsable_timestamp(raw, scheme):
    key = "date" if scheme == "v3" else "timestamp"
    build = raw.v3 if scheme == "v3" else raw.v1
    response = raw.send(build("ExecuteJob", {**COMMON, **JOB}, **{key: "yesterday"}))
    assert error_of(response)[:2] == (400, "InvalidTimeStamp.Format")


@pytest.mark.parametrize("scheme", ["v3", "v1"])
def test_reused_nonce(raw, scheme, emulator):
    build = raw.v3 if scheme == "v3" else raw.v1
    first = raw.send(build("ExecuteJob", {**COMMON, **JOB}, nonce="fixed-nonce-1"))
    assert first.status_code == 200
    second = raw.send(build("ExecuteJob", {**COMMON, **JOB}, nonce="fixed-nonce-1"))
    assert error_of(second)[:2] == (400, "SignatureNonceUsed")
    assert emulator.stats.executions[201] == 1


def test_missing_signed_header_is_incomplete_signature(raw):
    prepared = raw.v3("ExecuteJob", {**COMMON, **JOB})
    auth = prepared.headers["Authorization"]
    prepared.headers["Authorization"] = auth.replace("x-acs-signature-nonce;", "")
    response = raw.send(prepared)
    status, code, message = error_of(response)
    assert (status, code) == (400, "IncompleteSignature")
    assert "x-acs-signature-nonce" in message


def test_signed_header_absent_from_request(raw):
    prepared = raw.v3("ExecuteJob", {**COMMON, **JOB})
    del prepared.headers["x-acs-date"]
    assert error_of(raw.send(prepared))[:2] == (400, "IncompleteSignature")


def test_malformed_authorization(raw):
    prepared = raw.v3("ExecuteJob", {**COMMON, **JOB})
    prepared.headers["Authorization"] = "Bearer something"
    assert error_of(raw.send(prepared))[:2] == (400, "IncompleteSignature")


@pytest.mark.parametrize("scheme", ["v3", "v1"])
def test_query_tampered_after_signing(raw, scheme, emulator):
    build = raw.v3 if scheme == "v3" else raw.v1
    prepared = build("ExecuteJob", {**COMMON, **JOB})
    prepared.params["JobId"] = "202"
    assert error_of(raw.send(prepared))[:2] == (400, "SignatureDoesNotMatch")
    assert emulator.stats.executions[202] == 0


def test_header_tampered_after_signing(raw):
    prepared = raw.v3("ExecuteJob", {**COMMON, **JOB})
    prepared.headers["x-acs-action"] = "StopInstance"
    assert error_of(raw.send(prepared))[:2] == (400, "SignatureDoesNotMatch")


def test_body_hash_mismatch(raw):
    prepared = raw.v3("ListJobs", {"RegionId": "cn-hangzhou"}, method="POST", form=COMMON)
    prepared.body = prepared.body + b"&JobName=x"
    status, code, message = error_of(raw.send(prepared))
    assert (status, code) == (400, "SignatureDoesNotMatch")
    assert "x-acs-content-sha256" in message


def test_unsigned_request(emulator, make_raw):
    client = make_raw(emulator.url)
    response = client.session.get(
        emulator.url + "/", params={"Action": "ExecuteJob", "Version": "2019-04-30", **COMMON}
    )
    assert error_of(response)[:2] == (400, "MissingAccessKeyId")


@pytest.mark.parametrize("scheme", ["v3", "v1"])
def test_sts_credentials(emulator, make_raw, scheme):
    cred = emulator.credentials.issue_sts("acs:ram::123456789012:role/airflow", "s1", 3600)
    good = make_raw(
        emulator.url,
        access_key_id=cred.access_key_id,
        secret=cred.access_key_secret,
        security_token=cred.security_token,
    )
    assert good.call("ExecuteJob", JOB, scheme=scheme).status_code == 200

    no_token = make_raw(
        emulator.url,
        access_key_id=cred.access_key_id,
        secret=cred.access_key_secret,
    )
    response = no_token.call("ExecuteJob", JOB, scheme=scheme)
    assert error_of(response)[:2] == (400, "InvalidSecurityToken.Mismatch")

    wrong = make_raw(
        emulator.url,
        access_key_id=cred.access_key_id,
        secret=cred.access_key_secret,
        security_token="CAISwrong",
    )
    response = wrong.call("ExecuteJob", JOB, scheme=scheme)
    assert error_of(response)[:2] == (400, "InvalidSecurityToken.Mismatch")
    assert "CAISwrong" not in response.text


def test_token_with_static_key_is_mismatch(emulator, make_raw):
    client = make_raw(emulator.url, security_token="CAISsomething")
    assert error_of(client.call("ExecuteJob", JOB))[:2] == (400, "InvalidSecurityToken.Mismatch")


def test_v1_signature_mismatch_message_hides_security_token(emulator, make_raw):
    cred = emulator.credentials.issue_sts("acs:ram::123456789012:role/airflow", "s1", 3600)
    client = make_raw(
        emulator.url,
        access_key_id=cred.access_key_id,
        secret="wrong",
        security_token=cred.security_token,
    )
    response = client.call("ExecuteJob", JOB, scheme="v1")
    assert error_of(response)[:2] == (400, "SignatureDoesNotMatch")
    assert cred.security_token not in response.text
    assert signing.percent_encode(cred.security_token) not in response.text


def test_v1_wrong_signature_method(raw):
    prepared = raw.v1("ExecuteJob", {**COMMON, **JOB})
    prepared.params["SignatureMethod"] = "HMAC-SHA256"
    assert error_of(raw.send(prepared))[:2] == (400, "InvalidSignatureMethod")


def test_nonce_cache_forgets_after_ttl():
    cache = NonceCache(ttl=900, bucket_seconds=60)
    assert cache.check_and_add("n1", 1000.0)
    assert not cache.check_and_add("n1", 1500.0)
    assert cache.check_and_add("n2", 1500.0)
    assert cache.check_and_add("n1", 1000.0 + 900 + 121)
    assert len(cache) == 2


def test_nonce_cache_memory_is_bounded():
    cache = NonceCache(ttl=60, bucket_seconds=10)
    for i in range(10_000):
        cache.check_and_add(f"nonce-{i}", i * 0.1)
    assert len(cache) < 900


def test_parse_timestamp():
    assert parse_timestamp("1970-01-01T00:01:00Z") == 60.0
    assert parse_timestamp("1970-01-01T00:01:00.500Z") == 60.0
