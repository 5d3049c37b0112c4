"""Following an instance's log: a quiet log is read again once the instance moves on, or
after ``MAX_SKIPPED_POLLS`` polls; in a job's rounds, only once the instance moves on."""

from __future__ import annotations

from unittest import mock

from airflow_provider_schedulerx.utils.remote_logs import MAX_SKIPPED_POLLS, LogFollower


def _polls_until_read(follower: LogFollower, changes: object, *, only_on_change: bool = False) -> int:
    """Polls with ``changes`` until the follower reads the log again (at most 100)."""
    for polls in range(1, 101):
        if follower.next_call(changes, only_on_change=only_on_change) is not None:
            return polls
    return 0


def test_a_log_that_brings_lines_is_read_on_every_poll() -> None:
    follower, log = LogFollower(1, 2), mock.MagicMock()
    for _ in range(3):
        assert follower.next_call(("running", "10%")) is not None
        follower.take(["a line"], log)
    assert follower.shown == 3


def test_a_quiet_log_is_read_again_once_the_instance_moved_on() -> None:
    follower, log = LogFollower(1, 2), mock.MagicMock()
    assert follower.next_call(("running", "10%")) is not None
    follower.take([], log)
    assert follower.next_call(("running", "10%")) is None
    assert follower.next_call(("running", "20%")) is not None
    follower.take([], log)
    assert follower.next_call(("running", "20%")) is None
    assert follower.next_call(("success", "100%")) is not None


def test_a_quiet_unchanged_log_is_read_again_after_the_most_polls_it_may_skip() -> None:
    follower, log = LogFollower(1, 2), mock.MagicMock()
    assert follower.next_call(None) is not None
    follower.take([], log)
    assert _polls_until_read(follower, None) == MAX_SKIPPED_POLLS + 1
    follower.take(["a late line"], log)
    assert follower.next_call(None) is not None


def test_in_rounds_a_quiet_log_is_read_again_only_once_the_instance_moved_on() -> None:
    follower, log = LogFollower(1, 2), mock.MagicMock()
    assert follower.next_call(("running", "10%"), only_on_change=True) is not None
    follower.take([], log)
    assert _polls_until_read(follower, ("running", "10%"), only_on_change=True) == 0
    assert follower.next_call(("running", "20%"), only_on_change=True) is not None
    follower.take(["a line"], log)
    # A log that brings lines is read on every round.
    assert follower.next_call(("running", "20%"), only_on_change=True) is not None
