"""The two clients under comparison, each set up to call ``GetJobInstance`` on one
emulator: the provider's and Alibaba's official Python SDK."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.emulators import BENCH_JOB_ID
from benchmarks.environment import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE, REGION_ID

#: The provider's signature version -> the SDK's name for the same scheme.
SDK_SIGNATURE_ALGORITHMS = {"v3": None, "v1": "v2"}


def provider_sync_client(url: str, signature_version: str = "v3") -> Any:
    from airflow_provider_schedulerx.client import SchedulerXClient
    from airflow_provider_schedulerx.config import ClientConfig
    from airflow_provider_schedulerx.credentials import StaticCredentialsProvider

    return SchedulerXClient(
        StaticCredentialsProvider(ACCESS_KEY_ID, ACCESS_KEY_SECRET),
        ClientConfig(endpoint=url, signature_version=signature_version, max_calls_per_second=0),
        namespace=NAMESPACE,
        group_id=GROUP_ID,
    )


def sdk_client(url: str, signature_version: str = "v3") -> Any:
    from alibabacloud_schedulerx220190430.client import Client
    from alibabacloud_tea_openapi.models import Config

    config = Config(
        endpoint=url.removeprefix("http://"),
        protocol="http",
        region_id=REGION_ID,
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
    )
    algorithm = SDK_SIGNATURE_ALGORITHMS[signature_version]
    if algorithm:
        config.signature_algorithm = algorithm
    return Client(config)


def sdk_get_job_instance_request(instance_id: int) -> Any:
    from alibabacloud_schedulerx220190430 import models

    return models.GetJobInstanceRequest(
        namespace=NAMESPACE,
        group_id=GROUP_ID,
        region_id=REGION_ID,
        job_id=BENCH_JOB_ID,
        job_instance_id=instance_id,
    )


def provider_sync_call(url: str, instance_id: int, signature_version: str) -> Callable[[], Any]:
    client = provider_sync_client(url, signature_version)
    return lambda: client.get_job_instance(BENCH_JOB_ID, instance_id)


def sdk_sync_call(url: str, instance_id: int, signature_version: str) -> Callable[[], Any]:
    client = sdk_client(url, signature_version)
    request = sdk_get_job_instance_request(instance_id)
    return lambda: client.get_job_instance(request)


def sdk_async_call(client: Any, instance_id: int) -> Callable[[], Awaitable[Any]]:
    from darabonba.runtime import RuntimeOptions

    request = sdk_get_job_instance_request(instance_id)
    runtime = RuntimeOptions()
    return lambda: client.get_job_instance_with_options_async(request, runtime)
