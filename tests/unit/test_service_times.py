"""The service's wall-clock times are read directly in their usual format: the result is
what ``pendulum.from_format`` gives, DST edges and impossible dates included."""

from __future__ import annotations

import pendulum
import pytest

from airflow_provider_schedulerx.models import SERVICE_TIME_FORMAT, ServiceTimeReader, parse_service_time

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


def test_a_reader_reads_each_text_once_and_gives_what_parsing_gives():
    reader = ServiceTimeReader("America/New_York", remember=2)
    first = reader("2024-11-03 01:30:00")
    assert first == parse_service_time("2024-11-03 01:30:00", "America/New_York")
    assert first.fold == parse_service_time("2024-11-03 01:30:00", "America/New_York").fold
    assert reader("2024-11-03 01:30:00") is first
    assert reader("") is None and reader(None) is None
    assert reader(1764000000000) == pendulum.from_timestamp(1764000000, tz="America/New_York")
    reader("2024-01-01 00:00:00")
    reader("2024-01-02 00:00:00")  # full: what it remembered is forgotten
    assert reader("2024-11-03 01:30:00") is not first
    assert reader("2024-11-03 01:30:00") == first


def test_a_reader_refuses_an_unknown_zone_when_made():
    with pytest.raises(Exception, match="Mars"):
        ServiceTimeReader("Mars/Olympus_Mons")


def test_a_reader_does_not_remember_what_it_could_not_read():
    reader = ServiceTimeReader("UTC")
    for _ in range(2):
        with pytest.raises(ValueError):
            reader("2023-02-29 00:00:00")
