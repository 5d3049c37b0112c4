"""The hook reading real Airflow connections (URI and JSON environment variables) and
calling the emulator."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from airflow_provider_schedulerx.exceptions import SchedulerXConfigError
from airflow_provider_schedulerx.get_provider_info import get_provider_info
from airflow_provider_schedulerx.hooks.connection import ConnectionSettings
from airflow_provider_schedulerx.hooks.connection_form import FORM_FIELDS
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from airflow_provider_schedulerx.models import InstanceStatus
from tests.airflow_versions import redact
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE, connection_json


def test_hook_reads_a_uri_connection(emulator, monkeypatch):
    host = f"127.0.0.1:{emulator.port}"
    uri = (
        f"schedulerx://{ACCESS_KEY_ID}:{quote(ACCESS_KEY_SECRET, safe='')}@{host}"
        f"?region_id=cn-hangzhou&namespace={NAMESPACE}&group_id={GROUP_ID}&signature_version=v1"
    )
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", uri)
    hook = SchedulerXHook()
    assert hook.settings.config.endpoint == emulator.url
    assert hook.settings.config.signature_version == "v1"
    instance_id = hook.execute_job(101)
    assert hook.get_job_instance(101, instance_id).instance_id == instance_id
    assert emulator.stats.executions[101] == 1


def test_hook_reads_a_json_connection_and_its_defaults(emulator, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHEDULERX_CUSTOM", connection_json(emulator, timeout="5", max_retries="2")
    )
    hook = SchedulerXHook("schedulerx_custom")
    assert hook.client.config.timeout == 5.0 and hook.client.config.max_retries == 2
    assert (hook.client.namespace, hook.client.group_id) == (NAMESPACE, GROUP_ID)
    assert hook.get_job_info(101)["Name"] == "nightly-etl"
    assert hook.call("ListJobs")["Success"] is True
    instance_id = hook.execute_job(104)
    hook.stop_instance(104, instance_id)
    assert hook.get_job_instance(104, instance_id).status is InstanceStatus.KILLED
    assert [i.instance_id for i in hook.list_job_instances(104)] == [instance_id]


def test_operator_arguments_win_over_connection_defaults(schedulerx_connection):
    hook = SchedulerXHook(namespace="no-such-namespace")
    ok, message = hook.test_connection()
    assert not ok and "no-such-namespace" in message


def test_test_connection_success_and_failures(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", connection_json(emulator))
    ok, message = SchedulerXHook().test_connection()
    assert ok, message
    assert NAMESPACE in message and "job(s)" in message

    wrong = json.loads(connection_json(emulator))
    wrong["password"] = "not-the-secret"
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", json.dumps(wrong))
    ok, message = SchedulerXHook().test_connection()
    assert not ok and "AccessKey Secret" in message and "not-the-secret" not in message

    unknown = json.loads(connection_json(emulator))
    unknown["login"] = "LTAInobody"
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", json.dumps(unknown))
    ok, message = SchedulerXHook().test_connection()
    assert not ok and "AccessKey ID does not exist" in message

    unreachable = json.loads(connection_json(emulator))
    unreachable["host"] = "http://127.0.0.1:9"
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", json.dumps(unreachable))
    ok, message = SchedulerXHook().test_connection()
    assert not ok and "cannot connect" in message


def test_test_connection_without_namespace_lists_namespaces(emulator, monkeypatch):
    conn = json.loads(connection_json(emulator))
    conn["extra"] = {}
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", json.dumps(conn))
    ok, message = SchedulerXHook().test_connection()
    assert ok and "namespace(s)" in message


def test_bad_connection_settings_name_the_field():
    def settings(**extra):
        return ConnectionSettings.from_fields(login="a", password="b", host=None, extra=extra)

    with pytest.raises(SchedulerXConfigError, match="signature_version"):
        settings(signature_version="v2")
    with pytest.raises(SchedulerXConfigError, match="network"):
        settings(network="intranet")
    with pytest.raises(SchedulerXConfigError, match="timeout"):
        settings(timeout="0")
    with pytest.raises(SchedulerXConfigError, match="verify_ssl"):
        settings(verify_ssl="maybe")
    with pytest.raises(SchedulerXConfigError, match="plain http"):
        ConnectionSettings.from_fields(login="a", password="b", host="http://schedulerx.example.com")
    with pytest.raises(SchedulerXConfigError, match="extra is not valid JSON"):
        ConnectionSettings.from_fields(login="a", password="b", host=None, extra="{oops")


def test_host_forms_and_old_style_extra_names():
    def endpoint(host, port=None, **extra):
        return ConnectionSettings.from_fields(login="a", password="b", host=host, port=port, extra=extra)

    assert endpoint(None).config.endpoint == "https://schedulerx.cn-hangzhou.aliyuncs.com"
    assert endpoint("localhost", 8866).config.endpoint == "http://localhost:8866"
    assert endpoint("schedulerx.cn-shanghai.aliyuncs.com").config.endpoint == (
        "https://schedulerx.cn-shanghai.aliyuncs.com"
    )
    old = endpoint(
        None, **{"extra__schedulerx__region_id": "cn-beijing", "extra__schedulerx__network": "vpc"}
    )
    assert old.config.endpoint == "https://schedulerx-vpc.cn-beijing.aliyuncs.com"


def test_no_credentials_anywhere_says_where_to_put_them(monkeypatch):
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    settings = ConnectionSettings.from_fields(login=None, password=None, host=None)
    with pytest.raises(SchedulerXConfigError, match="ALIBABA_CLOUD_ACCESS_KEY_ID"):
        settings.credentials_provider()


def test_environment_credentials_are_used_without_login(emulator, monkeypatch):
    conn = json.loads(connection_json(emulator))
    conn.pop("login"), conn.pop("password")
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", json.dumps(conn))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ACCESS_KEY_SECRET)
    assert SchedulerXHook().get_job_info(101)["JobId"] == 101


def test_provider_info_declares_the_form_once_for_both_paths():
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-schedulerx"
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == "schedulerx"
    assert conn_type["hook-name"] == "Alibaba Cloud SchedulerX"
    fields = conn_type["conn-fields"]
    assert list(fields) == [field.name for field in FORM_FIELDS]
    assert fields["security_token"]["schema"]["format"] == "password"
    assert fields["region_id"]["schema"]["enum"][0] == "cn-hangzhou"
    assert fields["signature_version"]["schema"]["enum"] == ["v3", "v1"]
    assert fields["network"]["schema"]["enum"] == ["public", "vpc"]
    assert "https://sts.aliyuncs.com" in fields["sts_endpoint"]["schema"]["examples"]
    assert "Example: " in fields["namespace"]["description"]
    behaviour = conn_type["ui-field-behaviour"]
    assert behaviour["relabeling"] == {
        "login": "AccessKey ID",
        "password": "AccessKey Secret",
        "host": "Endpoint",
    }
    assert SchedulerXHook.get_ui_field_behaviour()["relabeling"] == behaviour["relabeling"]
    assert SchedulerXHook.get_ui_field_behaviour()["hidden_fields"] == behaviour["hidden-fields"]


def test_airflow_providers_manager_sees_the_connection_type():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-schedulerx" in manager.providers
    hook_info = manager.hooks.get("schedulerx")
    assert hook_info is not None and hook_info.hook_name == "Alibaba Cloud SchedulerX"
    widgets = manager.connection_form_widgets
    assert "extra__schedulerx__region_id" in widgets
    assert widgets["extra__schedulerx__security_token"].is_sensitive
    assert manager.field_behaviours["schedulerx"]["relabeling"]["login"] == "AccessKey ID"


def test_secrets_are_registered_with_the_masker(emulator, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHEDULERX_DEFAULT", connection_json(emulator, security_token="sts-marker-123")
    )
    hook = SchedulerXHook()
    assert hook.settings.security_token == "sts-marker-123"
    assert "sts-marker-123" not in str(redact("token is sts-marker-123"))
    assert ACCESS_KEY_SECRET not in repr(hook.settings)
