"""Flow control (``rate_limit``, ``--rate-limit``): calls beyond N a second per AccessKey are
answered ``Throttling.User`` and not run; and the largest page of the paged lists.

The timings are loose on purpose: a burst's bound is computed from how long it really took,
and a recovery waits more than a full refill.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_provider_schedulerx.emulator import DEFAULT_GROUP_ID, DEFAULT_NAMESPACE, Emulator, FlowControl
from airflow_provider_schedulerx.emulator.actions import MAX_PAGE_SIZE
from airflow_provider_schedulerx.emulator.cli import build_parser
from airflow_provider_schedulerx.exceptions import SchedulerXConfigError, SchedulerXThrottledError
from airflow_provider_schedulerx.rpc import actions as rpc_actions
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE, make_client
from tests.emulator.conftest import AK, SK

ROOT = Path(__file__).parents[2]
JOB = {"JobId": 201}
THROTTLED = (400, "Throttling.User")
MESSAGE = "Request was denied due to user flow control."


def outcome(response) -> tuple[int, str]:
    body = response.json()
    return response.status_code, "OK" if body.get("Success") is True else str(body["Code"])


def burst(client, count: int, action: str = "GetJobInfo") -> tuple[list, float]:
    """``count`` calls back to back: the responses, and the seconds they took."""
    started = time.monotonic()
    responses = [client.call(action, JOB) for _ in range(count)]
    return responses, time.monotonic() - started


def admitted_at_most(rate: float, elapsed: float) -> float:
    """What a full bucket of ``rate`` lets through in ``elapsed`` seconds, one call spare."""
    return max(rate, 1.0) + rate * elapsed + 1


class FakeClock:
    """Steps of a power of two keep the sums exact."""

    def __init__(self) -> None:
        self.now = 1024.0

    def __call__(self) -> float:
        return self.now


# -- the bucket alone, on a clock of its own ---------------------------------------------


def test_the_bucket_lets_a_burst_of_n_through_then_n_a_second():
    clock = FakeClock()
    bucket = FlowControl(4, clock=clock)
    assert bucket.capacity == 4.0
    assert [bucket.admit("ak") for _ in range(6)] == [True] * 4 + [False] * 2
    clock.now += 0.25  # one token back
    assert [bucket.admit("ak") for _ in range(2)] == [True, False]
    clock.now += 10  # never more than the capacity
    assert sum(bucket.admit("ak") for _ in range(20)) == 4


def test_a_refused_call_takes_no_token():
    clock = FakeClock()
    bucket = FlowControl(2, clock=clock)
    assert [bucket.admit("ak") for _ in range(2)] == [True, True]
    for _ in range(3):  # a quarter, a half, three quarters of a token
        clock.now += 0.125
        assert bucket.admit("ak") is False
    clock.now += 0.125
    assert bucket.admit("ak") is True


def test_each_access_key_has_a_bucket_of_its_own():
    bucket = FlowControl(3, clock=FakeClock())
    assert sum(bucket.admit("one") for _ in range(10)) == 3
    assert sum(bucket.admit("two") for _ in range(10)) == 3


def test_a_limit_under_one_a_second_still_lets_one_call_through():
    clock = FakeClock()
    bucket = FlowControl(0.5, clock=clock)
    assert bucket.capacity == 1.0
    assert [bucket.admit("ak"), bucket.admit("ak")] == [True, False]
    clock.now += 2
    assert bucket.admit("ak") is True


def test_a_new_limit_starts_every_bucket_full_and_none_lifts_it():
    bucket = FlowControl(1, clock=FakeClock())
    assert [bucket.admit("ak"), bucket.admit("ak")] == [True, False]
    bucket.rate_limit = 3
    assert sum(bucket.admit("ak") for _ in range(10)) == 3
    bucket.rate_limit = None
    assert not bucket and all(bucket.admit("ak") for _ in range(100))


def test_idle_buckets_are_forgotten_when_there_are_many(monkeypatch):
    from airflow_provider_schedulerx.emulator import flow_control

    monkeypatch.setattr(flow_control, "PRUNE_ABOVE", 10)
    clock = FakeClock()
    bucket = FlowControl(1, clock=clock)
    for index in range(10):
        bucket.admit(f"STS.{index}")
    clock.now += 5  # all of them full again
    bucket.admit("STS.new")
    assert set(bucket._buckets) == {"STS.new"}


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, "5", True])
def test_the_limit_is_a_positive_finite_number(bad):
    with pytest.raises(ValueError, match="rate_limit"):
        Emulator(rate_limit=bad)
    emu = Emulator()
    with pytest.raises(SchedulerXConfigError, match="rate_limit"):
        emu.rate_limit = bad
    assert emu.rate_limit is None


# -- over loopback HTTP --------------------------------------------------------------------


def test_a_burst_over_the_limit_is_throttled_and_starts_nothing(make_emulator, make_raw):
    emu = make_emulator(access_key_id=AK, access_key_secret=SK, rate_limit=5)
    raw = make_raw(emu.url)
    responses, elapsed = burst(raw, 30, "ExecuteJob")
    started = [r.json()["Data"]["JobInstanceId"] for r in responses if outcome(r) == (200, "OK")]
    refused = [r for r in responses if outcome(r) == THROTTLED]
    assert len(started) + len(refused) == 30
    assert 5 <= len(started) <= admitted_at_most(5, elapsed)
    assert len(refused) >= 10
    # Only the admitted calls started an instance.
    assert sorted(inst.instance_id for inst in emu.instances(201)) == sorted(started)
    assert emu.stats.executions[201] == len(started)
    assert emu.stats.throttled["ExecuteJob"] == len(refused) == emu.stats.throttled.total()
    assert emu.stats.throttled_by_key == {AK: len(refused)}
    assert emu.stats.responses[("ExecuteJob", "Throttling.User")] == len(refused)
    assert emu.stats.calls["ExecuteJob"] == 30
    body = refused[0].json()
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert body["Message"] == MESSAGE
    assert "x-acs-retry-after" not in refused[0].headers
    assert "throttled={'ExecuteJob'" in repr(emu.stats)
    emu.stats.reset()
    assert emu.stats.throttled.total() == 0 and not emu.stats.throttled_by_key


def test_the_rate_recovers_after_a_pause(make_emulator, make_raw):
    emu = make_emulator(access_key_id=AK, access_key_secret=SK, rate_limit=5)
    raw = make_raw(emu.url)
    first, _ = burst(raw, 20)
    assert THROTTLED in [outcome(r) for r in first]
    time.sleep(1.5)  # more than a full bucket's refill
    again, _ = burst(raw, 5)
    assert [outcome(r) for r in again] == [(200, "OK")] * 5


def test_two_access_keys_are_limited_apart(make_emulator, make_raw):
    emu = make_emulator(access_key_id=AK, access_key_secret=SK, rate_limit=5)
    emu.add_access_key("second-ak", "second-secret")
    one = make_raw(emu.url)
    two = make_raw(emu.url, access_key_id="second-ak", secret="second-secret")
    flooded, _ = burst(one, 30)
    assert sum(outcome(r) == THROTTLED for r in flooded) >= 10
    fresh, _ = burst(two, 5)
    assert [outcome(r) for r in fresh] == [(200, "OK")] * 5
    assert set(emu.stats.throttled_by_key) == {AK}


def test_unauthenticated_calls_are_neither_throttled_nor_counted(make_emulator, make_raw):
    emu = make_emulator(access_key_id=AK, access_key_secret=SK, rate_limit=5)
    forged, _ = burst(make_raw(emu.url, secret="wrong"), 20)
    assert {outcome(r) for r in forged} == {(400, "SignatureDoesNotMatch")}
    genuine, _ = burst(make_raw(emu.url), 5)
    assert [outcome(r) for r in genuine] == [(200, "OK")] * 5


def test_sts_calls_are_not_limited_and_sts_keys_have_buckets_of_their_own(make_emulator, make_raw):
    emu = make_emulator(access_key_id=AK, access_key_secret=SK, rate_limit=2)
    raw = make_raw(emu.url)
    role = {"RoleArn": "acs:ram::123456789012:role/airflow", "RoleSessionName": "worker"}
    replies = [
        raw.call("AssumeRole", role, scheme="v1", version="2015-04-01", common=False) for _ in range(8)
    ]
    assert [r.status_code for r in replies] == [200] * 8
    assert emu.stats.throttled.total() == 0
    assert sum(outcome(r) == THROTTLED for r in burst(raw, 20)[0]) >= 10
    creds = replies[-1].json()["Credentials"]
    sts = make_raw(
        emu.url,
        access_key_id=creds["AccessKeyId"],
        secret=creds["AccessKeySecret"],
        security_token=creds["SecurityToken"],
    )
    assert [outcome(r) for r in burst(sts, 2)[0]] == [(200, "OK")] * 2


def test_the_limit_can_be_set_and_lifted_on_a_running_emulator(emulator, raw):
    assert emulator.rate_limit is None
    assert {outcome(r) for r in burst(raw, 20)[0]} == {(200, "OK")}
    emulator.rate_limit = 2
    assert emulator.rate_limit == 2.0
    responses, elapsed = burst(raw, 20)
    admitted = sum(outcome(r) == (200, "OK") for r in responses)
    assert 2 <= admitted <= admitted_at_most(2, elapsed)
    emulator.rate_limit = None
    assert {outcome(r) for r in burst(raw, 20)[0]} == {(200, "OK")}


def test_the_providers_client_sees_the_throttling(make_emulator):
    emu = make_emulator(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET, rate_limit=2)
    assert (NAMESPACE, GROUP_ID) == (DEFAULT_NAMESPACE, DEFAULT_GROUP_ID)

    def attempt(call, *args):
        try:
            return call(*args)
        except SchedulerXThrottledError as exc:
            return exc

    with make_client(emu, max_retries=0) as client:
        began = time.monotonic()
        reads = [attempt(client.get_job_info, 201) for _ in range(12)]
        elapsed = time.monotonic() - began
        # The client spaces the starts of one job a second apart: one start of each job.
        starts = {job: attempt(client.execute_job, job) for job in (201, 202, 203, 204, 205)}
    refused = [r for r in reads if isinstance(r, SchedulerXThrottledError)]
    assert 12 - len(refused) <= admitted_at_most(2, elapsed)
    assert len(refused) >= 4
    assert {(e.code, e.http_status) for e in refused} == {THROTTLED[::-1]}
    refused_starts = [job for job, r in starts.items() if isinstance(r, SchedulerXThrottledError)]
    assert refused_starts
    for job, result in starts.items():
        expected = [] if job in refused_starts else [result]
        assert [inst.instance_id for inst in emu.instances(job)] == expected
    assert emu.stats.throttled["ExecuteJob"] == len(refused_starts)
    assert emu.stats.throttled["GetJobInfo"] == len(refused)


# -- the command line --------------------------------------------------------------------


def test_the_command_line_flag():
    parser = build_parser()
    assert parser.parse_args(["--rate-limit", "50"]).rate_limit == 50.0
    assert parser.parse_args(["--rate-limit", "0.5"]).rate_limit == 0.5
    assert parser.parse_args([]).rate_limit is None
    assert "--rate-limit N" in parser.format_help()
    assert "Throttling.User" in parser.format_help()


def test_the_command_line_refuses_a_bad_limit():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_schedulerx.emulator", "--port", "0", "--rate-limit", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert result.returncode == 2
    assert "rate_limit" in result.stderr


def test_the_command_line_throttles(make_raw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "airflow_provider_schedulerx.emulator", "--port", "0"]
    command += ["--rate-limit", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = process.stdout.readline().strip().rsplit(" ", 1)[1]
        codes = [outcome(r) for r in burst(make_raw(url), 5)[0]]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert codes[0] == (200, "OK")
    assert THROTTLED in codes
    assert "GetJobInfo ak=emulator-ak status=400 code=Throttling.User" in stderr


# -- the largest page ----------------------------------------------------------------------


@pytest.mark.parametrize("action", ["GetJobInstanceList", "ListJobs", "ListWorkFlows"])
def test_a_page_over_100_is_refused(raw, action):
    too_big = raw.call(action, {**JOB, "PageSize": MAX_PAGE_SIZE + 1})
    assert outcome(too_big) == (400, "InvalidParameter")
    assert too_big.json()["Message"] == "PageSize must be at most 100, got 101."
    assert outcome(raw.call(action, {**JOB, "PageSize": MAX_PAGE_SIZE})) == (200, "OK")


def test_the_provider_never_asks_for_more_than_the_emulator_allows(emulator):
    assert rpc_actions.MAX_PAGE_SIZE <= MAX_PAGE_SIZE == 100
    with pytest.raises(SchedulerXConfigError, match="page_size"):
        rpc_actions.job_instance_page(201, page_size=MAX_PAGE_SIZE + 1)
