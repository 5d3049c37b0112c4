"""The Airflow the suite runs on, and the test-side Airflow names that moved between the
supported versions (2.11, 3.0 to 3.3). The provider's own moved names are in
``airflow_provider_schedulerx.compat``."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from packaging.version import Version

AIRFLOW_VERSION = Version(Version(version("apache-airflow")).base_version)
AIRFLOW_2 = AIRFLOW_VERSION.major == 2
#: Airflow's own task state store, kept across tries (before: the provider's Variables).
HAS_TASK_STATE_STORE = AIRFLOW_VERSION.release >= (3, 3)
#: A sensor rescheduled more than once in ``dag.test()``. Airflow 3.0's in-process supervisor
#: hands the task its first reschedule date as a string, so the second "not yet" fails with a
#: TypeError in ``BaseSensorOperator.run_duration`` (a real deployment decodes it).
RESCHEDULES_IN_DAG_TEST = AIRFLOW_VERSION.release[:2] != (3, 0)
#: The connection form read from provider info, without the hook (before: the hook's methods).
READS_FORM_FROM_PROVIDER_INFO = AIRFLOW_VERSION.release >= (3, 2)


def dagbag(dag_folder: str) -> Any:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2, 3.0
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag(dag_folder=dag_folder)


def xcom_value(dag_id: str, run_id: str, task_id: str, key: str) -> Any:
    """What a task pushed to XCom, read from the metadata database (None if nothing)."""
    from airflow.utils.session import create_session

    try:
        from airflow.models.xcom import XComModel
    except ImportError:  # Airflow 2: its model deserializes the value when loaded
        from airflow.models.xcom import XCom

        with create_session() as session:
            row = (
                session.query(XCom)
                .filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id, key=key)
                .one_or_none()
            )
            return None if row is None else row.value
    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id, key=key)
            .one_or_none()
        )
        return None if row is None else XComModel.deserialize_value(row)


def redact(value: Any) -> Any:
    """The secrets masker's redaction, as the task logs apply it."""
    try:
        from airflow.sdk._shared.secrets_masker import redact as _redact
    except ImportError:
        try:  # Airflow 3.0 to 3.2
            from airflow.sdk.execution_time.secrets_masker import redact as _redact
        except ImportError:  # Airflow 2
            from airflow.utils.log.secrets_masker import redact as _redact  # type: ignore[no-redef]
    return _redact(value)


def import_string(path: str) -> Any:
    try:
        from airflow.sdk.module_loading import import_string as _import_string
    except ImportError:  # Airflow 2, 3.0 to 3.2
        from airflow.utils.module_loading import import_string as _import_string  # type: ignore[no-redef]
    return _import_string(path)
