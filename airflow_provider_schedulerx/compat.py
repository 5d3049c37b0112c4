"""Airflow imports that moved between releases: the Task SDK (``airflow.sdk``) on Airflow 3,
the older module paths on Airflow 2."""

from __future__ import annotations

from typing import Any

try:
    from airflow.sdk import BaseHook, BaseOperator, BaseOperatorLink, BaseSensorOperator
except ImportError:  # Airflow 2
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
    from airflow.models import BaseOperator  # type: ignore[no-redef]
    from airflow.models.baseoperatorlink import BaseOperatorLink  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator  # type: ignore[no-redef]

__all__ = ["BaseHook", "BaseOperator", "BaseOperatorLink", "BaseSensorOperator", "mask_secret"]


def mask_secret(value: Any) -> None:
    """Hide ``value`` in every log Airflow writes from now on."""
    try:
        from airflow.sdk.log import mask_secret as _mask
    except ImportError:  # Airflow 2
        from airflow.utils.log.secrets_masker import mask_secret as _mask  # type: ignore[no-redef]
    _mask(value)
