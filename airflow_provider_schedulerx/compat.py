"""Airflow names that moved between releases: the Task SDK (``airflow.sdk``) on Airflow 3,
the older module paths on Airflow 2.

Supported: Airflow 2.11 and 3.0 to 3.3. Each name is looked up where the newest Airflow
keeps it first, so that the newest never warns about a deprecated path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import BaseHook

try:
    from airflow.sdk import (
        BaseOperator,
        BaseOperatorLink,
        BaseSensorOperator,
        PokeReturnValue,
    )
except ImportError:  # Airflow 2
    from airflow.models import BaseOperator  # type: ignore[no-redef]
    from airflow.models.baseoperatorlink import BaseOperatorLink  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator, PokeReturnValue  # type: ignore[no-redef]

try:
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowTaskTimeout,
    )
except ImportError:  # Airflow 2, 3.0
    from airflow.exceptions import (  # type: ignore[assignment,no-redef]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowTaskTimeout,
    )

__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowTaskTimeout",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "PokeReturnValue",
    "mask_secret",
]


def mask_secret(value: Any) -> None:
    """Hide ``value`` in every log Airflow writes from now on."""
    try:
        from airflow.sdk.log import mask_secret as _mask
    except ImportError:  # Airflow 2
        from airflow.utils.log.secrets_masker import mask_secret as _mask  # type: ignore[no-redef]
    _mask(value)


def __getattr__(name: str) -> Any:
    """Names that are costly to import (or need a configured Airflow), imported on first use:
    a DAG file never needs them, only a running task, trigger or connection form."""
    if name == "BaseHook":
        try:
            from airflow.sdk import BaseHook
        except ImportError:  # Airflow 2, 3.0
            from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined]
        return BaseHook
    if name == "XCom":
        try:
            from airflow.sdk.execution_time.xcom import XCom
        except ImportError:  # Airflow 2
            from airflow.models.xcom import XCom  # type: ignore[no-redef]
        return XCom
    if name == "Variable":
        try:
            from airflow.sdk import Variable
        except ImportError:  # Airflow 2
            from airflow.models.variable import Variable  # type: ignore[no-redef,assignment]
        return Variable
    raise AttributeError(name)
