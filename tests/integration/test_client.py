"""The client against the emulator over real loopback HTTP, signed V3 and V1."""

from __future__ import annotations

import asyncio
import time

import pytest
import requests

from airflow_provider_schedulerx.client import SchedulerXClient
from airflow_provider_schedulerx.config import ClientConfig
from airflow_provider_schedulerx.credentials import StaticCredentialsProvider
from airflow_provider_schedulerx.exceptions import (
    SchedulerXAPIError,
    SchedulerXAuthError,
    SchedulerXBusinessError,
    SchedulerXConfigError,
    SchedulerXConnectionError,
    SchedulerXOutcomeUnknownError,
    SchedulerXResponseError,
    SchedulerXServerError,
    SchedulerXThrottledError,
)
from airflow_provider_schedulerx.models import InstanceStatus
from airflow_provider_schedulerx.rpc import actions
from airflow_provider_schedulerx.rpc.protocol import RequestTemplate
from tests.conftest import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    GROUP_ID,
    NAMESPACE,
    make_async_client,
    make_client,
)


def wait_finished(client: SchedulerXClient, job_id: int, instance_id: int, limit: float = 10.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        instance = client.get_job_instance(job_id, instance_id)
        if instance.is_finished:
            return instance
        time.sleep(0.05)
    raise AssertionError(f"instance {instance_id} did not finish")


def test_execute_then_follow_an_instance_to_success(client, emulator):
    instance_id = client.execute_job(101, instance_parameters="date=2026-11-24 & more=*~")
    first = client.get_job_instance(101, instance_id)
    assert first.status in (InstanceStatus.WAITING, InstanceStatus.RUNNING)
    assert first.parameters == "date=2026-11-24 & more=*~"
    finished = wait_finished(client, 101, instance_id)
    assert finished.status is InstanceStatus.SUCCESS
    assert finished.result == "42 rows loaded"
    assert finished.start_time is not None and finished.end_time >= finished.start_time
    assert client.get_log(101, instance_id) == ["extract: 42 rows", "transform: ok", "load: 42 rows"]
    assert client.get_log(101, instance_id, lines=1) == ["load: 42 rows"]
    assert emulator.stats.executions[101] == 1


def test_failed_and_rejected_instances(client):
    failed = wait_finished(client, 102, client.execute_job(102))
    assert failed.status is InstanceStatus.FAILED
    assert "upstream table is empty" in failed.result
    rejected = wait_finished(client, 103, client.execute_job(103))
    assert rejected.status is InstanceStatus.REJECTED


def test_stop_retry_and_set_success(client):
    running = client.execute_job(104)
    client.stop_instance(104, running)
    assert client.get_job_instance(104, running).status is InstanceStatus.KILLED
    failed = client.execute_job(102)
    wait_finished(client, 102, failed)
    client.set_job_instance_success(102, failed)
    assert client.get_job_instance(102, failed).status is InstanceStatus.SUCCESS
    again = client.execute_job(102)
    wait_finished(client, 102, again)
    client.retry_job_instance(102, again)
    assert not client.get_job_instance(102, again).is_finished


def test_list_job_instances_pages_through_everything(client):
    started = [client.execute_job(101) for _ in range(7)]
    listed = list(client.list_job_instances(101, page_size=3))
    assert sorted(i.instance_id for i in listed) == sorted(started)
    assert [i.instance_id for i in client.list_job_instances(101, page_size=2, limit=3)] == sorted(
        started, reverse=True
    )[:3]


def test_job_info_jobs_namespaces_and_raw_call(client):
    info = client.get_job_info(101)
    assert info["JobId"] == 101 and info["Name"] == "nightly-etl"
    assert {job["JobId"] for job in client.list_jobs()} >= {101, 102, 103, 104}
    assert any(ns.get("Uid") == NAMESPACE or ns.get("Name") for ns in client.list_namespaces())
    reply = client.call("GetJobInfo", {"JobId": 101})
    assert reply["Success"] is True and reply["RequestId"]


def test_wrong_secret_fails_at_once_with_what_to_fix(emulator):
    client = SchedulerXClient(
        StaticCredentialsProvider(ACCESS_KEY_ID, "wrong-secret"),
        ClientConfig(endpoint=emulator.url),
        namespace=NAMESPACE,
        group_id=GROUP_ID,
    )
    with pytest.raises(SchedulerXAuthError, match="check the connection's password") as error:
        client.get_job_instance(101, 1)
    assert error.value.code == "SignatureDoesNotMatch" and error.value.http_status == 400
    assert error.value.request_id
    assert client.stats.attempts == 1
    assert "wrong-secret" not in str(error.value)


def test_unknown_access_key(emulator):
    client = SchedulerXClient(
        StaticCredentialsProvider("LTAIunknown", ACCESS_KEY_SECRET),
        ClientConfig(endpoint=emulator.url, signature_version="v1"),
        namespace=NAMESPACE,
        group_id=GROUP_ID,
    )
    with pytest.raises(SchedulerXAuthError, match="AccessKey ID does not exist") as error:
        client.list_jobs()
    assert error.value.code == "InvalidAccessKeyId.NotFound"


def _send_raw(emulator, *, now=None, nonce=None, signature_version="v3"):
    request = RequestTemplate(
        action="GetJobInfo",
        version="2019-04-30",
        params={"JobId": "101", "Namespace": NAMESPACE, "GroupId": GROUP_ID, "RegionId": "cn-hangzhou"},
        method="GET",
        endpoint=emulator.url,
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        signature_version=signature_version,
    ).sign(now=now, nonce=nonce)
    return requests.get(request.url, headers=request.headers, timeout=5)


@pytest.mark.parametrize("signature_version", ["v3", "v1"])
def test_expired_timestamp_and_reused_nonce_are_refused(emulator, signature_version):
    stale = _send_raw(emulator, now=time.time() - 16 * 60, signature_version=signature_version)
    assert stale.status_code == 400 and stale.json()["Code"] == "InvalidTimeStamp.Expired"
    assert _send_raw(emulator, nonce="fixed-nonce-1", signature_version=signature_version).status_code == 200
    reused = _send_raw(emulator, nonce="fixed-nonce-1", signature_version=signature_version)
    assert reused.json()["Code"] == "SignatureNonceUsed"
    body = reused.json()
    assert set(body) >= {"RequestId", "HostId", "Code", "Message", "Recommend"}


def test_clock_skew_maps_to_a_clear_error(emulator):
    emulator.faults.set("clock_skew", count=1)
    with make_client(emulator) as client, pytest.raises(SchedulerXAuthError, match="clock is more than 15"):
        client.get_job_info(101)


def test_business_error_with_http_200(client):
    with pytest.raises(SchedulerXBusinessError, match=r"groupId=other\.group not exist") as error:
        client.get_job_instance(101, 1, group_id="other.group")
    assert error.value.http_status == 200


def test_unknown_namespace_is_a_business_error(client):
    with pytest.raises(SchedulerXBusinessError, match="not exist"):
        client.list_jobs(namespace="no-such-namespace")


def test_unknown_action_and_missing_parameter(client):
    with pytest.raises(SchedulerXAPIError) as unknown:
        client.call("NoSuchAction")
    assert unknown.value.code == "InvalidApi.NotFound" and unknown.value.http_status == 404
    with pytest.raises(SchedulerXAPIError) as missing:
        client.call("GetJobInstance", {"JobInstanceId": 1})
    assert missing.value.code.startswith("Missing")
    assert not missing.value.retryable


def test_transient_errors_are_retried_then_succeed(emulator):
    emulator.faults.set("throttle", count=2)
    emulator.faults.set("server_error", count=1)
    with make_client(emulator) as client:
        assert client.get_job_info(101)["JobId"] == 101
        assert client.stats.retries == 3
        assert (
            client.stats.errors == {"Throttling.User": 2, "ServiceUnavailable": 1}
            or sum(client.stats.errors.values()) == 3
        )


def test_retries_are_bounded_and_the_last_error_is_raised(emulator):
    emulator.faults.set("server_error", count=100)
    with make_client(emulator, max_retries=2) as client, pytest.raises(SchedulerXServerError):
        client.get_job_info(101)
    assert client.stats.attempts == 3


def test_malformed_body_and_reset_are_retried(emulator):
    emulator.faults.set("malformed", count=1)
    emulator.faults.set("reset", count=1)
    with make_client(emulator) as client:
        assert client.get_job_info(101)["JobId"] == 101
        assert client.stats.retries == 2


def test_malformed_body_surfaces_when_it_persists(emulator):
    emulator.faults.set("malformed", count=100)
    with make_client(emulator, max_retries=0) as client, pytest.raises(SchedulerXResponseError):
        client.get_job_info(101)


def test_execute_job_is_retried_when_throttled_but_never_when_the_outcome_is_unknown(emulator):
    emulator.faults.set("throttle", count=1, actions=["ExecuteJob"])
    with make_client(emulator) as client:
        client.execute_job(101)
        assert emulator.stats.executions[101] == 1
        emulator.faults.set("reset_after", count=1, actions=["ExecuteJob"])
        with pytest.raises(SchedulerXOutcomeUnknownError, match="may or may not have taken effect"):
            client.execute_job(101)
    assert emulator.stats.executions[101] == 2  # the ambiguous one did run, once


def test_a_reply_cut_off_midway_is_a_connection_error_retried_unless_it_started_a_job(emulator):
    emulator.faults.set("cut", count=1, actions=["GetJobInfo"])
    with make_client(emulator) as client:
        assert client.get_job_info(101)["JobId"] == 101
        assert client.stats.retries == 1
        emulator.faults.set("cut", count=1, actions=["ExecuteJob"])
        with pytest.raises(SchedulerXOutcomeUnknownError, match="connection lost before the reply"):
            client.execute_job(101)
    assert emulator.stats.executions[101] == 1


async def test_the_async_client_retries_a_reply_cut_off_midway(emulator):
    from airflow_provider_schedulerx.rpc.aio import close_shared_session

    with make_client(emulator) as sync_client:
        instance_id = sync_client.execute_job(101)
    client = make_async_client(emulator)
    emulator.faults.set("cut", count=1, actions=["GetJobInstance"])
    try:
        assert (
            await client.prepared(actions.get_job_instance(101, instance_id))()
        ).instance_id == instance_id
        assert client.stats.retries == 1
    finally:
        await close_shared_session()


def test_the_connection_pool_is_found_once_and_again_after_it_was_closed(emulator):
    with make_client(emulator) as client:
        client.get_job_info(101)
        adapter = client.session.get_adapter(emulator.url)
        (pool,) = adapter._pools.values()
        client.get_job_info(101)
        assert list(adapter._pools.values()) == [pool]
        adapter.poolmanager.clear()  # the pool manager lets go of the pool,
        pool.close()  # and urllib3 1.x closes it as it does
        assert client.get_job_info(101)["JobId"] == 101
        (renewed,) = adapter._pools.values()
        assert renewed is not pool


def test_connection_refused_is_safe_to_retry_for_execute_job(emulator):
    port = emulator.port
    emulator.stop()
    with make_client(emulator, max_retries=1) as client:
        with pytest.raises(SchedulerXConnectionError, match="cannot connect") as error:
            client.execute_job(101)
        assert error.value.sent is False
        assert client.stats.attempts == 2
    assert port


def test_slow_reply_times_out(emulator):
    emulator.faults.set("slow", count=5, seconds=1.0)
    with (
        make_client(emulator, timeout=0.2, max_retries=0) as client,
        pytest.raises(SchedulerXConnectionError, match=r"no complete reply within 0\.2s"),
    ):
        client.get_job_info(101)


def test_bad_input_fails_before_any_call(emulator):
    with make_client(emulator) as client:
        for bad in ("abc", -1, 0, "", None):
            with pytest.raises(SchedulerXConfigError, match="job_id"):
                client.get_job_instance(bad, 1)
        with pytest.raises(SchedulerXConfigError, match="namespace is required"):
            SchedulerXClient(client.credentials, client.config, group_id=GROUP_ID).list_jobs()
        with pytest.raises(SchedulerXConfigError, match="lines"):
            client.get_log(101, 1, lines=500)
        with pytest.raises(SchedulerXConfigError, match="worker and worker_label"):
            client.execute_job(101, worker="w", worker_label="l")
    assert sum(emulator.stats.calls.values()) == 0


def test_repr_of_client_and_credentials_hide_the_secret(emulator):
    with make_client(emulator) as client:
        assert ACCESS_KEY_SECRET not in repr(client)
        assert ACCESS_KEY_SECRET not in repr(client.credentials)
        assert ACCESS_KEY_SECRET not in repr(client.credentials.get_credentials())


async def test_async_client_polls_the_same_instance(emulator):
    from airflow_provider_schedulerx.client import AsyncSchedulerXClient
    from airflow_provider_schedulerx.rpc.aio import close_shared_session, shared_session

    with make_client(emulator) as sync_client:
        instance_id = sync_client.execute_job(101)
    client = make_async_client(emulator)
    try:
        assert shared_session() is shared_session()
        instance = await client.get_job_instance(101, instance_id)
        assert instance.instance_id == instance_id
        emulator.faults.set("throttle", count=1)
        assert (await client.call("GetJobInfo", {"JobId": 101}))["Success"]
        assert client.stats.retries == 1
        emulator.faults.set("throttle", count=100)
        impatient = AsyncSchedulerXClient(
            client.credentials,
            ClientConfig(endpoint=emulator.url, max_retries=0),
            namespace=NAMESPACE,
            group_id=GROUP_ID,
        )
        with pytest.raises(SchedulerXThrottledError):
            await impatient.get_job_instance(101, instance_id)
    finally:
        await close_shared_session()


async def test_a_prepared_poll_follows_its_instance_and_checks_its_ids_once(emulator):
    from airflow_provider_schedulerx.rpc.aio import close_shared_session

    with make_client(emulator) as sync_client:
        instance_id = sync_client.execute_job(101)
    client = make_async_client(emulator)
    with pytest.raises(SchedulerXConfigError, match="job_instance_id"):
        client.prepared(actions.get_job_instance(101, "{{ ti.xcom_pull('start') }}"))
    poll = client.prepared(actions.get_job_instance(101, str(instance_id)))
    try:
        statuses = []
        for _ in range(100):
            instance = await poll()
            assert instance.instance_id == instance_id
            statuses.append(instance.status.label)
            if instance.is_finished:
                break
            await asyncio.sleep(0.05)
        assert statuses[-1] == "success"
        assert "running" in statuses
        assert client.stats.calls == len(statuses)
        emulator.faults.set("throttle", count=1)
        assert (await poll()).is_success
        assert client.stats.retries == 1
    finally:
        await close_shared_session()


async def test_many_clients_polling_in_turn_each_lay_out_their_poll_once(emulator, monkeypatch):
    """A triggerer holds thousands of clients, each repeating a call of its own: the request
    of each is laid out and its URL parsed once, however many other calls come in between."""
    from airflow_provider_schedulerx.rpc import aio, engine
    from airflow_provider_schedulerx.rpc.aio import close_shared_session
    from airflow_provider_schedulerx.rpc.logs import log_page

    with make_client(emulator) as sync_client:
        instance_id = sync_client.execute_job(101)
    laid_out, lay_out = [], engine._request_template
    parsed, parse = [], aio._url

    def counted(*args):
        laid_out.append(args[0])
        return lay_out(*args)

    def counted_url(url):
        parsed.append(url)
        return parse(url)

    monkeypatch.setattr(engine, "_request_template", counted)
    monkeypatch.setattr(aio, "_url", counted_url)
    clients = [make_async_client(emulator) for _ in range(300)]
    polls = [
        client.prepared(log_page(101, instance_id, offset=offset, lines=1))
        for offset, client in enumerate(clients)
    ]
    try:
        for _ in range(3):
            for poll in polls:
                await poll()
        assert laid_out == ["GetLog"] * len(clients)
        assert len(parsed) == len(set(parsed)) == len(clients)
    finally:
        await close_shared_session()


async def test_async_slow_reply_times_out_and_a_pooled_poll_after_it_succeeds(emulator):
    from airflow_provider_schedulerx.rpc.aio import close_shared_session

    with make_client(emulator) as sync_client:
        instance_id = sync_client.execute_job(101)
    client = make_async_client(emulator, timeout=0.2, max_retries=0)
    try:
        emulator.faults.set("slow", count=1, seconds=1.0)
        started = time.monotonic()
        with pytest.raises(SchedulerXConnectionError, match=r"no complete reply within 0\.2s"):
            await client.get_job_instance(101, instance_id)
        assert time.monotonic() - started < 0.9
        assert (await client.get_job_instance(101, instance_id)).instance_id == instance_id
    finally:
        await close_shared_session()


@pytest.mark.parametrize("signature_version", ["v3", "v1"])
async def test_async_client_sends_reserved_characters_as_signed(emulator, signature_version, monkeypatch):
    from airflow_provider_schedulerx.rpc import aio
    from airflow_provider_schedulerx.rpc.aio import close_shared_session

    sent_urls: list[str] = []
    url_of = aio._url

    def recording(url: str):
        sent_urls.append(url)
        return url_of(url)

    monkeypatch.setattr(aio, "_url", recording)
    client = make_async_client(emulator, signature_version=signature_version)
    try:
        for _ in range(2):
            reply = await client.call("ListJobs", {"JobName": "a/b~c *+%"})
            assert reply["Success"] and reply["Data"]["Jobs"] == []
        (sent,) = [url for url in sent_urls if "ListJobs" in url or "JobName" in url][:1]
        assert "JobName=a%2Fb~c%20%2A%2B%25" in sent
        assert str(url_of(sent)) == sent, "the URL goes out as signed, not requoted"
        assert url_of(sent) is url_of(sent)
    finally:
        await close_shared_session()


def test_scope_is_checked_for_every_namespace_a_call_names(emulator):
    with make_client(emulator) as client:
        instance_id = client.execute_job(101)
        for _ in range(2):
            assert client.get_job_instance(101, instance_id).instance_id == instance_id
            with pytest.raises(SchedulerXConfigError, match="namespace: 'bad namespace' must not contain"):
                client.get_job_instance(101, instance_id, namespace="bad namespace")
        client.namespace = "other-namespace"
        with pytest.raises(SchedulerXBusinessError, match="namespace=other-namespace not exist"):
            client.get_job_instance(101, instance_id)


def test_an_unknown_timezone_is_refused_when_the_client_is_made():
    with pytest.raises(SchedulerXConfigError, match="timezone: 'Asia/Shanghia' is not a known time zone"):
        SchedulerXClient(
            StaticCredentialsProvider(ACCESS_KEY_ID, ACCESS_KEY_SECRET), timezone="Asia/Shanghia"
        )
