"""Reading the ``GetJobInstance`` replies of one instance poll after poll: an unchanged
instance gives back the record already read; anything else is read and checked afresh."""

from __future__ import annotations

import copy

import pytest

from airflow_provider_schedulerx.exceptions import SchedulerXResponseError
from airflow_provider_schedulerx.rpc import actions

DETAIL = {
    "InstanceId": 1_000_000_000_001,
    "JobId": 101,
    "JobName": "nightly-etl",
    "Progress": "40%",
    "Status": 3,
    "StartTime": "2026-11-24 10:00:01",
    "ScheduleTime": "2026-11-24 10:00:00",
    "DataTime": "2026-11-24 10:00:00",
    "EndTime": "",
    "TimeType": 100,
    "TriggerType": 3,
}


def reply(**changes: object) -> dict[str, object]:
    return {"Success": True, "RequestId": "r", "Data": {"JobInstanceDetail": {**DETAIL, **changes}}}


def parser():
    return actions.get_job_instance(101, 1_000_000_000_001).parse


def test_an_unchanged_instance_gives_back_the_record_read_before() -> None:
    parse = parser()
    first = parse(reply(), "Asia/Shanghai")
    assert parse(copy.deepcopy(reply()), "Asia/Shanghai") is first


def test_a_change_is_read_afresh() -> None:
    parse = parser()
    first = parse(reply(), "Asia/Shanghai")
    moved = parse(reply(Progress="60%"), "Asia/Shanghai")
    assert moved is not first and moved.progress == "60%"
    ended = parse(reply(Status=4, EndTime="2026-11-24 10:00:09"), "Asia/Shanghai")
    assert ended.is_success and ended.end_time is not None


def test_another_time_zone_is_read_afresh() -> None:
    parse = parser()
    first = parse(reply(), "Asia/Shanghai")
    utc = parse(reply(), "UTC")
    assert utc is not first and utc.start_time.hour == 10 and utc.start_time.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("status", [3.0, True, "3"])
def test_an_equal_value_of_another_type_is_checked_again(status: object) -> None:
    parse = parser()
    first = parse(reply(), "Asia/Shanghai")
    if status == "3":
        again = parse(reply(Status=status), "Asia/Shanghai")
        assert again is not first and again.status == first.status
    else:
        with pytest.raises(SchedulerXResponseError, match="Status"):
            parse(reply(Status=status), "Asia/Shanghai")


def test_another_instance_is_refused_even_after_a_good_poll() -> None:
    parse = parser()
    parse(reply(), "Asia/Shanghai")
    with pytest.raises(SchedulerXResponseError, match="not instance 1000000000001 of job 101"):
        parse(reply(InstanceId=7), "Asia/Shanghai")


def test_a_detail_holding_an_object_is_read_every_time() -> None:
    parse = parser()
    first = parse(reply(Extra={"Attempt": 1}), "Asia/Shanghai")
    again = parse(reply(Extra={"Attempt": True}), "Asia/Shanghai")
    assert again is not first and again.raw["Extra"] == {"Attempt": True}
