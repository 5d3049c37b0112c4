"""The query strings of the request lines urllib3 logs are redacted: signing values always,
the other values as the secrets masker redacts them, also in their URL-encoded form."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_schedulerx.rpc.redaction import install_url_redaction, redact_url

URL = (
    "/?AccessKeyId=LTAI5t&Action=GetJobInstance&SecurityToken=CAIS%2Babc&Signature=xyz%3D&Version=2019-04-30"
)


def test_redact_url_hides_signature_and_tokens_only():
    assert redact_url(URL) == (
        "/?AccessKeyId=LTAI5t&Action=GetJobInstance&SecurityToken=***&Signature=***&Version=2019-04-30"
    )
    assert redact_url("/?OIDCToken=eyJ.abc&RoleArn=x") == "/?OIDCToken=***&RoleArn=x"
    assert redact_url("/?Action=ListJobs") == "/?Action=ListJobs"


def test_urllib3_request_lines_are_redacted(caplog: pytest.LogCaptureFixture):
    install_url_redaction()
    install_url_redaction()  # idempotent
    logger = logging.getLogger("urllib3.connectionpool")
    assert sum(type(f).__name__ == "_QueryFilter" for f in logger.filters) == 1
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        logger.debug('%s://%s:%s "%s %s %s" %s %s', "https", "host", 443, "GET", URL, "HTTP/1.1", 200, 10)
    assert "xyz%3D" not in caplog.text and "CAIS%2Babc" not in caplog.text
    assert "Signature=***" in caplog.text


def test_parameters_are_redacted_in_their_url_encoded_form(monkeypatch: pytest.MonkeyPatch):
    from airflow_provider_schedulerx.rpc import redaction

    secret = "s3cr+t/with=signs"
    monkeypatch.setattr(redaction, "_redactor", lambda text: text.replace(secret, "***"))
    url = "/?InstanceParameters=pw%3Ds3cr%2Bt%2Fwith%3Dsigns%26x%3D1&JobId=101"
    redacted = redact_url(url)
    assert "s3cr" not in redacted
    assert redacted == "/?InstanceParameters=pw%3D***%26x%3D1&JobId=101"
    assert redact_url("/?JobId=101") == "/?JobId=101"
