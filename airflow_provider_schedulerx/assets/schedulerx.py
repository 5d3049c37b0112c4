"""The asset URI of a SchedulerX job, ``schedulerx://<region>/<namespace>/<group_id>/<job_id>``,
for DAGs scheduled on a job's instances (see
:class:`~airflow_provider_schedulerx.triggers.schedulerx.SchedulerXJobEventTrigger`).

Registered in provider info: Airflow checks (and normalizes) every such URI with
:func:`sanitize_uri`, and :func:`create_asset` makes one from its parts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult

from airflow_provider_schedulerx.config import validate_id, validate_name

if TYPE_CHECKING:
    from airflow.sdk import Asset

__all__ = ["SCHEME", "create_asset", "job_uri", "sanitize_uri"]

SCHEME = "schedulerx"


def job_uri(region: str, namespace: str, group_id: str, job_id: int | str) -> str:
    """The URI of a job, each part checked."""
    parts = (
        validate_name(region, "region"),
        validate_name(namespace, "namespace"),
        validate_name(group_id, "group_id"),
        str(validate_id(job_id, "job_id")),
    )
    for setting, part in zip(("region", "namespace", "group_id"), parts, strict=False):
        if "/" in str(part):
            raise ValueError(f"{setting}: a URI part holds no '/', got {part!r}")
    return f"{SCHEME}://{parts[0]}/{parts[1]}/{parts[2]}/{parts[3]}"


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's check of a ``schedulerx://`` URI: a region, then namespace, group and a
    job id; no query or fragment."""
    segments = uri.path.strip("/").split("/") if uri.path.strip("/") else []
    if not uri.netloc or len(segments) != 3 or uri.query or uri.fragment:
        raise ValueError(
            f"URI format {SCHEME}:// must be {SCHEME}://<region>/<namespace>/<group_id>/<job_id>"
        )
    namespace, group_id, job_id = segments
    return uri._replace(path="/" + job_uri(uri.netloc, namespace, group_id, job_id).split("/", 3)[3])


def create_asset(*, region: str, namespace: str, group_id: str, job_id: int | str, **kwargs: Any) -> Asset:
    """An ``Asset`` for a SchedulerX job (``kwargs`` go to ``Asset``: ``name``, ``watchers``)."""
    try:
        from airflow.sdk import Asset
    except ImportError:  # Airflow 2
        from airflow.datasets import Dataset as Asset  # type: ignore[no-redef]

    return Asset(uri=job_uri(region, namespace, group_id, job_id), **kwargs)
