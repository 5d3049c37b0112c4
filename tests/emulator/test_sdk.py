"""Alibaba's official Python SDK, unchanged, against the emulator: V3 (its default) and V1
(``signature_algorithm='v2'``), static and STS credentials, GET and POST actions."""

from __future__ import annotations

import time

import pytest
from alibabacloud_schedulerx220190430 import models as sx
from alibabacloud_schedulerx220190430.client import Client
from alibabacloud_tea_openapi import utils_models
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config
from darabonba.runtime import RuntimeOptions

NS, GROUP, REGION = "demo-namespace", "demo.defaultGroup", "cn-hangzhou"
ALGORITHMS = [pytest.param(None, id="v3"), pytest.param("v2", id="v1")]


def config(emulator, algorithm, **credentials) -> Config:
    credentials.setdefault("access_key_id", "emulator-ak")
    credentials.setdefault("access_key_secret", "emulator-secret")
    cfg = Config(endpoint=emulator.endpoint, protocol="http", region_id=REGION, **credentials)
    if algorithm:
        cfg.signature_algorithm = algorithm
    return cfg


def get_instance(client: Client, job_id: int, instance_id: int) -> sx.GetJobInstanceResponseBody:
    return client.get_job_instance(
        sx.GetJobInstanceRequest(
            namespace=NS,
            group_id=GROUP,
            region_id=REGION,
            job_id=job_id,
            job_instance_id=instance_id,
        )
    ).body


def wait_status(
    client: Client,
    job_id: int,
    instance_id: int,
    status: int,
) -> sx.GetJobInstanceResponseBody:
    deadline = time.monotonic() + 5
    while True:
        body = get_instance(client, job_id, instance_id)
        if body.data.job_instance_detail.status == status or time.monotonic() > deadline:
            assert body.data.job_instance_detail.status == status
            return body
        time.sleep(0.05)


def execute(client: Client, job_id: int, **kwargs) -> int:
    body = client.execute_job(
        sx.ExecuteJobRequest(
            namespace=NS,
            group_id=GROUP,
            region_id=REGION,
            job_id=job_id,
            **kwargs,
        )
    ).body
    assert body.success is True
    assert body.code == 200
    return int(body.data.job_instance_id)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_execute_get_and_retry_with_the_official_sdk(emulator, algorithm):
    client = Client(config(emulator, algorithm))
    instance_id = execute(
        client, 202, instance_parameters="date=2024-01-01 & mode=full*", check_job_status=True
    )
    body = wait_status(client, 202, instance_id, 5)
    detail = body.data.job_instance_detail
    assert body.success is True
    assert detail.instance_id == instance_id
    assert detail.job_name == "quick-failure"
    assert detail.parameters == "date=2024-01-01 & mode=full*"
    assert detail.result.startswith("java.lang.RuntimeException")
    assert detail.trigger_type == 3
    assert detail.start_time
    assert detail.end_time

    retried = client.retry_job_instance(
        sx.RetryJobInstanceRequest(
            namespace=NS, group_id=GROUP, region_id=REGION, job_id=202, job_instance_id=instance_id
        )
    ).body
    assert retried.success is True
    detail = get_instance(client, 202, instance_id).data.job_instance_detail
    assert detail.status in (1, 3)
    assert detail.trigger_type == 4

    wait_status(client, 202, instance_id, 5)
    made_good = client.set_job_instance_success(
        sx.SetJobInstanceSuccessRequest(
            namespace=NS, group_id=GROUP, region_id=REGION, job_id=202, job_instance_id=instance_id
        )
    ).body
    assert made_good.success is True
    assert get_instance(client, 202, instance_id).data.job_instance_detail.status == 4


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sdk_reads_lists_logs_and_namespaces(emulator, algorithm):
    client = Client(config(emulator, algorithm))
    instance_id = execute(client, 101)
    wait_status(client, 101, instance_id, 4)
    listed = client.get_job_instance_list(
        sx.GetJobInstanceListRequest(namespace=NS, group_id=GROUP, region_id=REGION, job_id=101)
    ).body
    assert [d.instance_id for d in listed.data.job_instance_details] == [instance_id]
    logs = client.get_log(
        sx.GetLogRequest(
            namespace=NS,
            group_id=GROUP,
            region_id=REGION,
            job_id="101",
            job_instance_id=str(instance_id),
            reverse=False,
        )
    ).body
    assert logs.data.logs == ["line 1", "line 2"]
    info = client.get_job_info(
        sx.GetJobInfoRequest(namespace=NS, group_id=GROUP, region_id=REGION, job_id=101)
    ).body
    assert info.data.job_config_info.name == "nightly-etl"
    assert info.data.job_config_info.time_config.time_type == 100
    namespaces = client.list_namespaces(sx.ListNamespacesRequest(region_id=REGION)).body
    assert [(n.uid, n.name) for n in namespaces.data.namespaces] == [(NS, NS)]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sdk_stop_running_instance(emulator, algorithm):
    client = Client(config(emulator, algorithm))
    instance_id = execute(client, 205)
    wait_status(client, 205, instance_id, 3)
    stopped = client.stop_instance(
        sx.StopInstanceRequest(
            namespace=NS, group_id=GROUP, region_id=REGION, job_id=205, instance_id=instance_id
        )
    ).body
    assert stopped.success is True
    detail = get_instance(client, 205, instance_id).data.job_instance_detail
    assert (detail.status, detail.result) == (6, "killed by user")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sdk_sees_gateway_errors(emulator, algorithm):
    client = Client(config(emulator, algorithm, access_key_secret="wrong"))
    with pytest.raises(ClientException) as caught:
        execute(client, 201)
    assert caught.value.code == "SignatureDoesNotMatch"
    assert caught.value.status_code == 400


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sdk_sees_business_errors(emulator, algorithm):
    client = Client(config(emulator, algorithm))
    body = client.get_job_instance(
        sx.GetJobInstanceRequest(
            namespace="elsewhere", group_id=GROUP, region_id=REGION, job_id=1, job_instance_id=1
        )
    ).body
    assert body.success is False
    assert body.message == "namespace=elsewhere not exist"


def assume_role(emulator, algorithm) -> dict:
    """AssumeRole through the SDK's generic OpenAPI client, pointed at the emulator."""
    client = OpenApiClient(config(emulator, algorithm))
    params = utils_models.Params(
        action="AssumeRole",
        version="2015-04-01",
        protocol="HTTPS",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    request = utils_models.OpenApiRequest(
        query={
            "RoleArn": "acs:ram::123456789012:role/airflow-runner",
            "RoleSessionName": "airflow",
            "DurationSeconds": "900",
        }
    )
    response = client.call_api(params, request, RuntimeOptions())
    return response["body"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sdk_assume_role_then_call_with_sts_credentials(emulator, algorithm):
    body = assume_role(emulator, algorithm)
    creds = body["Credentials"]
    assert creds["AccessKeyId"].startswith("STS.")
    assert body["AssumedRoleUser"]["Arn"] == "acs:ram::123456789012:role/airflow-runner/airflow"
    client = Client(
        config(
            emulator,
            algorithm,
            access_key_id=creds["AccessKeyId"],
            access_key_secret=creds["AccessKeySecret"],
            security_token=creds["SecurityToken"],
        )
    )
    instance_id = execute(client, 201)
    assert (
        get_instance(
            client,
            201,
            instance_id,
        ).data.job_instance_detail.instance_id
        == instance_id
    )


def test_sdk_assume_role_with_oidc_anonymous(emulator):
    token = emulator.issue_oidc_token()
    client = OpenApiClient(
        Config(endpoint=emulator.endpoint, protocol="http", region_id=REGION, type="anonymous")
    )
    params = utils_models.Params(
        action="AssumeRoleWithOIDC",
        version="2015-04-01",
        protocol="HTTPS",
        pathname="/",
        method="POST",
        auth_type="Anonymous",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    request = utils_models.OpenApiRequest(
        query={
            "RoleArn": "acs:ram::123456789012:role/airflow-runner",
            "OIDCProviderArn": emulator.oidc_provider_arn,
            "OIDCToken": token,
            "RoleSessionName": "rrsa",
        }
    )
    body = client.call_api(params, request, RuntimeOptions())["body"]
    assert body["Credentials"]["AccessKeyId"].startswith("STS.")
    assert body["OIDCTokenInfo"]["Subject"] == "system:serviceaccount:airflow:airflow-worker"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sdk_generic_post_with_form_body(emulator, algorithm):
    """The SDK's generic client can put parameters in a form body: V3 hashes the body, V1
    signs its parameters; the emulator verifies and reads both."""
    client = OpenApiClient(config(emulator, algorithm))
    params = utils_models.Params(
        action="ListJobs",
        version="2019-04-30",
        protocol="HTTPS",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    request = utils_models.OpenApiRequest(
        query={"RegionId": REGION},
        body={"Namespace": NS, "GroupId": GROUP, "JobName": "nightly etl*"},
    )
    body = client.call_api(params, request, RuntimeOptions())["body"]
    assert body["Success"] is True
    assert body["Data"]["Jobs"] == []
