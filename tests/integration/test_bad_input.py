"""Bad input fails before any request, with a message that names the setting and what it
accepts; a status the service adds in future is kept and reported, not a crash."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_schedulerx.emulator import Emulator, JobSpec
from airflow_provider_schedulerx.exceptions import SchedulerXConfigError
from airflow_provider_schedulerx.hooks.connection import ConnectionSettings
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from airflow_provider_schedulerx.models import InstanceStatus
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE, connection_json

CALLS: dict[str, tuple[Callable[[SchedulerXHook], Any], str]] = {
    "non-numeric job id": (
        lambda hook: hook.get_job_instance("12a", 1),
        "job_id: expected a SchedulerX id, a whole number from 1 to 9223372036854775807, got '12a'",
    ),
    "negative job id": (lambda hook: hook.execute_job(-3), "job_id: expected a SchedulerX id"),
    "superscript digit": (
        lambda hook: hook.get_job_instance("\u00b2", 1),
        "job_id: expected a SchedulerX id",
    ),
    "fullwidth digits": (
        lambda hook: hook.execute_job("\uff11\uff10\uff11"),
        "job_id: expected a SchedulerX id",
    ),
    "5,000 digits": (lambda hook: hook.get_job_instance("9" * 5000, 1), "job_id: expected a SchedulerX id"),
    "id over a long": (lambda hook: hook.execute_job(2**63), "job_id: expected a SchedulerX id"),
    "oversized parameters": (
        lambda hook: hook.execute_job(101, instance_parameters="p=" + "%" * 3000),
        "instance_parameters: at most 6144 bytes once URL-encoded",
    ),
    "parameters not a string": (
        lambda hook: hook.execute_job(101, instance_parameters={"a": 1}),
        "instance_parameters: expected a string, got {'a': 1}",
    ),
    "worker with a space": (
        lambda hook: hook.execute_job(101, worker="a b"),
        "worker: 'a b' must not contain",
    ),
    "check_job_status not a boolean": (
        lambda hook: hook.execute_job(101, check_job_status="yes"),
        "check_job_status: expected true or false",
    ),
    "fractional instance id": (
        lambda hook: hook.stop_instance(1, 2.5),
        "job_instance_id: expected a SchedulerX id, a whole number from 1 to 9223372036854775807, got 2.5",
    ),
    "boolean instance id": (
        lambda hook: hook.get_log(1, True),
        "job_instance_id: expected a SchedulerX id, a whole number from 1 to 9223372036854775807, got True",
    ),
    "empty namespace": (
        lambda hook: SchedulerXHook(namespace="  ").get_job_instance(1, 2),
        "namespace is required: set it on the task or as the connection's extra 'namespace'",
    ),
    "empty group": (
        lambda hook: hook.get_job_instance(1, 2, group_id=" "),
        "group_id is required: set it on the task or as the connection's extra 'group_id'",
    ),
    "too many log lines": (
        lambda hook: hook.get_log(1, 2, lines=500),
        "lines: expected a whole number from 1 to 200, got 500",
    ),
    "a page too large": (
        lambda hook: list(hook.list_job_instances(1, page_size=500)),
        "page_size: expected a whole number from 1 to 100, got 500",
    ),
    "an action that is not a name": (lambda hook: hook.call("Get Job"), "action: 'Get Job' is not"),
}

SETTINGS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown signature_version": (
        {"extra": {"signature_version": "v2"}},
        "signature_version: 'v2' is not one of v3, v1",
    ),
    "unknown network": ({"extra": {"network": "intranet"}}, "network: 'intranet' is not one of public, vpc"),
    "zero timeout": ({"extra": {"timeout": 0}}, "timeout: expected a number from 0.1 to 600, got 0"),
    "negative timeout": (
        {"extra": {"timeout": "-1"}},
        "timeout: expected a number from 0.1 to 600, got '-1'",
    ),
    "infinite timeout": (
        {"extra": {"timeout": "inf"}},
        "timeout: expected a number from 0.1 to 600, got 'inf'",
    ),
    "timeout not a number": ({"extra": {"timeout": [30]}}, "timeout: expected a number from 0.1 to 600"),
    "backoff not a number": (
        {"extra": {"backoff": "nan"}},
        "backoff: expected a number from 0 to 600, got 'nan'",
    ),
    "negative max_retries": (
        {"extra": {"max_retries": -1}},
        "max_retries: expected a whole number from 0 to 20",
    ),
    "fractional max_retries": ({"extra": {"max_retries": "1.5"}}, "max_retries: expected a whole number"),
    "verify_ssl not a boolean": ({"extra": {"verify_ssl": "maybe"}}, "verify_ssl: expected true or false"),
    "extra is a list": (
        {"extra": [1, 2]},
        "the connection's extra must be a JSON object of settings, got a list",
    ),
    "extra is a number": (
        {"extra": "5"},
        "the connection's extra must be a JSON object of settings, got a int",
    ),
    "extra is a string": (
        {"extra": '"x"'},
        "the connection's extra must be a JSON object of settings, got a str",
    ),
    "namespace not a string": ({"extra": {"namespace": 5}}, "namespace: expected a string, got 5"),
    "STS endpoint not a string": (
        {"extra": {"role_arn": "acs:ram::1:role/r", "sts_endpoint": 5}},
        "sts_endpoint: expected a string, got 5",
    ),
    "unknown timezone": ({"extra": {"timezone": "Mars/Olympus"}}, "timezone: 'Mars/Olympus' is not a known"),
    "endpoint with no host": ({"host": "https://"}, "endpoint: 'https://' is not a valid endpoint"),
    "endpoint with a space": ({"host": "https://exa mple.com"}, "is not a valid endpoint"),
    "endpoint with a bad port": ({"host": "https://schedulerx.example.com:99999"}, "has an invalid port"),
    "endpoint with a path": ({"host": "https://schedulerx.example.com/api"}, "must not have a path or query"),
    "endpoint not http(s)": (
        {"host": "ftp://schedulerx.example.com"},
        "must use https:// (or http:// on loopback)",
    ),
    "plain http off loopback": (
        {"host": "http://schedulerx.example.com"},
        "uses plain http to a non-loopback host; credentials are only sent over https",
    ),
    "STS endpoint over plain http": (
        {"extra": {"role_arn": "acs:ram::1:role/r", "sts_endpoint": "http://sts.example.com"}},
        "sts_endpoint",
    ),
    "role ARN of another cloud": (
        {"extra": {"role_arn": "arn:aws:iam::1:role/r"}},
        "role_arn: expected an ARN like acs:ram::<account id>:role/<role name>",
    ),
    "role session too short": (
        {"extra": {"role_arn": "acs:ram::1:role/r", "duration_seconds": 60}},
        "duration_seconds: expected a whole number from 900 to 43200, got 60",
    ),
    "console URL not http(s)": (
        {"extra": {"console_url": "javascript:alert(1)"}},
        "console_url: expected an http(s) URL",
    ),
}


@pytest.fixture
def hook(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> SchedulerXHook:
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", connection_json(emulator))
    return SchedulerXHook()


@pytest.mark.parametrize("case", CALLS)
def test_bad_call_arguments_fail_before_any_request(emulator, hook, case):
    call, message = CALLS[case]
    with pytest.raises(SchedulerXConfigError) as caught:
        call(hook)
    assert message in str(caught.value)
    assert sum(emulator.stats.calls.values()) == 0


def credentials_from(fields: dict[str, Any]) -> Any:
    settings = ConnectionSettings.from_fields(
        login=ACCESS_KEY_ID, password=ACCESS_KEY_SECRET, host=fields.get("host"), extra=fields.get("extra")
    )
    return settings.credentials_provider()


@pytest.mark.parametrize("case", SETTINGS)
def test_bad_connection_settings_fail_before_any_request(case):
    fields, message = SETTINGS[case]
    with pytest.raises(SchedulerXConfigError) as caught:
        credentials_from(fields)
    assert message in str(caught.value)
    assert ACCESS_KEY_SECRET not in str(caught.value)


def test_unknown_extras_and_regions_are_used_with_a_warning(emulator, monkeypatch, capfd):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHEDULERX_DEFAULT",
        connection_json(emulator, namespce="typo", region_id="mars-north-1", extra__schedulerx__timeout=5),
    )
    hook = SchedulerXHook()
    warnings = hook.settings.warnings
    assert any("extra 'namespce' is not a setting of the SchedulerX connection" in w for w in warnings)
    assert any("region_id: 'mars-north-1' is not a region this release knows" in w for w in warnings)
    assert hook.settings.config.timeout == 5
    assert "Connection schedulerx_default: extra 'namespce'" in "".join(capfd.readouterr())
    ok, message = hook.test_connection()
    assert ok and "Note: extra 'namespce'" in message


@pytest.mark.parametrize(
    ("statuses", "message"),
    [
        (
            ["finished"],
            "success_statuses: 'finished' is not a SchedulerX instance status; use one of 0 (unknown)",
        ),
        ([42], "success_statuses: 42 is not a SchedulerX instance status"),
        ([], "success_statuses: give at least one status"),
        (["success", "failed"], "success_statuses and failure_statuses both contain: failed"),
    ],
)
def test_bad_statuses_fail_when_the_dag_is_parsed(statuses, message):
    from airflow_provider_schedulerx.sensors.schedulerx import SchedulerXJobInstanceSensor

    with pytest.raises(ValueError) as caught:
        SchedulerXJobInstanceSensor(task_id="wait", job_id=1, job_instance_id=2, success_statuses=statuses)
    assert message in str(caught.value)


@pytest.fixture
def new_status_emulator(monkeypatch: pytest.MonkeyPatch):
    """A service whose job ends in status 42, which no release of the provider knows."""
    with Emulator(
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        jobs=[JobSpec(job_id=501, wait_seconds=0.1, run_seconds=0.1, outcome=42)],
        namespace=NAMESPACE,
        group_id=GROUP_ID,
    ) as emu:
        monkeypatch.setenv(
            "AIRFLOW_CONN_SCHEDULERX_DEFAULT",
            json.dumps(
                {
                    "conn_type": "schedulerx",
                    "login": ACCESS_KEY_ID,
                    "password": ACCESS_KEY_SECRET,
                    "host": emu.url,
                    "extra": {"namespace": NAMESPACE, "group_id": GROUP_ID},
                }
            ),
        )
        yield emu


@pytest.mark.dag
def test_an_unknown_status_is_kept_and_reported(new_status_emulator, airflow_db, capfd):
    import time

    from tests.dags.test_example_dags import load_dag, printed, task_states, xcom

    hook = SchedulerXHook()
    instance_id = hook.execute_job(501)
    time.sleep(0.5)
    instance = hook.get_job_instance(501, instance_id)
    assert instance.status == 42 and not instance.status.recognized and not instance.is_finished

    # The report DAG's sensor waits for a final status: the unknown one is reported, and the
    # sensor keeps waiting (here until its timeout) instead of guessing what it means.
    dag = load_dag("example_schedulerx_report_and_branch")
    sensor = dag.get_task("wait_until_final")
    sensor.deferrable, sensor.mode, sensor.poke_interval, sensor.timeout = False, "poke", 0.2, 1.0
    dag_run = dag.test(run_conf={"job_id": 501})
    assert task_states(dag_run)["wait_until_final"] == "failed"
    output = printed(capfd)
    assert "SchedulerX reported a status this provider does not know: 42" in output
    assert f"job 501 instance {instance_id + 1}: unrecognized 42" in output
    assert xcom(dag_run, "start_job", "job_instance_id") == instance_id + 1
    assert InstanceStatus(42).label == "unrecognized 42"


def _operator(**kwargs: Any) -> Any:
    from airflow_provider_schedulerx.operators.schedulerx import SchedulerXExecuteJobOperator

    return SchedulerXExecuteJobOperator(task_id="t", job_id=101, **kwargs)


def _sensor(**kwargs: Any) -> Any:
    from airflow_provider_schedulerx.sensors.schedulerx import SchedulerXJobInstanceSensor

    return SchedulerXJobInstanceSensor(task_id="t", job_id=101, job_instance_id=1, **kwargs)


def _report(**kwargs: Any) -> Any:
    from airflow_provider_schedulerx.operators.schedulerx import SchedulerXGetJobInstanceOperator

    return SchedulerXGetJobInstanceOperator(task_id="t", job_id=101, job_instance_id=1, **kwargs)


#: Task arguments that are not templated: refused when the DAG is parsed.
TASK_ARGUMENTS: dict[str, tuple[Callable[..., Any], dict[str, Any], str]] = {
    "poll_interval not a number": (_operator, {"poll_interval": float("nan")}, "poll_interval: expected"),
    "poll_interval infinite": (_operator, {"poll_interval": float("inf")}, "poll_interval: expected"),
    "poll_interval a string": (_operator, {"poll_interval": "10"}, "poll_interval: expected a number"),
    "poll_interval zero": (
        _operator,
        {"poll_interval": 0},
        "poll_interval: expected a number of seconds at least 0.1",
    ),
    "poll_interval a boolean": (_operator, {"poll_interval": True}, "poll_interval: expected"),
    "timeout not a number": (_operator, {"timeout": float("nan")}, "timeout: expected a number of seconds"),
    "timeout infinite": (_operator, {"timeout": float("inf")}, "timeout: expected a number of seconds"),
    "timeout a string": (_operator, {"timeout": "10"}, "timeout: expected a number of seconds"),
    "timeout zero": (_operator, {"timeout": 0}, "timeout: expected a number of seconds greater than 0"),
    "deferrable a string": (_operator, {"deferrable": "yes"}, "deferrable: expected True or False"),
    "wait_for_completion a string": (
        _operator,
        {"wait_for_completion": "no"},
        "wait_for_completion: expected",
    ),
    "check_job_status a string": (_operator, {"check_job_status": "yes"}, "check_job_status: expected"),
    "worker and label": (_operator, {"worker": "w", "worker_label": "l"}, "worker and worker_label"),
    "an unknown status": (_operator, {"success_statuses": ["done"]}, "success_statuses: 'done' is not"),
    "overlapping statuses": (_operator, {"failure_statuses": ["success"]}, "both contain: success"),
    "no success status": (_operator, {"success_statuses": []}, "success_statuses: give at least one"),
    "an empty connection id": (_operator, {"schedulerx_conn_id": " "}, "schedulerx_conn_id: expected"),
    "poke_interval zero": (_sensor, {"poke_interval": 0, "deferrable": True}, "poke_interval: expected"),
    "poke_interval not a number": (_sensor, {"poke_interval": float("nan")}, "poke_interval"),
    "sensor timeout infinite": (_sensor, {"timeout": float("inf")}, "timeout: expected a number of seconds"),
    "sensor deferrable a string": (_sensor, {"deferrable": 1}, "deferrable: expected True or False"),
    "report log_lines too many": (
        _report,
        {"log_lines": 500},
        "log_lines: expected a whole number from 0 to 200",
    ),
    "report statuses unknown": (_report, {"failure_statuses": [42]}, "failure_statuses: 42 is not"),
}


@pytest.mark.parametrize("case", TASK_ARGUMENTS)
def test_bad_task_arguments_are_refused_when_the_dag_is_parsed(case):
    make, kwargs, message = TASK_ARGUMENTS[case]
    with pytest.raises(Exception) as caught:
        make(**kwargs)
    assert message in str(caught.value) or (
        "poke_interval" in message and "poke_interval must be" in str(caught.value)
    ), str(caught.value)


#: Templated arguments, checked once rendered: the try fails for good, before any request.
RENDERED: dict[str, tuple[dict[str, Any], str]] = {
    "a superscript job id": ({"job_id": "\u00b2"}, "job_id: expected a SchedulerX id"),
    "a fullwidth job id": ({"job_id": "\uff11\uff10\uff11"}, "job_id: expected a SchedulerX id"),
    "a 5,000-digit job id": ({"job_id": "9" * 5000}, "job_id: expected a SchedulerX id"),
    "a job id beyond a long": ({"job_id": str(2**63)}, "job_id: expected a SchedulerX id"),
    "a job id rendered to nothing": ({"job_id": ""}, "did the template render to nothing?"),
    "oversized parameters": ({"instance_parameters": "x" * 7000}, "instance_parameters: at most 6144 bytes"),
    "a namespace with a space": ({"namespace": "a b"}, "namespace: 'a b' must not contain"),
    "a worker with a space": ({"worker": "a b"}, "worker: 'a b' must not contain"),
}


@pytest.mark.dag
@pytest.mark.parametrize("case", RENDERED)
def test_bad_rendered_arguments_fail_the_try_before_any_request(
    airflow_db, schedulerx_connection, capfd, case
):
    from tests.dags.test_example_dags import printed, run_example, task_states

    overrides, message = RENDERED[case]
    dag_run = run_example("example_schedulerx_execute_job", 101, run_job=overrides)
    assert task_states(dag_run) == {"run_job": "failed"}
    assert message in printed(capfd)
    assert sum(schedulerx_connection.stats.calls.values()) == 0
