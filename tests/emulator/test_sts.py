"""The emulator's STS: AssumeRole and AssumeRoleWithOIDC, then calls with what they issue."""

from __future__ import annotations

import calendar
import time

import pytest

ROLE = "acs:ram::123456789012:role/airflow-runner"


def assume_role(raw, scheme="v1", **params):
    merged = {"RoleArn": ROLE, "RoleSessionName": "airflow-worker", **params}
    return raw.call("AssumeRole", merged, scheme=scheme, version="2015-04-01", common=False)


def oidc(raw, emulator, token, **params):
    merged = {
        "RoleArn": ROLE,
        "OIDCProviderArn": emulator.oidc_provider_arn,
        "OIDCToken": token,
        "RoleSessionName": "rrsa",
        **params,
    }
    return raw.session.post(
        emulator.url + "/",
        params={
            "Action": "AssumeRoleWithOIDC",
            "Version": "2015-04-01",
            "Format": "JSON",
            **merged,
        },
    )


def client_for(make_raw, emulator, credentials):
    return make_raw(
        emulator.url,
        access_key_id=credentials["AccessKeyId"],
        secret=credentials["AccessKeySecret"],
        security_token=credentials["SecurityToken"],
    )


@pytest.mark.parametrize("scheme", ["v1", "v3"])
def test_assume_role_reply_shape(raw, scheme):
    response = assume_role(raw, scheme, DurationSeconds=1800, ExternalId="abcd")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"RequestId", "AssumedRoleUser", "Credentials"}
    assert body["AssumedRoleUser"]["Arn"] == f"{ROLE}/airflow-worker"
    assert body["AssumedRoleUser"]["AssumedRoleId"].endswith(":airflow-worker")
    creds = body["Credentials"]
    assert creds["AccessKeyId"].startswith("STS.")
    assert creds["SecurityToken"].startswith("CAIS")
    expiration = calendar.timegm(time.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ"))
    assert 1790 <= expiration - time.time() <= 1810


@pytest.mark.parametrize("scheme", ["v1", "v3"])
def test_issued_credentials_work_and_expire(make_emulator, make_raw, scheme):
    emu = make_emulator(sts_max_lifetime=1)
    raw = make_raw(emu.url)
    creds = assume_role(raw).json()["Credentials"]
    sts = client_for(make_raw, emu, creds)
    assert sts.call("ExecuteJob", {"JobId": 201}, scheme=scheme).status_code == 200
    time.sleep(1.1)
    response = sts.call("ExecuteJob", {"JobId": 201}, scheme=scheme)
    assert (response.status_code, response.json()["Code"]) == (400, "InvalidSecurityToken.Expired")
    fresh = client_for(make_raw, emu, assume_role(raw).json()["Credentials"])
    assert fresh.call("ExecuteJob", {"JobId": 201}, scheme=scheme).status_code == 200


def test_default_duration_is_an_hour(raw):
    creds = assume_role(raw).json()["Credentials"]
    expiration = calendar.timegm(time.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ"))
    assert 3590 <= expiration - time.time() <= 3610


def test_role_chaining_with_sts_credentials(raw, make_raw, emulator):
    sts = client_for(make_raw, emulator, assume_role(raw).json()["Credentials"])
    assert assume_role(sts).status_code == 200


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"DurationSeconds": 100}, "InvalidParameter.DurationSeconds"),
        ({"RoleArn": "arn:aws:iam::1:role/x"}, "InvalidParameter.RoleArn"),
        ({"RoleSessionName": "a b"}, "InvalidParameter.RoleSessionName"),
        ({"RoleArn": ""}, "MissingRoleArn"),
    ],
)
def test_assume_role_parameter_errors(raw, params, code):
    response = assume_role(raw, **params)
    body = response.json()
    assert (response.status_code, body["Code"]) == (400, code)
    assert "product=Sts" in body["Recommend"]


def test_assume_role_needs_a_valid_signature(emulator, make_raw):
    bad = make_raw(emulator.url, secret="wrong")
    assert assume_role(bad).json()["Code"] == "SignatureDoesNotMatch"


def test_assume_role_with_oidc(raw, emulator, make_raw):
    token = emulator.issue_oidc_token(subject="system:serviceaccount:data:etl")
    response = oidc(raw, emulator, token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["OIDCTokenInfo"]["Subject"] == "system:serviceaccount:data:etl"
    sts = client_for(make_raw, emulator, body["Credentials"])
    assert sts.call("ExecuteJob", {"JobId": 201}).status_code == 200


def test_assume_role_with_oidc_configured_tokens(make_emulator, make_raw):
    arn = "acs:ram::123456789012:oidc-provider/ack-rrsa-demo"
    emu = make_emulator(oidc_provider_arn=arn, oidc_tokens={"eyJ.static.token"})
    raw = make_raw(emu.url)
    assert oidc(raw, emu, "eyJ.static.token").status_code == 200


@pytest.mark.parametrize(
    ("token", "provider", "code"),
    [
        ("eyJ.not.issued", None, "AuthenticationFail.OIDCToken.Invalid"),
        (None, "acs:ram::123456789012:oidc-provider/other", "AuthenticationFail.NoPermission"),
    ],
)
def test_assume_role_with_oidc_refusals(raw, emulator, token, provider, code):
    token = token or emulator.issue_oidc_token()
    params = {"OIDCProviderArn": provider} if provider else {}
    response = oidc(raw, emulator, token, **params)
    assert (response.status_code, response.json()["Code"]) == (401, code)
    assert token not in response.text


def test_assume_role_with_oidc_missing_token(raw, emulator):
    response = oidc(raw, emulator, "")
    assert (response.status_code, response.json()["Code"]) == (400, "MissingOIDCToken")
