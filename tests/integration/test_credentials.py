"""Temporary credentials for real: a RAM role through STS AssumeRole and RRSA/OIDC through
AssumeRoleWithOIDC, served by the emulator with lifetimes of a few seconds that it then
enforces, so that renewal happens many times within one test."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_schedulerx.credentials import (
    OIDCRoleArnCredentialsProvider,
    RamRoleArnCredentialsProvider,
    StaticCredentialsProvider,
)
from airflow_provider_schedulerx.emulator import Emulator, JobSpec
from airflow_provider_schedulerx.exceptions import SchedulerXAuthError
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from airflow_provider_schedulerx.rpc.aio import close_shared_session
from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobInstanceTrigger
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE, TEST_JOBS

ROLE_ARN = "acs:ram::123456789012:role/airflow-schedulerx"
#: Lifetime of the STS credentials the emulator issues here: renewed every ~1.6 s.
LIFETIME = 2.0
#: A job that outlives several credential lifetimes.
SLOW_JOB = JobSpec(job_id=201, name="slow", wait_seconds=0.2, run_seconds=5.0, result="done")


@pytest.fixture
def sts_emulator() -> Iterator[Emulator]:
    emu = Emulator(
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        jobs=[*TEST_JOBS, SLOW_JOB],
        namespace=NAMESPACE,
        group_id=GROUP_ID,
        sts_max_lifetime=LIFETIME,
        seed=11,
    )
    with emu:
        yield emu


def role_connection(emu: Emulator, **extra: object) -> str:
    return json.dumps(
        {
            "conn_type": "schedulerx",
            "login": ACCESS_KEY_ID,
            "password": ACCESS_KEY_SECRET,
            "host": emu.url,
            "extra": {
                "namespace": NAMESPACE,
                "group_id": GROUP_ID,
                "role_arn": ROLE_ARN,
                "role_session_name": "airflow-test",
                "external_id": "ext-1234",
                "duration_seconds": 900,
                "sts_endpoint": emu.url,
                "backoff": 0.01,
                **extra,
            },
        }
    )


@pytest.fixture
def oidc_environment(sts_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pod's RRSA environment: role, OIDC provider, token file, and no AccessKey."""
    token_file = tmp_path / "oidc-token"
    token_file.write_text(sts_emulator.issue_oidc_token())
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ROLE_ARN", ROLE_ARN)
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", sts_emulator.oidc_provider_arn)
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("ALIBABA_CLOUD_STS_ENDPOINT", sts_emulator.url)
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHEDULERX_DEFAULT",
        json.dumps(
            {
                "conn_type": "schedulerx",
                "host": sts_emulator.url,
                "extra": {"namespace": NAMESPACE, "group_id": GROUP_ID, "backoff": 0.01},
            }
        ),
    )
    return token_file


def poll_for(hook: SchedulerXHook, seconds: float) -> int:
    """Start the slow job and poll it for ``seconds``; the number of polls."""
    instance_id = hook.execute_job(SLOW_JOB.job_id)
    polls = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        hook.get_job_instance(SLOW_JOB.job_id, instance_id)
        polls += 1
        time.sleep(0.1)
    return polls


def test_assume_role_credentials_are_renewed_before_they_expire(sts_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", role_connection(sts_emulator))
    hook = SchedulerXHook()
    polls = poll_for(hook, 3 * LIFETIME)
    provider = hook.client.credentials
    assert isinstance(provider, RamRoleArnCredentialsProvider)
    # Renewed ahead of expiry every lifetime, never refused by the service.
    assert provider.refresh_count >= 3
    assert sts_emulator.stats.calls["AssumeRole"] == provider.refresh_count
    assert hook.client.stats.errors == {} and hook.client.stats.retries == 0
    assert sts_emulator.stats.responses[("GetJobInstance", "OK")] == polls
    # Every call was signed with the STS credentials, not the user's AccessKey.
    assert repr(hook.client.credentials.get_credentials()).startswith("Credentials(STS STS.")


def test_credentials_the_service_calls_expired_are_renewed_and_the_call_resent(sts_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", role_connection(sts_emulator))
    hook = SchedulerXHook()
    instance_id = hook.execute_job(101)
    sts_emulator.faults.set("expired_credentials", count=1, actions=["GetJobInstance"])
    assert hook.get_job_instance(101, instance_id).instance_id == instance_id
    assert sts_emulator.stats.calls["AssumeRole"] == 2
    assert hook.client.stats.errors == {"InvalidSecurityToken.Expired": 1}


def test_a_bad_role_fails_with_what_sts_said(sts_emulator, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHEDULERX_DEFAULT",
        role_connection(sts_emulator, role_arn="acs:ram::123456789012:role/"),
    )
    with pytest.raises(Exception) as caught:
        SchedulerXHook().get_job_instance(101, 1)
    assert "RoleArn" in str(caught.value) or "role" in str(caught.value).lower()
    assert sts_emulator.stats.calls["GetJobInstance"] == 0


def test_threads_share_one_renewal(sts_emulator):
    source = StaticCredentialsProvider(ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    provider = RamRoleArnCredentialsProvider(source, ROLE_ARN, sts_endpoint=sts_emulator.url)
    start = threading.Barrier(8)
    seen: list[str] = []

    def worker() -> None:
        start.wait()
        for _ in range(40):
            seen.append(provider.get_credentials().access_key_id)
            time.sleep(0.05)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 8 threads over ~2 s: one AssumeRole per renewal, not one per thread.
    assert sts_emulator.stats.calls["AssumeRole"] == provider.refresh_count == len(set(seen))
    assert 1 <= provider.refresh_count <= 3


async def test_coroutines_share_one_renewal_without_blocking_the_loop(sts_emulator):
    source = StaticCredentialsProvider(ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    provider = RamRoleArnCredentialsProvider(source, ROLE_ARN, sts_endpoint=sts_emulator.url)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    ticking = asyncio.create_task(ticker())
    results = await asyncio.gather(*(provider.get_credentials_async() for _ in range(50)))
    ticking.cancel()
    assert len({credentials.access_key_id for credentials in results}) == 1
    assert sts_emulator.stats.calls["AssumeRole"] == 1
    assert ticks > 0  # the loop ran while STS answered in a worker thread


def test_rrsa_oidc_from_the_environment_renews_and_rereads_the_token_file(
    sts_emulator, oidc_environment: Path
):
    hook = SchedulerXHook()
    instance_id = hook.execute_job(101)
    provider = hook.client.credentials
    assert isinstance(provider, OIDCRoleArnCredentialsProvider)
    assert sts_emulator.stats.calls["AssumeRoleWithOIDC"] == 1

    # The kubelet rotates the token; the next renewal reads the new one.
    oidc_environment.write_text(sts_emulator.issue_oidc_token())
    time.sleep(LIFETIME)
    assert hook.get_job_instance(101, instance_id).is_finished
    assert sts_emulator.stats.calls["AssumeRoleWithOIDC"] == 2

    # A token the provider no longer accepts is reported, with STS's reason, at renewal.
    oidc_environment.write_text("not-a-token")
    time.sleep(LIFETIME)
    with pytest.raises(SchedulerXAuthError) as caught:
        hook.get_job_instance(101, instance_id)
    assert "OIDC" in str(caught.value)
    assert "not-a-token" not in str(caught.value)


def test_long_running_sensor_renews_role_credentials(sts_emulator, monkeypatch, airflow_db):
    from tests.dags.test_example_dags import load_dag, task_states

    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", role_connection(sts_emulator))
    dag = load_dag("example_schedulerx_start_and_sense")
    sensor = dag.get_task("wait_for_job")
    sensor.deferrable, sensor.mode, sensor.poke_interval = False, "poke", 0.2
    dag_run = dag.test(run_conf={"job_id": SLOW_JOB.job_id})
    assert task_states(dag_run) == {"start_job": "success", "wait_for_job": "success"}
    # The instance ran ~5 s with credentials that lived 2 s: renewed again and again.
    assert sts_emulator.stats.calls["AssumeRole"] >= 4
    assert not any(code.startswith("InvalidSecurityToken") for _, code in sts_emulator.stats.responses)


async def test_trigger_renews_role_credentials_while_it_polls(sts_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", role_connection(sts_emulator))
    instance_id = SchedulerXHook().execute_job(SLOW_JOB.job_id)
    calls_before = sts_emulator.stats.calls["AssumeRole"]
    trigger = SchedulerXJobInstanceTrigger(SLOW_JOB.job_id, instance_id, poll_interval=0.2)
    try:
        events = [event.payload async for event in trigger.run()]
    finally:
        await close_shared_session()
    assert [event["status"] for event in events] == ["success"]
    assert sts_emulator.stats.calls["AssumeRole"] - calls_before >= 3
    assert not any(code.startswith("InvalidSecurityToken") for _, code in sts_emulator.stats.responses)


async def test_triggers_on_one_connection_share_one_role_session(sts_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", role_connection(sts_emulator))
    hook = SchedulerXHook()
    instance_ids = [hook.execute_job(101) for _ in range(20)]
    calls_before = sts_emulator.stats.calls["AssumeRole"]

    async def wait(instance_id: int) -> str:
        trigger = SchedulerXJobInstanceTrigger(101, instance_id, poll_interval=0.1)
        return [event.payload["status"] async for event in trigger.run()][-1]

    try:
        statuses = await asyncio.gather(*(wait(instance_id) for instance_id in instance_ids))
    finally:
        await close_shared_session()
    assert statuses == ["success"] * 20
    # The hook above assumed the role and the 20 triggers reused its credentials (renewing
    # them once at most, should the 2 s lifetime run out meanwhile), not one session each.
    assert sts_emulator.stats.calls["AssumeRole"] - calls_before <= 1
