"""The server as a whole: concurrency, the command line, the request log, start and stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import requests

from airflow_provider_schedulerx.emulator import Emulator

ROOT = Path(__file__).parents[2]
COMMON = {"Namespace": "demo-namespace", "GroupId": "demo.defaultGroup", "RegionId": "cn-hangzhou"}


async def test_concurrent_keep_alive_pollers(emulator, raw):
    instance_id = raw.data("ExecuteJob", {"JobId": 205})["JobInstanceId"]
    params = {**COMMON, "JobId": 205, "JobInstanceId": instance_id}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def poll(rounds: int) -> list[int]:
            statuses = []
            for _ in range(rounds):
                prepared = raw.v3("GetJobInstance", params)
                async with session.get(
                    emulator.url + "/", params=prepared.params, headers=prepared.headers
                ) as response:
                    body = await response.json()
                    assert response.status == 200, body
                    statuses.append(body["Data"]["JobInstanceDetail"]["Status"])
            return statuses

        started = time.monotonic()
        results = await asyncio.gather(*(poll(3) for _ in range(200)))
        elapsed = time.monotonic() - started
    assert all(status in (1, 3) for statuses in results for status in statuses)
    assert emulator.stats.responses[("GetJobInstance", "OK")] == 600
    assert elapsed < 20


async def test_aiohttp_client_sees_reset_as_client_error(emulator, raw):
    # aiohttp resends an idempotent request once after a dropped connection, so it takes
    # two resets in a row to surface one.
    emulator.faults.set("reset", count=2)
    prepared = raw.v3("GetJobInfo", {**COMMON, "JobId": 201})
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.get(
                emulator.url + "/", params=prepared.params, headers=prepared.headers
            ) as response:
                await response.read()
    assert emulator.stats.faults["reset"] == 2


async def test_aiohttp_resend_after_reset_after_hits_the_nonce_check(emulator, raw):
    """ExecuteJob is a GET: after ``reset_after``, aiohttp's automatic resend carries the
    same nonce, which the gateway has seen; the instance exists once."""
    emulator.faults.set("reset_after", count=1, actions=["ExecuteJob"])
    prepared = raw.v3("ExecuteJob", {**COMMON, "JobId": 201})
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            emulator.url + "/",
            params=prepared.params,
            headers=prepared.headers,
        ) as response,
    ):
        body = await response.json()
    assert (response.status, body["Code"]) == (400, "SignatureNonceUsed")
    assert len(emulator.instances(201)) == 1


def test_start_stop_and_properties():
    emu = Emulator()
    with pytest.raises(RuntimeError):
        _ = emu.url
    with emu:
        assert emu.running
        assert emu.url == f"http://127.0.0.1:{emu.port}"
        assert emu.endpoint == f"127.0.0.1:{emu.port}"
        with pytest.raises(RuntimeError):
            emu.start()
    assert not emu.running
    emu.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{emu.port}/", timeout=2)


def test_busy_port_raises():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(OSError):
            Emulator(port=port).start()


def test_instance_inspection(emulator, raw):
    instance_id = raw.data("ExecuteJob", {"JobId": 205})["JobInstanceId"]
    assert [i.instance_id for i in emulator.instances(205)] == [instance_id]
    assert emulator.get_instance(instance_id).parameters == ""
    assert emulator.get_instance(123) is None
    assert int(emulator.instance_status(instance_id)) in (1, 3)
    with pytest.raises(KeyError):
        emulator.status_history(123)


def test_request_log_never_shows_secrets(emulator, raw, make_raw, caplog):
    caplog.set_level(logging.INFO, logger="airflow_provider_schedulerx.emulator")
    secrets = ["emulator-secret"]

    raw.call("ExecuteJob", {"JobId": 201})
    signed_v3 = raw.v3("GetJobInfo", {**COMMON, "JobId": 201})
    raw.send(signed_v3)
    signed_v1 = raw.v1("GetJobInfo", {**COMMON, "JobId": 201})
    raw.send(signed_v1)
    secrets += [signed_v3.headers["Authorization"].rsplit("=", 1)[1], signed_v1.params["Signature"]]

    assumed = raw.call(
        "AssumeRole",
        {"RoleArn": "acs:ram::123456789012:role/r", "RoleSessionName": "s1"},
        scheme="v1",
        version="2015-04-01",
        common=False,
    ).json()["Credentials"]
    secrets += [assumed["AccessKeySecret"], assumed["SecurityToken"]]
    sts = make_raw(
        emulator.url,
        access_key_id=assumed["AccessKeyId"],
        secret=assumed["AccessKeySecret"],
        security_token=assumed["SecurityToken"],
    )
    sts.call("GetJobInfo", {"JobId": 201})
    sts.call("GetJobInfo", {"JobId": 201}, scheme="v1")
    make_raw(emulator.url, secret="a-wrong-secret").call("GetJobInfo", {"JobId": 201})
    secrets.append("a-wrong-secret")

    token = emulator.issue_oidc_token()
    secrets.append(token)
    raw.session.post(
        emulator.url + "/",
        params={
            "Action": "AssumeRoleWithOIDC",
            "Version": "2015-04-01",
            "RoleArn": "acs:ram::123456789012:role/r",
            "OIDCProviderArn": emulator.oidc_provider_arn,
            "OIDCToken": token,
            "RoleSessionName": "s2",
        },
    )

    text = caplog.text
    for secret in secrets:
        assert secret not in text
    emulator_lines = [r.getMessage() for r in caplog.records if r.name.endswith("emulator")]
    assert len(emulator_lines) == 8
    assert "ExecuteJob ak=emulator-ak status=200 code=OK" in emulator_lines[0]
    assert any(
        f"ak={assumed['AccessKeyId']} status=200" in line and line.startswith("GetJobInfo")
        for line in emulator_lines
    )
    assert any("code=SignatureDoesNotMatch" in line for line in emulator_lines)
    assert emulator_lines[-1].startswith("AssumeRoleWithOIDC ak=- status=200 code=OK")


def test_command_line(make_raw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "airflow_provider_schedulerx.emulator",
        "--port",
        "0",
        "--access-key-id",
        "cli-ak",
        "--access-key-secret",
        "cli-secret-value",
        "--jobs",
        str(ROOT / "example_dags" / "emulator_jobs.json"),
        "--strict-jobs",
        "--throttle-count",
        "1",
        "--fault-actions",
        "GetJobInfo",
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("SchedulerX emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        client = make_raw(url, access_key_id="cli-ak", secret="cli-secret-value")
        throttled = client.call("GetJobInfo", {"JobId": 101})
        assert throttled.json()["Code"] == "Throttling.User"
        info = client.data("GetJobInfo", {"JobId": 101})["JobConfigInfo"]
        assert info["Name"] == "nightly-etl"
        refused = client.call("ExecuteJob", {"JobId": 4242}).json()
        assert refused["Message"] == "jobid: 4242 not exist"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "GetJobInfo ak=cli-ak status=400 code=Throttling.User" in stderr
    assert "cli-secret-value" not in stderr


def test_command_line_rejects_a_bad_jobs_file(tmp_path):
    bad = tmp_path / "jobs.json"
    bad.write_text('[{"job_id": 1, "outcome": "exploded"}]')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_schedulerx.emulator", "--jobs", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=20,
    )
    assert result.returncode == 2
    assert "exploded" in result.stderr


def test_silent_and_slow_connections_are_closed_after_the_idle_timeout():
    with Emulator(idle_timeout=1.0) as emu:
        silent = [socket.create_connection(("127.0.0.1", emu.port)) for _ in range(50)]
        slow = socket.create_connection(("127.0.0.1", emu.port))
        slow.sendall(b"GET /?Action=ListJobs HTTP/1.1\r\nHo")  # and nothing more
        started = time.monotonic()
        for sock in [*silent, slow]:
            sock.settimeout(5)
            assert sock.recv(1024) == b"", "the server closes the connection"
            sock.close()
        assert time.monotonic() - started < 4


def test_finished_instances_are_kept_up_to_a_bound_running_ones_always(make_raw):
    from airflow_provider_schedulerx.emulator import JobSpec

    jobs = [JobSpec(1, wait_seconds=0, run_seconds=0), JobSpec(2, run_seconds=3600)]
    with Emulator(keep_instances=5, jobs=jobs, one_start_per_second=False) as emu:
        raw = make_raw(emu.url)
        running = raw.data("ExecuteJob", {**COMMON, "JobId": 2})["JobInstanceId"]
        finished = [raw.data("ExecuteJob", {**COMMON, "JobId": 1})["JobInstanceId"] for _ in range(20)]
        kept = {inst.instance_id for job in (1, 2) for inst in emu.instances(job)}
        assert running in kept and len(kept) == 5
        assert set(finished[-4:]) <= kept and finished[0] not in kept


def test_instance_ids_do_not_repeat_after_a_restart():
    ids = []
    for _ in range(2):
        with Emulator() as emu:
            ids.append(emu.state.execute(emu.state.job("demo-namespace", "demo.defaultGroup", 7)).instance_id)
    assert ids[1] > ids[0]


def test_listening_beyond_loopback_with_the_demo_secret_is_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="airflow_provider_schedulerx.emulator"):
        with Emulator(host="0.0.0.0"):
            pass
        with Emulator(host="0.0.0.0", access_key_secret="a-secret-of-my-own"):
            pass
    warnings = [r.getMessage() for r in caplog.records if "beyond loopback" in r.getMessage()]
    assert len(warnings) == 1 and "0.0.0.0" in warnings[0]


def test_the_command_line_takes_the_secret_from_a_file_or_the_environment(tmp_path):
    from airflow_provider_schedulerx.emulator.cli import access_key_secret, build_parser

    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")
    parser = build_parser()
    assert (
        access_key_secret(parser.parse_args(["--access-key-secret-file", str(secret_file)])) == "from-a-file"
    )
    os.environ["SCHEDULERX_EMULATOR_ACCESS_KEY_SECRET"] = "from-the-environment"
    try:
        assert access_key_secret(parser.parse_args([])) == "from-the-environment"
        assert access_key_secret(parser.parse_args(["--access-key-secret", "flag"])) == "flag"
    finally:
        del os.environ["SCHEDULERX_EMULATOR_ACCESS_KEY_SECRET"]
    assert access_key_secret(parser.parse_args([])) == "emulator-secret"


def test_a_job_is_started_once_per_second_as_the_service_does(make_emulator, make_raw):
    emu = make_emulator(one_start_per_second=True)
    raw = make_raw(emu.url)
    while time.time() % 1 > 0.5:  # both calls within one second of the clock
        time.sleep(0.05)
    first = raw.call("ExecuteJob", {"JobId": 201})
    second = raw.call("ExecuteJob", {"JobId": 201})
    assert first.json()["Success"] is True
    assert second.json()["Success"] is False and "already has an instance" in second.json()["Message"]
    other_job = raw.call("ExecuteJob", {"JobId": 202})
    assert other_job.json()["Success"] is True
    time.sleep(1.0)
    assert raw.call("ExecuteJob", {"JobId": 201}).json()["Success"] is True
