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
