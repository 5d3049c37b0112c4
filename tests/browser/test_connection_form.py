"""The SchedulerX connection in Airflow's UI, end to end: a real ``airflow api-server``,
Debian's Chromium, the emulator as SchedulerX.

A person adds the connection through the form, presses Test, and the hook then reads what
was saved; the Test button's failure reasons are checked through the same REST endpoint
the button calls. Screenshots of the form go to ``screenshot_dir`` (docs/img with
``make screenshots``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from airflow_provider_schedulerx.config import KNOWN_REGIONS
from airflow_provider_schedulerx.emulator import Emulator
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from tests.browser.api_server import ApiServer, free_loopback_port
from tests.browser.connections_page import ConnectionsPage
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE

pytestmark = pytest.mark.browser

TYPE_NAME = "Alibaba Cloud SchedulerX"
REPLY_BOUND_SECONDS = 10


@pytest.fixture
def connections(page: Any, api_server: ApiServer) -> ConnectionsPage:
    ui = ConnectionsPage(page, api_server.url)
    ui.open()
    return ui


def test_form_shows_the_schedulerx_fields(connections: ConnectionsPage, screenshot_dir):
    connections.start_adding("schedulerx_form", TYPE_NAME)
    dialog = connections.dialog
    for label in ("Endpoint", "AccessKey ID", "AccessKey Secret"):
        assert dialog.get_by_label(label, exact=True).is_visible()
    for unused in ("Port", "Schema", "Login", "Password", "Host"):
        assert dialog.get_by_text(unused, exact=True).count() == 0
    secret = dialog.get_by_label("AccessKey Secret", exact=True)
    assert secret.get_attribute("type") == "password"
    assert dialog.get_by_label("AccessKey ID").get_attribute("placeholder").startswith("LTAI")
    dialog.get_by_label("AccessKey ID").fill(ACCESS_KEY_ID)
    secret.fill(ACCESS_KEY_SECRET)
    assert ACCESS_KEY_SECRET not in dialog.inner_text()
    connections.screenshot_dialog(screenshot_dir / "connection-form.png")

    connections.expand("Extra Fields")
    assert connections.choices("Region") == list(KNOWN_REGIONS)
    assert connections.choices("Signature version") == ["v3", "v1"]
    assert connections.choices("Network") == ["public", "vpc"]
    assert "cn-hangzhou" in connections.extra_field("Region").inner_text()
    assert connections.extra_input("role_session_name").input_value() == "airflow-schedulerx"
    assert connections.extra_input("duration_seconds").input_value() == "3600"
    assert connections.extra_input("security_token").get_attribute("type") == "password"
    namespace = connections.extra_field("Namespace ID").inner_text()
    assert "Default namespace for every call" in namespace and "Example: " in namespace
    connections.screenshot_dialog(screenshot_dir / "connection-form-extras.png")


def test_add_test_save_and_read_back(
    connections: ConnectionsPage, ui_emulator: Emulator, screenshot_dir, monkeypatch
):
    conn_id = "schedulerx_from_the_form"
    connections.start_adding(conn_id, TYPE_NAME)
    dialog = connections.dialog
    dialog.get_by_label("Endpoint", exact=True).fill(ui_emulator.url)
    dialog.get_by_label("AccessKey ID").fill(ACCESS_KEY_ID)
    dialog.get_by_label("AccessKey Secret", exact=True).fill(ACCESS_KEY_SECRET)
    connections.expand("Extra Fields")
    connections.choose("Region", "cn-shanghai")
    connections.choose("Signature version", "v1")
    connections.extra_input("namespace").fill(NAMESPACE)
    connections.extra_input("group_id").fill(GROUP_ID)
    connections.save()

    reply = connections.press_test(conn_id)
    assert reply.request.timing["responseEnd"] < REPLY_BOUND_SECONDS * 1000
    assert reply.json()["status"] is True, reply.json()
    toast = connections.toast("Test Connection Successful")
    assert f"Connected to SchedulerX at {ui_emulator.url} (cn-shanghai)" in toast.inner_text()
    assert f"namespace {NAMESPACE}, group {GROUP_ID}" in toast.inner_text()
    connections.screenshot_with_toast(toast, screenshot_dir / "connection-test-success.png")

    # Read from the metadata database, as Airflow's server-side processes do.
    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "server")
    hook = SchedulerXHook(conn_id)
    settings = hook.settings
    assert settings.config.endpoint == ui_emulator.url
    assert settings.config.region_id == "cn-shanghai"
    assert settings.config.signature_version == "v1"
    assert (settings.access_key_id, settings.access_key_secret) == (ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    assert (settings.namespace, settings.group_id) == (NAMESPACE, GROUP_ID)
    assert hook.get_job_info(101)["JobId"] == 101


def test_a_failed_test_shows_the_reason(
    connections: ConnectionsPage, api_server: ApiServer, ui_emulator: Emulator, screenshot_dir
):
    conn_id = "schedulerx_wrong_secret"
    wrong_secret = "not-the-secret-5b1e"
    body = connection_body(conn_id, ui_emulator.url, password=wrong_secret)
    requests.post(f"{api_server.url}/api/v2/connections", json=body, timeout=10).raise_for_status()
    connections.open()

    reply = connections.press_test(conn_id)
    assert reply.json()["status"] is False
    reason = "the AccessKey Secret does not match the AccessKey ID"
    toast = connections.toast("Test Connection Failed").filter(has_text=reason)
    toast.wait_for()
    assert wrong_secret not in connections.page.content()
    connections.screenshot_with_toast(toast, screenshot_dir / "connection-test-failure.png")


@pytest.mark.parametrize(
    ("case", "fields", "reason"),
    [
        ("wrong_secret", {"password": "wrong-secret-0c9d"}, "the AccessKey Secret does not match"),
        ("unknown_access_key", {"login": "LTAInobody000"}, "this AccessKey ID does not exist"),
        ("wrong_namespace", {"namespace": "no-such-namespace"}, "refused namespace 'no-such-namespace'"),
        ("unreachable", {"host": "closed-port"}, "Cannot reach SchedulerX at http://127.0.0.1:"),
    ],
)
def test_the_test_endpoint_gives_a_clear_reason(
    api_server: ApiServer, ui_emulator: Emulator, case: str, fields: dict[str, str], reason: str
):
    host = ui_emulator.url
    if fields.get("host") == "closed-port":
        host = f"http://127.0.0.1:{free_loopback_port()}"
    overrides = {key: value for key, value in fields.items() if key != "host"}
    body = connection_body(f"schedulerx_{case}", host, **overrides)

    started = time.monotonic()
    reply = requests.post(f"{api_server.url}/api/v2/connections/test", json=body, timeout=30)
    assert time.monotonic() - started < REPLY_BOUND_SECONDS
    reply.raise_for_status()
    result = reply.json()
    assert result["status"] is False
    assert reason in result["message"]
    assert body["password"] not in result["message"]


def test_the_test_endpoint_succeeds_against_the_emulator(api_server: ApiServer, ui_emulator: Emulator):
    body = connection_body("schedulerx_new", ui_emulator.url)
    reply = requests.post(f"{api_server.url}/api/v2/connections/test", json=body, timeout=30)
    assert reply.json() == {
        "status": True,
        "message": f"Connected to SchedulerX at {ui_emulator.url} (cn-hangzhou): "
        f"namespace {NAMESPACE}, group {GROUP_ID}, 4 job(s)",
    }


def connection_body(
    conn_id: str,
    host: str,
    *,
    login: str = ACCESS_KEY_ID,
    password: str = ACCESS_KEY_SECRET,
    namespace: str = NAMESPACE,
) -> dict[str, Any]:
    """A connection as the REST API takes it."""
    extra = {"region_id": "cn-hangzhou", "namespace": namespace, "group_id": GROUP_ID}
    return {
        "connection_id": conn_id,
        "conn_type": "schedulerx",
        "host": host,
        "login": login,
        "password": password,
        "extra": json.dumps(extra),
    }
