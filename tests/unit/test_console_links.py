"""The console addresses of the "SchedulerX Console" link: the instance's page as far as the
console has one, every value quoted."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from airflow_provider_schedulerx.hooks.console import instance_list_url, workflow_instance_url

BASE = "https://schedulerx2.console.aliyun.com/"


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_a_job_instance_opens_the_instance_list_filtered_to_it() -> None:
    url = instance_list_url(BASE, "cn-hangzhou", "ns-1", group_id="g.default", job_id=12, instance_id=34)
    assert url.startswith("https://schedulerx2.console.aliyun.com/cn-hangzhou/InstanceList?")
    assert query(url) == {
        "namespace": ["ns-1"],
        "groupId": ["g.default"],
        "jobId": ["12"],
        "instanceId": ["34"],
        "source": ["schedulerx"],
    }


def test_without_an_instance_the_list_is_the_jobs_or_the_namespaces() -> None:
    assert query(instance_list_url(BASE, "cn-hangzhou", "ns-1", group_id="g", job_id=12)) == {
        "namespace": ["ns-1"],
        "groupId": ["g"],
        "jobId": ["12"],
        "source": ["schedulerx"],
    }
    assert query(instance_list_url(BASE, "cn-hangzhou", None)) == {"source": ["schedulerx"]}


def test_a_workflow_instance_opens_the_workflow_instance_list_filtered_to_it() -> None:
    url = workflow_instance_url(
        BASE, "cn-shanghai", "ns", group_id="g", workflow_id=5, workflow_instance_id=6
    )
    assert urlsplit(url).path == "/cn-shanghai/WorkflowInstanceList"
    assert query(url) == {
        "namespace": ["ns"],
        "groupId": ["g"],
        "workflowId": ["5"],
        "wfInstanceId": ["6"],
        "source": ["schedulerx"],
    }


def test_every_value_is_quoted() -> None:
    url = instance_list_url(BASE, "cn hangzhou/x", "a&b=c#d", group_id="g?h", job_id=1)
    assert urlsplit(url).path == "/cn%20hangzhou%2Fx/InstanceList"
    assert query(url)["namespace"] == ["a&b=c#d"]
    assert query(url)["groupId"] == ["g?h"]
