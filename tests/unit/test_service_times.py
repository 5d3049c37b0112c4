"""The service's wall-clock times are read directly in their usual format: the result is
what ``pendulum.from_format`` gives, DST edges and impossible dates included."""

from __future__ import annotations

import pendulum
import pytest

from airflow_provider_schedulerx.models import (
    SERVICE_TIME_FORMAT,
    check_timezone,
    parse_service_time,
    read_service_time,
)

ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London", "UTC"]
TIMES = [
    "2024-01-01 00:00:00",
    "2024-02-29 23:59:59",
    "2024-03-10 02:30:00",  # does not exist in New York
    "2024-11-03 01:30:00",  # happens twice in New York
    "2024-03-31 01:30:00",  # does not exist in London
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59",
]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("text", TIMES)
def test_same_as_pendulum_from_format(text, zone):
    expected = pendulum.from_format(text, SERVICE_TIME_FORMAT, tz=zone)
    parsed = parse_service_time(text, zone)
    assert parsed == expected
    assert (parsed.isoformat(), parsed.fold, parsed.timezone_name) == (
        expected.isoformat(),
        expected.fold,
        expected.timezone_name,
    )


@pytest.mark.parametrize("text", ["2023-02-29 00:00:00", "2024-13-01 00:00:00", "2024-01-01 24:00:00"])
def test_impossible_times_are_refused_as_before(text):
    with pytest.raises(ValueError):
        pendulum.from_format(text, SERVICE_TIME_FORMAT, tz="Asia/Shanghai")
    with pytest.raises(ValueError):
        parse_service_time(text)


def test_other_formats_still_go_through_pendulum():
    assert parse_service_time("2024-01-01T08:00:00+08:00", "UTC") == pendulum.datetime(2024, 1, 1, tz="UTC")
    assert parse_service_time(" 2024-01-01 08:00:00 ", "UTC") == pendulum.datetime(2024, 1, 1, 8, tz="UTC")
    assert parse_service_time("2024-1-01 08:00:00", "UTC") == pendulum.datetime(2024, 1, 1, 8, tz="UTC")


def test_an_unknown_zone_is_still_the_same_error():
    with pytest.raises(Exception) as before:
        pendulum.from_format("2024-01-01 00:00:00", SERVICE_TIME_FORMAT, tz="Mars/Olympus_Mons")
    with pytest.raises(type(before.value)):
        parse_service_time("2024-01-01 00:00:00", "Mars/Olympus_Mons")


def test_read_times_are_remembered_and_are_what_parsing_gives():
    first = read_service_time("2024-11-03 01:30:00", "America/New_York")
    assert first == parse_service_time("2024-11-03 01:30:00", "America/New_York")
    assert first.fold == parse_service_time("2024-11-03 01:30:00", "America/New_York").fold
    assert read_service_time("2024-11-03 01:30:00", "America/New_York") is first
    assert read_service_time("", "UTC") is None and read_service_time(None, "UTC") is None
    assert read_service_time(1764000000000, "America/New_York") == pendulum.from_timestamp(
        1764000000, tz="America/New_York"
    )


def test_an_unknown_zone_is_refused_with_the_setting_named():
    with pytest.raises(ValueError, match="timezone: 'Mars/Olympus_Mons' is not a known time zone"):
        check_timezone("Mars/Olympus_Mons")
    assert check_timezone("UTC") == "UTC"


def test_what_could_not_be_read_is_not_remembered():
    for _ in range(2):
        with pytest.raises(ValueError):
            read_service_time("2023-02-29 00:00:00", "UTC")


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "2024-01-01 00:00:00" + " " * 30 + "x",
        "9" * 5000,
        10**30,
        -1,
        float("nan"),
        float("inf"),
        True,
        [1],
        {},
    ],
)
def test_garbage_is_a_value_error_whatever_its_type(value):
    with pytest.raises(ValueError, match="not a"):
        parse_service_time(value, "UTC")
