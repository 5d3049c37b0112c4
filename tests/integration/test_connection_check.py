"""The Test button's answers: quick, naming the field to fix, never showing a secret."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from airflow_provider_schedulerx.client import SchedulerXClient
from airflow_provider_schedulerx.exceptions import SchedulerXBusinessError
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from tests.conftest import ACCESS_KEY_SECRET, connection_json


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def use_connection(monkeypatch: pytest.MonkeyPatch, conn_json: str, **fields: object) -> None:
    conn = json.loads(conn_json)
    conn.update(fields)
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", json.dumps(conn))


def test_an_endpoint_that_never_answers_fails_within_seconds(emulator, monkeypatch, silent_endpoint):
    use_connection(monkeypatch, connection_json(emulator), host=silent_endpoint)
    started = time.monotonic()
    ok, message = SchedulerXHook().test_connection()
    assert time.monotonic() - started < 10
    assert not ok and message.startswith(f"Cannot reach SchedulerX at {silent_endpoint}")
    assert "Endpoint" in message


def test_a_wrong_namespace_is_named_with_the_field_to_fix(emulator, monkeypatch):
    use_connection(
        monkeypatch, connection_json(emulator, namespace="no-such-namespace"), password=ACCESS_KEY_SECRET
    )
    ok, message = SchedulerXHook().test_connection()
    assert not ok
    assert "The credentials work" in message and "'no-such-namespace'" in message
    assert "Namespace ID" in message


def test_settings_that_cannot_be_read_fail_the_test_with_the_setting(emulator, monkeypatch):
    use_connection(monkeypatch, connection_json(emulator, signature_version="v2"))
    ok, message = SchedulerXHook().test_connection()
    assert not ok and "not valid" in message and "signature_version" in message


def test_a_secret_echoed_by_the_service_is_blanked(emulator, monkeypatch):
    def echo_secret(self: SchedulerXClient, call: object, **kwargs: object) -> list:
        raise SchedulerXBusinessError(f"odd gateway echoing {ACCESS_KEY_SECRET}", code="400")

    monkeypatch.setattr(SchedulerXClient, "run", echo_secret)
    use_connection(monkeypatch, connection_json(emulator))
    ok, message = SchedulerXHook().test_connection()
    assert not ok and ACCESS_KEY_SECRET not in message and "***" in message
