"""Following an instance's log in a job's rounds: a quiet log costs no call until the
instance moves on."""

from __future__ import annotations

from unittest import mock

from airflow_provider_schedulerx.utils.remote_logs import LogFollower


def test_in_rounds_a_quiet_log_is_read_again_only_once_the_instance_moved_on() -> None:
    follower, log = LogFollower(1, 2), mock.MagicMock()
    assert follower.next_call(("running", "10%")) is not None
    follower.take([], log)
    assert follower.next_call(("running", "10%")) is None
    assert follower.next_call(("running", "10%")) is None
    assert follower.next_call(("running", "20%")) is not None
    follower.take(["a line"], log)
    # A log that brings lines is read on every round.
    assert follower.next_call(("running", "20%")) is not None
