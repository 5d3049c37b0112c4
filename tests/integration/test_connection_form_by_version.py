"""The connection form as each supported Airflow's UI builds it: from provider info on 3.2+,
from the hook's WTForms fields before (the FAB form of Airflow 2, the form metadata of
Airflow 3.0 and 3.1). Each version must offer the same form and save a connection that the
hook reads correctly."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_schedulerx.config import KNOWN_REGIONS
from airflow_provider_schedulerx.hooks.connection_form import FORM_FIELDS
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from tests.airflow_versions import AIRFLOW_2, AIRFLOW_VERSION, READS_FORM_FROM_PROVIDER_INFO
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE

FORM_SOURCE = "provider info" if READS_FORM_FROM_PROVIDER_INFO else "the hook's methods"


def test_the_providers_manager_reads_the_form(airflow_db):
    """What every Airflow version's UI starts from (Airflow 2's FAB form, Airflow 3's form
    metadata), read from provider info or from the hook's methods."""
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    widgets = {
        info.field_name: info
        for key, info in manager.connection_form_widgets.items()
        if "__schedulerx__" in key
    }
    assert list(widgets) == [field.name for field in FORM_FIELDS], FORM_SOURCE
    assert widgets["security_token"].is_sensitive
    assert not widgets["namespace"].is_sensitive
    behaviour = manager.field_behaviours["schedulerx"]
    assert behaviour["hidden_fields"] == ["schema", "port"]
    assert behaviour["relabeling"] == {
        "login": "AccessKey ID",
        "password": "AccessKey Secret",
        "host": "Endpoint",
    }
    assert behaviour["placeholders"]["login"].startswith("LTAI")


def ui_form() -> dict[str, Any]:
    """The connection form of Airflow 3's UI: what its API serves for ``schedulerx``."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
    from airflow.providers_manager import ProvidersManager

    HookMetaService.hook_meta_data.cache_clear()
    try:
        (meta,) = (m for m in HookMetaService.hook_meta_data() if m.connection_type == "schedulerx")
    finally:
        # Before 3.2 that reads the hooks with stand-ins for WTForms; the next reader of the
        # (process-wide) providers manager must get the real fields again.
        ProvidersManager()._cleanup()
    return meta.model_dump(mode="json")


@pytest.mark.skipif(AIRFLOW_2, reason="Airflow 2's UI renders the FAB form (the next test)")
def test_the_airflow_3_ui_offers_the_whole_form(airflow_db):
    form = ui_form()
    assert form["hook_name"] == "Alibaba Cloud SchedulerX"
    standard = form["standard_fields"]
    assert standard["login"]["title"] == "AccessKey ID"
    assert standard["password"]["title"] == "AccessKey Secret"
    assert standard["host"]["title"] == "Endpoint"
    assert standard["port"]["hidden"] and standard["url_schema"]["hidden"]
    extras = form["extra_fields"]
    assert set(extras) == {field.name for field in FORM_FIELDS}

    def schema(name: str) -> dict[str, Any]:
        return extras[name]["schema"]

    assert schema("region_id")["enum"] == list(KNOWN_REGIONS)
    assert extras["region_id"]["value"] == "cn-hangzhou"
    assert schema("signature_version")["enum"] == ["v3", "v1"]
    assert schema("network")["enum"] == ["public", "vpc"]
    assert schema("security_token")["format"] == "password"
    assert schema("security_token")["title"] == "STS security token"
    assert schema("duration_seconds")["type"] == ["integer", "null"]
    assert extras["duration_seconds"]["value"] == 3600
    assert schema("verify_ssl")["type"] == ["boolean", "null"]
    assert "namespace" in extras["namespace"]["description"].lower()


@pytest.mark.skipif(not AIRFLOW_2, reason=f"Airflow {AIRFLOW_VERSION} has no FAB connection form")
def test_the_airflow_2_form_saves_a_connection_the_hook_reads(airflow_db, emulator, monkeypatch):
    from types import SimpleNamespace

    from airflow.models.connection import Connection
    from airflow.www.forms import create_connection_form_class
    from airflow.www.views import ConnectionModelView
    from flask import Flask
    from flask_babel import Babel
    from werkzeug.datastructures import MultiDict

    app = Flask(__name__)
    app.config.update(WTF_CSRF_ENABLED=False, SECRET_KEY="test")
    Babel(app)
    form_class = create_connection_form_class()
    posted = {
        "conn_id": "schedulerx_from_form",
        "conn_type": "schedulerx",
        "host": emulator.url,
        "login": ACCESS_KEY_ID,
        "password": ACCESS_KEY_SECRET,
        "extra__schedulerx__region_id": "cn-beijing",
        "extra__schedulerx__namespace": NAMESPACE,
        "extra__schedulerx__group_id": GROUP_ID,
        "extra__schedulerx__signature_version": "v1",
        "extra__schedulerx__duration_seconds": "900",
        "extra__schedulerx__verify_ssl": "y",
    }
    with app.test_request_context(method="POST", data=MultiDict(posted)):
        form = form_class()
        assert form.validate(), form.errors
        assert 'type="password"' in form.extra__schedulerx__security_token()
        # What the connection view does with the form before it saves the connection.
        view = SimpleNamespace(
            _iter_extra_field_names_and_sensitivity=lambda: (
                ConnectionModelView._iter_extra_field_names_and_sensitivity(None)  # type: ignore[arg-type]
            )
        )
        ConnectionModelView.process_form(view, form, True)  # type: ignore[arg-type]
        connection = Connection(
            conn_id=form.conn_id.data,
            conn_type=form.conn_type.data,
            host=form.host.data,
            login=form.login.data,
            password=form.password.data,
            extra=form.extra.data,
        )
        refused = form_class(MultiDict({**posted, "extra__schedulerx__network": "intranet"}))
        assert not refused.validate()
        assert "public, vpc" in refused.errors["extra__schedulerx__network"][0]

    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_FROM_FORM", connection.get_uri())
    hook = SchedulerXHook("schedulerx_from_form")
    config = hook.settings.config
    assert (config.region_id, config.signature_version, config.endpoint) == ("cn-beijing", "v1", emulator.url)
    ok, message = hook.test_connection()
    assert ok, message
    assert f"namespace {NAMESPACE}" in message
