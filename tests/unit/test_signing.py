"""Every vector of the published signing documentation, reproduced exactly, plus encoding
edge cases."""

from __future__ import annotations

import hashlib

import pytest

from airflow_provider_schedulerx import signing
from airflow_provider_schedulerx.rpc.protocol import RequestTemplate


def test_v1_vector_describe_regions_string_to_sign_and_signature():
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert signing.v1_string_to_sign("GET", params) == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod"
        "%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion"
        "%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
    )
    assert signing.sign_v1("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_v1_vector_describe_dedicated_hosts():
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeDedicatedHosts",
        "Format": "JSON",
        "RegionId": "cn-beijing",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "edb2b34af0af9a6d14deaf7c1a5315eb",
        "SignatureVersion": "1.0",
        "Timestamp": "2023-03-13T08:34:30Z",
        "Version": "2014-05-26",
    }
    assert signing.sign_v1("GET", params, "testsecret") == "9NaGiOspFP5UPcwX8Iwt2YJXXuk="


def test_v1_vector_query_and_body():
    params = {"query": "test", "body": "test"}
    assert signing.v1_string_to_sign("GET", params) == "GET&%2F&body%3Dtest%26query%3Dtest"
    assert signing.sign_v1("GET", params, "secret") == "XlUyV4sXjOuX5FnjUz9IF9tm5rU="


def test_encoding_vector():
    assert signing.canonical_query({"test": " ~/*-+"}) == "test=%20~%2F%2A-%2B"


V3_RUN_INSTANCES_HEADERS = {
    "host": "ecs.cn-shanghai.aliyuncs.com",
    "x-acs-action": "RunInstances",
    "x-acs-version": "2014-05-26",
    "x-acs-date": "2023-10-26T10:22:32Z",
    "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
    "x-acs-content-sha256": signing.EMPTY_PAYLOAD_SHA256,
}
V3_RUN_INSTANCES_QUERY = {
    "ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
    "RegionId": "cn-shanghai",
}


def test_v3_vector_run_instances_canonical_request_hash():
    canonical = signing.v3_canonical_request(
        "POST", "/", V3_RUN_INSTANCES_QUERY, V3_RUN_INSTANCES_HEADERS, signing.EMPTY_PAYLOAD_SHA256
    )
    assert (
        hashlib.sha256(canonical.encode()).hexdigest()
        == "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    )


def test_v3_vector_run_instances_authorization():
    authorization = signing.sign_v3(
        "POST",
        "/",
        V3_RUN_INSTANCES_QUERY,
        V3_RUN_INSTANCES_HEADERS,
        signing.EMPTY_PAYLOAD_SHA256,
        "YourAccessKeyId",
        "YourAccessKeySecret",
    )
    assert authorization == (
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;"
        "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    )


def test_v3_vector_repeated_header_and_empty_value():
    headers = [("x-acs-test", "http"), ("x-acs-TEST", "https")]
    authorization = signing.sign_v3(
        "GET",
        "/",
        {"test": "ok", "empty": ""},
        headers,
        "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23",
        "acesskey",
        "secret",
    )
    assert authorization == (
        "ACS3-HMAC-SHA256 Credential=acesskey,SignedHeaders=x-acs-test,"
        "Signature=d16b30a7699ae9e43875b13195b2f81bcc3ed10c14a9b5eb780e51619aa50be1"
    )
    canonical = signing.v3_canonical_request("GET", "/", {"test": "ok", "empty": ""}, headers, "x")
    assert "empty=&test=ok" in canonical
    assert "x-acs-test:http,https\n" in canonical


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a b", "a%20b"),
        ("a*b", "a%2Ab"),
        ("a~b", "a~b"),
        ("a/b", "a%2Fb"),
        ("a+b", "a%2Bb"),
        ("a=b", "a%3Db"),
        ("a&b", "a%26b"),
        ("调度", "%E8%B0%83%E5%BA%A6"),
        ("-_.", "-_."),
        ('{"k":1}', "%7B%22k%22%3A1%7D"),
    ],
)
def test_percent_encoding_of_special_characters(value, encoded):
    assert signing.percent_encode(value) == encoded


def test_keys_are_encoded_and_sorted_by_raw_name():
    assert signing.canonical_query({"b": "1", "a b": "2", "A": "3"}) == "A=3&a%20b=2&b=1"


def test_v1_special_characters_are_double_encoded_in_string_to_sign():
    text = signing.v1_string_to_sign("POST", {"k": "a b&c=d*~"})
    assert text == "POST&%2F&k%3Da%2520b%2526c%253Dd%252A~"


def test_header_values_are_trimmed_and_non_acs_headers_ignored():
    headers = {"Host": " example.com ", "X-Acs-Date": "d", "User-Agent": "ua", "Content-Type": "a/b"}
    assert signing.v3_signed_headers(headers) == "content-type;host;x-acs-date"


def test_sts_token_is_signed_in_v3_and_v1():
    v3 = RequestTemplate(
        action="GetJobInstance",
        version="2019-04-30",
        params={"JobId": "1"},
        method="GET",
        endpoint="https://schedulerx.cn-hangzhou.aliyuncs.com",
        access_key_id="STS.id",
        access_key_secret="s",
        security_token="tok",
    ).sign(now=0, nonce="n")
    assert v3.headers["x-acs-security-token"] == "tok"
    assert "x-acs-security-token" in v3.headers["authorization"]
    v1 = RequestTemplate(
        action="GetJobInstance",
        version="2019-04-30",
        params={"JobId": "1"},
        method="GET",
        endpoint="https://schedulerx.cn-hangzhou.aliyuncs.com",
        access_key_id="STS.id",
        access_key_secret="s",
        security_token="tok",
        signature_version="v1",
    ).sign(now=0, nonce="n")
    assert "SecurityToken=tok" in v1.url
    query = dict(part.split("=", 1) for part in v1.url.split("?", 1)[1].split("&"))
    signature = query.pop("Signature")
    from urllib.parse import unquote

    decoded = {key: unquote(value) for key, value in query.items()}
    assert unquote(signature) == signing.sign_v1("GET", decoded, "s")


def test_each_attempt_gets_a_fresh_nonce_and_repr_hides_headers():
    def build():
        return RequestTemplate(
            action="GetJobInstance",
            version="2019-04-30",
            params={},
            method="GET",
            endpoint="https://h",
            access_key_id="id",
            access_key_secret="very-secret",
            security_token="sts-token",
        ).sign()

    first, second = build(), build()
    assert first.headers["x-acs-signature-nonce"] != second.headers["x-acs-signature-nonce"]
    assert "sts-token" not in repr(first)
    assert "Signature" not in repr(first)


@pytest.mark.parametrize(
    ("params", "token"),
    [
        ({}, None),
        ({"JobId": "1", "JobInstanceId": "22", "Namespace": "ns-1", "GroupId": "g.default"}, None),
        ({"Parameters": '{"a": "{0}", "b": [1, 2]}', "Label": "a b*c~d"}, "sts token with {braces} "),
    ],
)
def test_a_v3_template_signs_as_the_generic_functions_do(params, token):
    template = RequestTemplate(
        action="GetJobInstance",
        version="2019-04-30",
        params=params,
        method="get",
        endpoint="https://schedulerx.cn-hangzhou.aliyuncs.com",
        access_key_id="LTAI-id",
        access_key_secret="the-secret",
        security_token=token,
        user_agent="airflow-provider-schedulerx/test",
    )
    for now, nonce in [(0, "n1"), (1767225600.5, "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"), (None, None)]:
        request = template.sign(now=now, nonce=nonce)
        headers = {name: value for name, value in request.headers.items() if name != "authorization"}
        assert request.headers["authorization"] == signing.sign_v3(
            "GET", "/", params, headers, signing.EMPTY_PAYLOAD_SHA256, "LTAI-id", "the-secret"
        )
        assert request.url.endswith("/?" + signing.canonical_query(params) if params else "/")
    assert "the-secret" not in repr(template)
    assert "sts" not in repr(template)


def test_a_v3_signer_fills_in_its_varying_headers_in_order():
    fixed = {"Host": "h", "x-acs-action": "A", "X-Other": "not signed", "x-acs-z": "{}"}
    signer = signing.V3Signer(
        "POST", "/", "b=%7B%7D&a=1", fixed, ["x-acs-date", "X-ACS-Nonce"], "abc", "id", "secret"
    )
    expected = signing.sign_v3_canonical(
        "POST",
        "/",
        "b=%7B%7D&a=1",
        {**fixed, "x-acs-date": "2026-01-01T00:00:00Z", "x-acs-nonce": "n"},
        "abc",
        "id",
        "secret",
    )
    assert signer.authorization("2026-01-01T00:00:00Z", " n ") == expected
    assert "secret" not in repr(signer)
