"""A hostile server against every way the provider talks HTTP: the sync and async clients,
the STS credential providers and the connection form's Test button. Whatever the server does
(redirect elsewhere, drip, stay silent, send a huge body or a gzip bomb, malformed or
mismatched replies), the redirect target receives nothing, every case ends within its bound
with a clear error, and memory stays bounded."""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_schedulerx.client import AsyncSchedulerXClient, SchedulerXClient
from airflow_provider_schedulerx.config import ClientConfig
from airflow_provider_schedulerx.credentials import (
    OIDCRoleArnCredentialsProvider,
    RamRoleArnCredentialsProvider,
    StaticCredentialsProvider,
)
from airflow_provider_schedulerx.exceptions import SchedulerXError
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from airflow_provider_schedulerx.rpc.aio import close_shared_session
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE
from tests.hostile import HostileServer, gzip_bomb, instance_detail, reply_of_instance

TIMEOUT = 2.0
#: How long a case may take: the attempt's bound, and some slack for a loaded machine.
BOUND = TIMEOUT + 3.0
PEAK_MEMORY = 100 * 1024 * 1024
ROLE_ARN = "acs:ram::123456789012:role/airflow"
TOKEN = "hostile-test-sts-token-must-not-travel"


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb()


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def cases(bomb: bytes) -> dict[str, tuple[Callable[[HostileServer], Any], str]]:
    """Each case: how the server behaves, and what the error says."""

    def reply(**changes: Any) -> Callable[[HostileServer], Any]:
        return lambda server: server.answer(reply_of_instance(instance_detail(**changes)))

    return {
        "redirect 302": (lambda server: server.redirect(302), "a redirect to host '127.0.0.1'"),
        "redirect 307": (lambda server: server.redirect(307), "redirects are never followed"),
        "redirect 308": (lambda server: server.redirect(308), "redirects are never followed"),
        "a byte a second": (lambda server: server.drip(), f"no complete reply within {TIMEOUT:g}s"),
        "silent": (lambda server: server.silent, f"no complete reply within {TIMEOUT:g}s"),
        "1 GiB announced": (lambda server: server.huge(), "larger than 2048 KiB"),
        "1 GiB chunked": (lambda server: server.huge(announced=False), "larger than 2048 KiB"),
        "gzip bomb": (lambda server: server.compressed(bomb), "larger than 2048 KiB"),
        "an encoding not asked for": (
            lambda server: server.compressed(b"\x00" * 10, "br"),
            "encoded as 'br', which was not asked for",
        ),
        "not JSON": (lambda server: server.answer(b"<html>hi</html>"), "could not be read as JSON"),
        "refused, not JSON": (
            lambda server: server.answer(b"<html>Request-URI Too Large</html>", status=414),
            "refused the request with HTTP 414",
        ),
        "status a word": (reply(Status="abc"), "JobInstanceDetail.Status is 'abc', not a whole number"),
        "status null": (reply(Status=None), "JobInstanceDetail.Status is None, not a whole number"),
        "status 4.7": (reply(Status=4.7), "JobInstanceDetail.Status is 4.7, not a whole number"),
        "a garbage time": (
            reply(StartTime="yesterday-ish"),
            "JobInstanceDetail.StartTime is 'yesterday-ish'",
        ),
        "an overlong time": (
            reply(StartTime="2026-12-01 10:00:00" + "0" * 5000),
            "JobInstanceDetail.StartTime",
        ),
        "another instance": (reply(InstanceId=3), "describes instance 3 of job 1, not instance 2 of job 1"),
        "another job": (reply(JobId=9), "describes instance 2 of job 9, not instance 2 of job 1"),
        "a detail that is a list": (
            lambda server: server.answer(
                json.dumps({"Success": True, "Data": {"JobInstanceDetail": [1]}}).encode()
            ),
            "JobInstanceDetail is [1], not an object",
        ),
    }


CASE_NAMES = list(cases(b""))
STS_CASES = [
    name
    for name in CASE_NAMES
    if not name.startswith(("status", "a garbage", "an overlong", "another", "a detail"))
]


def config(server: HostileServer) -> ClientConfig:
    return ClientConfig(endpoint=server.url, timeout=TIMEOUT, max_retries=0, connect_timeout=1.0)


def client_of(kind: type[Any], server: HostileServer) -> Any:
    credentials = StaticCredentialsProvider(ACCESS_KEY_ID, ACCESS_KEY_SECRET, TOKEN)
    return kind(credentials, config(server), namespace=NAMESPACE, group_id=GROUP_ID)


def bounded(server: HostileServer, run: Callable[[], Any], message: str) -> SchedulerXError:
    """Run ``run``; it must fail with ``message`` within the bound, in bounded memory, and
    send nothing to where a redirect pointed."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(SchedulerXError) as caught:
            run()
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message in str(caught.value)
    assert elapsed < BOUND, f"took {elapsed:.1f}s"
    assert peak < PEAK_MEMORY, f"peak {peak / 2**20:.0f} MiB"
    assert server.recorder.received == [], "the redirect target received a request"
    assert caught.value.__context__ is None and caught.value.__cause__ is None, "an exception is chained"
    return caught.value


@pytest.mark.parametrize("case", CASE_NAMES)
def test_the_sync_client(hostile, bomb, case):
    behaviour, message = cases(bomb)[case]
    hostile.behaviour = behaviour(hostile)
    with client_of(SchedulerXClient, hostile) as client:
        bounded(hostile, lambda: client.get_job_instance(1, 2), message)


@pytest.mark.parametrize("case", CASE_NAMES)
def test_the_async_client(hostile, bomb, case):
    behaviour, message = cases(bomb)[case]
    hostile.behaviour = behaviour(hostile)

    async def poll() -> Any:
        try:
            return await client_of(AsyncSchedulerXClient, hostile).get_job_instance(1, 2)
        finally:
            await close_shared_session()

    bounded(hostile, lambda: asyncio.run(poll()), message)


@pytest.mark.parametrize("case", STS_CASES)
def test_the_sts_providers(hostile, bomb, case, tmp_path):
    behaviour, message = cases(bomb)[case]
    hostile.behaviour = behaviour(hostile)
    role = RamRoleArnCredentialsProvider(
        StaticCredentialsProvider(ACCESS_KEY_ID, ACCESS_KEY_SECRET, TOKEN),
        ROLE_ARN,
        sts_endpoint=hostile.url,
        timeout=TIMEOUT,
    )
    bounded(hostile, role.get_credentials, message)
    token_file = tmp_path / "token"
    token_file.write_text("oidc-token-must-not-travel")
    oidc = OIDCRoleArnCredentialsProvider(
        ROLE_ARN,
        "acs:ram::123456789012:oidc-provider/p",
        str(token_file),
        sts_endpoint=hostile.url,
        timeout=TIMEOUT,
    )
    bounded(hostile, oidc.get_credentials, message)


@pytest.mark.parametrize("case", ["redirect 307", "a byte a second", "silent", "gzip bomb", "1 GiB chunked"])
def test_the_test_button_answers_within_ten_seconds(hostile, bomb, case, monkeypatch):
    behaviour, _ = cases(bomb)[case]
    hostile.behaviour = behaviour(hostile)
    connection = {
        "conn_type": "schedulerx",
        "login": ACCESS_KEY_ID,
        "password": ACCESS_KEY_SECRET,
        "host": hostile.url,
        "extra": {"namespace": NAMESPACE, "group_id": GROUP_ID, "timeout": 30, "max_retries": 5},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", json.dumps(connection))
    started = time.monotonic()
    ok, message = SchedulerXHook().test_connection()
    assert time.monotonic() - started < 10
    assert not ok and ACCESS_KEY_SECRET not in message
    assert hostile.recorder.received == []


TASK_CASES = ["redirect 307", "a byte a second", "silent", "gzip bomb", "another instance", "status a word"]
SENSOR_TIMEOUT = 6.0
#: What resuming a deferred task may add, on the slowest supported Airflow.
RESUME_SECONDS = 15.0


@pytest.mark.dag
@pytest.mark.parametrize("deferrable", [False, True], ids=["poking", "deferred"])
@pytest.mark.parametrize("case", TASK_CASES)
def test_a_waiting_task(airflow_db, hostile, bomb, monkeypatch, capfd, case, deferrable):
    """A sensor waiting on the hostile server ends within its timeout (plus one attempt),
    with a clear error, memory bounded, nothing sent where a redirect pointed."""
    from tests.airflow_versions import dagbag
    from tests.dags.test_example_dags import printed, task_states

    behaviour, message = cases(bomb)[case]
    hostile.behaviour = behaviour(hostile)
    connection = {
        "conn_type": "schedulerx",
        "login": ACCESS_KEY_ID,
        "password": ACCESS_KEY_SECRET,
        "host": hostile.url,
        "extra": {"namespace": NAMESPACE, "group_id": GROUP_ID, "timeout": TIMEOUT, "max_retries": 0},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", json.dumps(connection))
    dag = dagbag(str(Path(__file__).parents[1] / "dags" / "files" / "parity_sensor.py")).dags["parity_sensor"]
    sensor = dag.get_task("wait")
    sensor.deferrable, sensor.poke_interval, sensor.timeout = deferrable, 0.5, SENSOR_TIMEOUT
    tracemalloc.start()
    try:
        dag_run = dag.test(run_conf={"job_id": 1, "instance_id": 2})
        ended = time.monotonic()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert task_states(dag_run) == {"wait": "failed"}
    # From the sensor's first call on: the first ``dag.test`` in a process spends many
    # seconds setting itself up before the task runs.
    assert hostile.first_request_at is not None and hostile.last_closed_at is not None
    talked = hostile.last_closed_at - hostile.first_request_at
    assert talked < SENSOR_TIMEOUT + BOUND + 5, f"the sensor held a connection for {talked:.1f}s"
    # Resuming a deferred task starts it anew: some seconds more on Airflow 3.0.
    waited = ended - hostile.first_request_at
    assert waited < SENSOR_TIMEOUT + BOUND + 5 + (RESUME_SECONDS if deferrable else 0), (
        f"the sensor waited {waited:.1f}s"
    )
    assert peak < PEAK_MEMORY, f"peak {peak / 2**20:.0f} MiB"
    assert hostile.recorder.received == []
    output = printed(capfd)
    assert message in output or "timed out" in output or "did not finish before" in output
