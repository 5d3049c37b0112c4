"""Jobs, instances and their lifecycle, and the actions that read and change them."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_schedulerx.emulator import Emulator, JobSpec
from airflow_provider_schedulerx.models import InstanceStatus

WAITING, RUNNING, SUCCESS, FAILED, KILLED, REJECTED, PARTIAL = 1, 3, 4, 5, 6, 9, 11


def execute(raw, job_id: int, **params) -> int:
    return raw.data("ExecuteJob", {"JobId": job_id, **params})["JobInstanceId"]


def detail(raw, job_id: int, instance_id: int) -> dict:
    return raw.data(
        "GetJobInstance",
        {"JobId": job_id, "JobInstanceId": instance_id},
    )["JobInstanceDetail"]


def business_error(response) -> tuple[int, str]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["Success"] is False, body
    return body["Code"], body["Message"]


def test_waiting_running_success(raw, emulator, wait_status):
    instance_id = execute(raw, 201, InstanceParameters="p=1")
    first = detail(raw, 201, instance_id)
    assert first["Status"] == WAITING
    assert first["StartTime"] == first["EndTime"] == first["Result"] == first["WorkAddr"] == ""
    running = wait_status(raw, 201, instance_id, RUNNING)
    assert running["StartTime"]
    assert running["EndTime"] == ""
    assert running["Progress"].endswith("%")
    done = wait_status(raw, 201, instance_id, SUCCESS)
    assert done["Result"] == "success"
    assert done["Progress"] == "100%"
    assert set(done) == {
        "DataTime",
        "EndTime",
        "Executor",
        "InstanceId",
        "JobId",
        "JobName",
        "Parameters",
        "Progress",
        "Result",
        "ScheduleTime",
        "StartTime",
        "Status",
        "TimeType",
        "TraceId",
        "TriggerType",
        "WorkAddr",
    }
    assert (done["JobId"], done["JobName"], done["Parameters"]) == (201, "quick-success", "p=1")
    assert done["TriggerType"] == 3
    assert emulator.stats.executions[201] == 1
    statuses = [status for _, status in emulator.status_history(instance_id)]
    assert statuses == [InstanceStatus.WAITING, InstanceStatus.RUNNING, InstanceStatus.SUCCESS]


@pytest.mark.parametrize(
    ("job_id", "final", "result_start"),
    [(202, FAILED, "java.lang.RuntimeException"), (204, PARTIAL, "partial failed")],
)
def test_failing_outcomes(raw, emulator, wait_status, job_id, final, result_start):
    instance_id = execute(raw, job_id)
    done = wait_status(raw, job_id, instance_id, final)
    assert done["Result"].startswith(result_start)
    assert done["StartTime"]
    assert done["EndTime"]
    assert [s for _, s in emulator.status_history(instance_id)] == [WAITING, RUNNING, final]


def test_rejected_never_runs(raw, emulator, wait_status):
    instance_id = execute(raw, 203)
    done = wait_status(raw, 203, instance_id, REJECTED)
    assert done["StartTime"] == ""
    assert done["EndTime"]
    assert [s for _, s in emulator.status_history(instance_id)] == [WAITING, REJECTED]
    assert emulator.get_instance(instance_id).log_lines(time.time()) == []


def test_times_are_wall_clock_strings_in_the_emulator_zone(raw):
    before = datetime.now(timezone(timedelta(hours=8))).replace(microsecond=0, tzinfo=None)
    instance_id = execute(raw, 205)
    schedule = datetime.strptime(detail(raw, 205, instance_id)["ScheduleTime"], "%Y-%m-%d %H:%M:%S")
    assert abs((schedule - before).total_seconds()) <= 2


def test_timezone_setting(make_emulator, make_raw):
    emu = make_emulator(timezone="UTC")
    raw = make_raw(emu.url)
    instance_id = execute(raw, 205)
    schedule = datetime.strptime(detail(raw, 205, instance_id)["ScheduleTime"], "%Y-%m-%d %H:%M:%S")
    assert abs((schedule - datetime.utcnow()).total_seconds()) <= 2


def test_stop_waiting_and_running(raw, emulator, wait_status):
    waiting = execute(raw, 101)
    assert raw.data("StopInstance", {"JobId": 101, "InstanceId": waiting}) is None
    assert detail(raw, 101, waiting)["Status"] == KILLED

    running = execute(raw, 205)
    wait_status(raw, 205, running, RUNNING)
    raw.data("StopInstance", {"JobId": 205, "InstanceId": running})
    killed = detail(raw, 205, running)
    assert (killed["Status"], killed["Result"]) == (KILLED, "killed by user")
    assert killed["EndTime"]
    assert [s for _, s in emulator.status_history(running)] == [WAITING, RUNNING, KILLED]

    again = raw.call("StopInstance", {"JobId": 205, "InstanceId": running})
    code, message = business_error(again)
    assert code == 400
    assert "instance is not running" in message


def test_retry_failed_instance(raw, emulator, wait_status):
    instance_id = execute(raw, 202)
    wait_status(raw, 202, instance_id, FAILED)
    raw.data("RetryJobInstance", {"JobId": 202, "JobInstanceId": instance_id}, method="POST")
    again = detail(raw, 202, instance_id)
    assert again["Status"] == WAITING
    assert again["TriggerType"] == 4
    assert again["StartTime"] == again["EndTime"] == ""
    wait_status(raw, 202, instance_id, FAILED)
    statuses = [s for _, s in emulator.status_history(instance_id)]
    assert statuses == [WAITING, RUNNING, FAILED, WAITING, RUNNING, FAILED]


def test_retry_outcome(raw, emulator, wait_status):
    emulator.add_job(
        JobSpec(301, wait_seconds=0, run_seconds=0.05, outcome="failed", retry_outcome="success")
    )
    instance_id = execute(raw, 301)
    wait_status(raw, 301, instance_id, FAILED)
    raw.data("RetryJobInstance", {"JobId": 301, "JobInstanceId": instance_id}, method="POST")
    wait_status(raw, 301, instance_id, SUCCESS)


def test_retry_refused_unless_finished_unsuccessfully(raw, wait_status):
    instance_id = execute(raw, 201)
    response = raw.call(
        "RetryJobInstance",
        {"JobId": 201, "JobInstanceId": instance_id},
        method="POST",
    )
    assert business_error(response)[0] == 400
    wait_status(raw, 201, instance_id, SUCCESS)
    response = raw.call(
        "RetryJobInstance",
        {"JobId": 201, "JobInstanceId": instance_id},
        method="POST",
    )
    assert "status is success" in business_error(response)[1]


def test_set_success(raw, emulator, wait_status):
    instance_id = execute(raw, 202)
    response = raw.call(
        "SetJobInstanceSuccess",
        {"JobId": 202, "JobInstanceId": instance_id},
        method="POST",
    )
    assert business_error(response)[0] == 400
    failed = wait_status(raw, 202, instance_id, FAILED)
    raw.data("SetJobInstanceSuccess", {"JobId": 202, "JobInstanceId": instance_id}, method="POST")
    now_success = detail(raw, 202, instance_id)
    assert now_success["Status"] == SUCCESS
    assert now_success["EndTime"] == failed["EndTime"]
    assert [s for _, s in emulator.status_history(instance_id)][-2:] == [FAILED, SUCCESS]
    response = raw.call(
        "SetJobInstanceSuccess",
        {"JobId": 202, "JobInstanceId": instance_id},
        method="POST",
    )
    assert business_error(response)[0] == 400


def test_instance_list_paging_and_filters(raw, emulator, wait_status):
    ids = [execute(raw, 201) for _ in range(5)]
    failed = execute(raw, 202)
    wait_status(raw, 201, ids[-1], SUCCESS)
    wait_status(raw, 202, failed, FAILED)

    page1 = raw.data("GetJobInstanceList", {"JobId": 201, "PageSize": 2})
    assert [d["InstanceId"] for d in page1["JobInstanceDetails"]] == ids[::-1][:2]
    assert set(page1) == {"JobInstanceDetails"}  # no total, as the service
    page3 = raw.data("GetJobInstanceList", {"JobId": 201, "PageSize": 2, "PageNum": 3})
    assert [d["InstanceId"] for d in page3["JobInstanceDetails"]] == [ids[0]]
    assert set(page3["JobInstanceDetails"][0]).isdisjoint({"JobName", "Parameters", "TraceId"})

    default = raw.data("GetJobInstanceList", {"JobId": 201})
    assert len(default["JobInstanceDetails"]) == 5

    only_failed = raw.data("GetJobInstanceList", {"Status": FAILED})
    assert [d["InstanceId"] for d in only_failed["JobInstanceDetails"]] == [failed]
    group_wide = raw.data("GetJobInstanceList", {})
    assert len(group_wide["JobInstanceDetails"]) == 6

    created = emulator.get_instance(ids[2]).created_at * 1000
    window = raw.data(
        "GetJobInstanceList",
        {"JobId": 201, "StartTimestamp": int(created), "EndTimestamp": int(created) + 1},
    )
    assert ids[2] in [d["InstanceId"] for d in window["JobInstanceDetails"]]
    future = raw.data(
        "GetJobInstanceList", {"JobId": 201, "StartTimestamp": int(time.time() * 1000) + 60_000}
    )
    assert future["JobInstanceDetails"] == []


def test_get_log_line_reverse_offset_keyword(raw, emulator, wait_status):
    emulator.add_job(
        JobSpec(
            302,
            wait_seconds=0,
            run_seconds=0.05,
            logs=[f"INFO step {i}" for i in range(5)] + ["ERROR boom"],
        )
    )
    instance_id = execute(raw, 302)
    wait_status(raw, 302, instance_id, SUCCESS)

    def logs(**params):
        ids = {"JobId": "302", "JobInstanceId": str(instance_id)}
        return raw.data("GetLog", {**ids, **params})["Logs"]

    assert logs() == ["ERROR boom"] + [f"INFO step {i}" for i in range(4, -1, -1)]
    assert logs(Reverse="false") == [f"INFO step {i}" for i in range(5)] + ["ERROR boom"]
    assert logs(Line=2) == ["ERROR boom", "INFO step 4"]
    assert logs(Line=2, Offset=2, Reverse="false") == ["INFO step 2", "INFO step 3"]
    assert logs(Keyword="ERROR") == ["ERROR boom"]
    assert logs(Line=5000, Reverse="false")[0] == "INFO step 0"


def test_get_log_shows_lines_emitted_so_far(raw, wait_status):
    instance_id = execute(raw, 205)
    wait_status(raw, 205, instance_id, RUNNING)
    lines = raw.data("GetLog", {"JobId": "205", "JobInstanceId": str(instance_id)})["Logs"]
    assert lines == ["a"]


def test_get_log_rejects_non_numeric_ids(raw):
    response = raw.call("GetLog", {"JobId": "abc", "JobInstanceId": "1"})
    assert (response.status_code, response.json()["Code"]) == (400, "InvalidParameter")


def test_default_logs(raw, wait_status):
    instance_id = execute(raw, 201)
    wait_status(raw, 201, instance_id, SUCCESS)
    lines = raw.data("GetLog", {"JobId": "201", "JobInstanceId": str(instance_id)})["Logs"]
    assert len(lines) == 3
    assert str(instance_id) in lines[-1]


def test_unknown_job_is_created_unless_strict(raw, emulator, make_emulator, make_raw):
    instance_id = execute(raw, 999)
    assert emulator.get_instance(instance_id).job.name == "job-999"
    assert emulator.get_instance(instance_id).job.run_seconds == 2.0
    assert detail(raw, 999, instance_id)["Status"] == WAITING

    strict = make_raw(make_emulator(strict_jobs=True).url)
    code, message = business_error(strict.call("ExecuteJob", {"JobId": 999}))
    assert (code, message) == (404, "jobid: 999 not exist")
    assert strict.data("ExecuteJob", {"JobId": 101})["JobInstanceId"]


def test_unknown_namespace_and_group(raw):
    response = raw.call("ExecuteJob", {"JobId": 101, "Namespace": "nope"})
    assert business_error(response) == (404, "namespace=nope not exist")
    response = raw.call("ExecuteJob", {"JobId": 101, "GroupId": "other.group"})
    assert business_error(response) == (
        404,
        "groupId=other.group not exist in namespace=demo-namespace",
    )


def test_job_of_another_group(make_emulator, make_raw, tmp_path):
    jobs_file = tmp_path / "jobs.json"
    jobs_file.write_text(
        json.dumps(
            {
                "namespaces": [
                    {"namespace": "demo-namespace", "groups": ["demo.otherGroup"]},
                    {"namespace": "prod-ns", "name": "Production", "groups": ["prod.etl"]},
                ],
                "jobs": [
                    {"job_id": 92583, "name": "other", "group_id": "demo.otherGroup"},
                    {
                        "job_id": 7,
                        "name": "prod-job",
                        "namespace": "prod-ns",
                        "group_id": "prod.etl",
                    },
                ],
            }
        )
    )
    emu = make_emulator(jobs_file=str(jobs_file), jobs=None)
    raw = make_raw(emu.url)
    _code, message = business_error(raw.call("ExecuteJob", {"JobId": 92583}))
    assert message == "jobid: 92583 not match groupId: demo.defaultGroup"
    assert raw.data("ExecuteJob", {"JobId": 92583, "GroupId": "demo.otherGroup"})["JobInstanceId"]
    assert raw.data("ExecuteJob", {"JobId": 7, "Namespace": "prod-ns", "GroupId": "prod.etl"})
    listed = raw.data("ListNamespaces", {"RegionId": "cn-hangzhou"}, common=False, method="POST")
    assert {(n["UId"], n["Name"]) for n in listed["Namespaces"]} == {
        ("demo-namespace", "demo-namespace"),
        ("prod-ns", "Production"),
    }
    groups = raw.data(
        "ListGroups",
        {"Namespace": "prod-ns", "RegionId": "cn-hangzhou"},
        common=False,
    )
    assert [g["GroupId"] for g in groups["AppGroups"]] == ["prod.etl"]


def test_jobs_file_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"job_id": 1, "outcome": "exploded"}]')
    with pytest.raises(ValueError, match="exploded"):
        Emulator(jobs_file=bad)
    bad.write_text('[{"job_id": 1, "colour": "blue"}]')
    with pytest.raises(ValueError, match="colour"):
        Emulator(jobs_file=bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Emulator(jobs_file=bad)


def test_example_jobs_file_loads():
    emu = Emulator(jobs_file=Path(__file__).parents[2] / "example_dags" / "emulator_jobs.json")
    assert emu.state.jobs("demo-namespace", "demo.defaultGroup")


def test_disabled_job_with_check_job_status(raw):
    response = raw.call("ExecuteJob", {"JobId": 206, "CheckJobStatus": "true"})
    assert business_error(response) == (500, "jobId=206 is disabled")
    assert raw.data("ExecuteJob", {"JobId": 206, "CheckJobStatus": "false"})["JobInstanceId"]
    raw.data("EnableJob", {"JobId": 206})
    assert raw.data("ExecuteJob", {"JobId": 206, "CheckJobStatus": "True"})["JobInstanceId"]


def test_designated_worker(raw, wait_status):
    instance_id = execute(raw, 201, DesignateType=1, Worker="10.0.0.7:16888")
    assert wait_status(raw, 201, instance_id, SUCCESS)["WorkAddr"] == "10.0.0.7:16888"
    code, _ = business_error(raw.call("ExecuteJob", {"JobId": 201, "DesignateType": 1}))
    assert code == 400


def test_max_concurrency(raw, emulator, wait_status):
    emulator.add_job(JobSpec(303, wait_seconds=0, run_seconds=30, max_concurrency=1))
    first = execute(raw, 303)
    second = execute(raw, 303)
    assert detail(raw, 303, first)["Status"] in (WAITING, RUNNING)
    rejected = wait_status(raw, 303, second, REJECTED)
    assert "max concurrency" in rejected["Result"]


def test_job_info_and_list_jobs(raw):
    info = raw.data("GetJobInfo", {"JobId": 101})["JobConfigInfo"]
    assert info["Name"] == "nightly-etl"
    assert info["Status"] == 1
    assert info["TimeConfig"] == {
        "Calendar": "",
        "DataOffset": 0,
        "TimeExpression": "",
        "TimeType": 100,
    }
    by_name = raw.data("GetJobInfo", {"JobName": "nightly-etl"})["JobConfigInfo"]
    assert by_name["JobId"] == 101
    jobs = raw.data("ListJobs", {})["Jobs"]
    assert [j["JobId"] for j in jobs] == [101, 201, 202, 203, 204, 205, 206]
    disabled = raw.data("ListJobs", {"Status": "0"})["Jobs"]
    assert [j["JobId"] for j in disabled] == [206]
    page = raw.data("ListJobs", {"PageNum": 2, "PageSize": 3})
    assert [j["JobId"] for j in page["Jobs"]] == [203, 204, 205]
    assert page["Total"] == 7


def test_list_groups(raw):
    groups = raw.data(
        "ListGroups",
        {"Namespace": "demo-namespace", "RegionId": "cn-hangzhou"},
        common=False,
    )
    assert [g["GroupId"] for g in groups["AppGroups"]] == ["demo.defaultGroup"]


@pytest.mark.parametrize(
    ("action", "params", "code"),
    [
        ("GetJobInstance", {"JobInstanceId": 1}, "MissingJobId"),
        ("GetJobInstance", {"JobId": 101}, "MissingJobInstanceId"),
        ("GetJobInstance", {"JobId": "x1", "JobInstanceId": 1}, "InvalidParameter"),
        ("StopInstance", {"JobId": 101}, "MissingInstanceId"),
        ("ExecuteJob", {"JobId": 101, "CheckJobStatus": "maybe"}, "InvalidParameter"),
    ],
)
def test_parameter_errors(raw, action, params, code):
    response = raw.call(action, params)
    assert (response.status_code, response.json()["Code"]) == (400, code)


@pytest.mark.parametrize("missing", ["Namespace", "GroupId", "RegionId"])
def test_common_parameters_are_required(raw, missing):
    params = {
        "Namespace": "demo-namespace",
        "GroupId": "demo.defaultGroup",
        "RegionId": "cn-hangzhou",
    }
    del params[missing]
    response = raw.call("ExecuteJob", {**params, "JobId": 101}, common=False)
    assert (response.status_code, response.json()["Code"]) == (400, f"Missing{missing}")


def test_unknown_instance(raw):
    code, message = business_error(raw.call("GetJobInstance", {"JobId": 101, "JobInstanceId": 5}))
    assert code == 404
    assert "jobInstanceId=5 not exist" in message


def test_unknown_and_unimplemented_actions(raw):
    response = raw.call("DescribeEverything", {})
    body = response.json()
    assert (response.status_code, body["Code"]) == (404, "InvalidApi.NotFound")
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    code, message = business_error(raw.call("CreateWorkflow", {}))
    assert code == 501
    assert "not implemented" in message


def test_wrong_version(raw):
    response = raw.call("ExecuteJob", {"JobId": 101}, version="2014-05-26")
    assert (response.status_code, response.json()["Code"]) == (400, "InvalidVersion")


def test_other_paths_are_not_found(emulator, raw):
    response = raw.session.get(emulator.url + "/v1/jobs")
    assert (response.status_code, response.json()["Code"]) == (404, "InvalidApi.NotFound")
