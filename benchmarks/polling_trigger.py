"""What the benchmark's own triggers share: where they poll and how many polls they made."""

from __future__ import annotations

from typing import Any

from airflow.triggers.base import BaseTrigger


class CountedPollsTrigger(BaseTrigger):
    """A trigger polling one instance on one emulator, counting its polls."""

    def __init__(self, url: str, job_id: int, job_instance_id: int, *, poll_interval: float) -> None:
        super().__init__()
        self.url = url
        self.job_id = job_id
        self.job_instance_id = job_instance_id
        self.poll_interval = poll_interval
        self.polls = 0

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "url": self.url,
                "job_id": self.job_id,
                "job_instance_id": self.job_instance_id,
                "poll_interval": self.poll_interval,
            },
        )
