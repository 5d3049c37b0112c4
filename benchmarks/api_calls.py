"""Benchmark 2, cost per API call (sync): client CPU and wall time per signed
``GetJobInstance`` over keep-alive HTTP, the provider's client next to the official SDK,
taking turns against one emulator process; and signing alone."""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from benchmarks import clients
from benchmarks.emulators import EmulatorFleet, FleetMeter
from benchmarks.environment import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE, REGION_ID
from benchmarks.stats import median, ratio

WARM_UP_CALLS = 50


@dataclass(frozen=True)
class CallCost:
    """Medians over the rounds of one client, and each round's CPU and wall time per call."""

    client: str
    cpu_us: float
    wall_us: float
    calls: int
    connections_opened: int
    rounds: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class ApiCallResults:
    costs: dict[str, CallCost]
    signing_us: dict[str, float]
    reading_us: dict[str, float]
    emulator_core_share: float
    rounds: int
    calls_per_round: int

    def __getitem__(self, client: str) -> CallCost:
        return self.costs[client]

    def paired_ratios(self, client: str, baseline: str) -> tuple[float, float]:
        """CPU and wall ratios of ``client`` to ``baseline``: the median, over the rounds, of
        the ratio within each round, where the two ran back to back. A slow stretch of a
        shared machine then weighs on both sides of a ratio instead of on one client's
        median."""
        pairs = list(zip(self.costs[client].rounds, self.costs[baseline].rounds))
        return (
            median([ratio(mine[0], theirs[0]) for mine, theirs in pairs]),
            median([ratio(mine[1], theirs[1]) for mine, theirs in pairs]),
        )


def run(rounds: int, calls_per_round: int) -> ApiCallResults:
    with EmulatorFleet(1) as fleet:
        url = fleet.urls[0]
        ((instance_id,),) = fleet.start_instances(1)
        callers: dict[str, Callable[[], Any]] = {}
        for version in ("v3", "v1"):
            callers[f"provider-{version}"] = clients.provider_sync_call(url, instance_id, version)
            callers[f"sdk-{version}"] = clients.sdk_sync_call(url, instance_id, version)
        for call in callers.values():
            for _ in range(WARM_UP_CALLS):
                call()
        samples: dict[str, list[tuple[float, float, int]]] = {name: [] for name in callers}
        whole = FleetMeter(fleet)
        whole.start()
        for _ in range(rounds):
            for name, call in callers.items():
                samples[name].append(_timed_round(fleet, call, calls_per_round))
        emulator = whole.stop()
    costs = {
        name: CallCost(
            client=name,
            cpu_us=median([cpu for cpu, _, _ in rounds_of_one]),
            wall_us=median([wall for _, wall, _ in rounds_of_one]),
            calls=rounds * calls_per_round,
            connections_opened=sum(opened for _, _, opened in rounds_of_one),
            rounds=tuple((cpu, wall) for cpu, wall, _ in rounds_of_one),
        )
        for name, rounds_of_one in samples.items()
    }
    return ApiCallResults(
        costs=costs,
        signing_us=signing_costs(),
        reading_us=reading_costs(),
        emulator_core_share=emulator.busiest_core_share,
        rounds=rounds,
        calls_per_round=calls_per_round,
    )


def _timed_round(fleet: EmulatorFleet, call: Callable[[], Any], calls: int) -> tuple[float, float, int]:
    """CPU and wall microseconds per call, and connections the emulator accepted."""
    meter = FleetMeter(fleet)
    meter.start()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        call()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / calls * 1e6, wall / calls * 1e6, meter.stop().connections_accepted


def signing_costs(number: int = 1000, repeats: int = 15) -> dict[str, float]:
    """Microseconds per signature of one ``GetJobInstance`` (best of ``repeats`` runs of
    ``number``): the provider's functions and the SDK's, V3 and V1, and the provider's
    whole request preparation."""
    from alibabacloud_tea_openapi.utils import Utils

    from airflow_provider_schedulerx import signing
    from airflow_provider_schedulerx.rpc import protocol

    params = {
        "Namespace": NAMESPACE,
        "GroupId": GROUP_ID,
        "RegionId": REGION_ID,
        "JobId": "900",
        "JobInstanceId": "12345",
    }
    headers = {
        "host": "schedulerx.cn-hangzhou.aliyuncs.com",
        "x-acs-action": "GetJobInstance",
        "x-acs-version": "2019-04-30",
        "x-acs-date": "2024-01-01T00:00:00Z",
        "x-acs-signature-nonce": "3b8c6e1f0d2a4b5c9e7f1a2b3c4d5e6f",
        "x-acs-content-sha256": signing.EMPTY_PAYLOAD_SHA256,
    }
    v1_query = {
        **params,
        "Action": "GetJobInstance",
        "Version": "2019-04-30",
        "Format": "JSON",
        "Timestamp": "2024-01-01T00:00:00Z",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": "3b8c6e1f0d2a4b5c9e7f1a2b3c4d5e6f",
        "AccessKeyId": ACCESS_KEY_ID,
    }
    sdk_request = SimpleNamespace(pathname="/", method="GET", query=dict(params), headers=dict(headers))

    request: dict[str, Any] = {
        "action": "GetJobInstance",
        "version": "2019-04-30",
        "params": params,
        "method": "GET",
        "endpoint": "https://schedulerx.cn-hangzhou.aliyuncs.com",
        "access_key_id": ACCESS_KEY_ID,
        "access_key_secret": ACCESS_KEY_SECRET,
    }

    def prepare(version: str) -> Callable[[], Any]:
        return lambda: protocol.RequestTemplate(**request, signature_version=version).sign()

    repeated_call = protocol.RequestTemplate(**request)

    functions: dict[str, Callable[[], Any]] = {
        "provider-v3": lambda: signing.sign_v3(
            "GET", "/", params, headers, signing.EMPTY_PAYLOAD_SHA256, ACCESS_KEY_ID, ACCESS_KEY_SECRET
        ),
        "sdk-v3": lambda: Utils.get_authorization(
            sdk_request, "ACS3-HMAC-SHA256", signing.EMPTY_PAYLOAD_SHA256, ACCESS_KEY_ID, ACCESS_KEY_SECRET
        ),
        "provider-v1": lambda: signing.sign_v1("GET", v1_query, ACCESS_KEY_SECRET),
        "sdk-v1": lambda: Utils.get_rpcsignature(v1_query, "GET", ACCESS_KEY_SECRET),
        "provider-prepare-v3": prepare("v3"),
        "provider-prepare-v1": prepare("v1"),
        "provider-repeat-v3": repeated_call.sign,
    }
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeats):  # taking turns, so that a noisy moment does not hit one alone
        for name, function in functions.items():
            timer = timeit.Timer(function, timer=time.process_time)  # CPU: not the time descheduled
            best[name] = min(best[name], timer.timeit(number))
    return {name: seconds / number * 1e6 for name, seconds in best.items()}


def reading_costs(number: int = 1000, repeats: int = 15) -> dict[str, float]:
    """Microseconds to read one ``GetJobInstance`` reply into a record (best of ``repeats``
    runs of ``number``): ``afresh``, every field read and checked, as each poll did before a
    poll's reader kept the last record; ``again``, the reader of a poll that read the same
    instance last time, as a poll loop mostly finds it."""
    import json

    from airflow_provider_schedulerx.rpc import actions
    from airflow_provider_schedulerx.rpc.replies import data_of, job_instance

    job_id, instance_id = 900, 1_796_318_350_345_998
    body = json.dumps(
        {
            "Code": 200,
            "Success": True,
            "RequestId": "FFCB1567-F763-4626-BA00-03229AE97DC9",
            "Data": {
                "JobInstanceDetail": {
                    "DataTime": "2026-12-04 01:19:10",
                    "EndTime": "",
                    "Executor": "openapi",
                    "InstanceId": instance_id,
                    "JobId": job_id,
                    "Progress": "0%",
                    "Result": "",
                    "ScheduleTime": "2026-12-04 01:19:10",
                    "StartTime": "2026-12-04 01:19:10",
                    "Status": 3,
                    "TimeType": 100,
                    "TriggerType": 3,
                    "WorkAddr": "127.0.0.1:16888",
                    "JobName": "benchmark-long-running",
                    "Parameters": "",
                    "TraceId": "7165795b14ed465e8d64c2435e7ec4",
                }
            },
        }
    )
    reader = actions.get_job_instance(job_id, instance_id).parse
    functions: dict[str, Callable[[], Any]] = {
        "afresh": lambda: job_instance(
            data_of(json.loads(body), "GetJobInstance").child("JobInstanceDetail"), "Asia/Shanghai"
        ),
        "again": lambda: reader(json.loads(body), "Asia/Shanghai"),
    }
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeats):
        for name, function in functions.items():
            timer = timeit.Timer(function, timer=time.process_time)
            best[name] = min(best[name], timer.timeit(number))
    return {name: seconds / number * 1e6 for name, seconds in best.items()}
