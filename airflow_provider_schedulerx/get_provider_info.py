"""Provider metadata for Airflow's providers manager: the single registration point.

Imports nothing but the connection form definition, so that listing providers and
rendering the connection form never load the hook.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_schedulerx import __version__
from airflow_provider_schedulerx.hooks import connection_form

PACKAGE_NAME = "airflow-provider-schedulerx"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE_NAME,
        "name": "Alibaba Cloud SchedulerX",
        "description": "Start, wait on and report Alibaba Cloud SchedulerX jobs from Airflow.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Alibaba Cloud SchedulerX",
                "external-doc-url": "https://www.alibabacloud.com/help/en/schedulerx",
                "tags": ["alibaba"],
            }
        ],
        "operators": [
            {
                "integration-name": "Alibaba Cloud SchedulerX",
                "python-modules": [
                    "airflow_provider_schedulerx.operators.schedulerx",
                    "airflow_provider_schedulerx.operators.workflows",
                    "airflow_provider_schedulerx.operators.reports",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Alibaba Cloud SchedulerX",
                "python-modules": [
                    "airflow_provider_schedulerx.sensors.schedulerx",
                    "airflow_provider_schedulerx.sensors.workflows",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": "Alibaba Cloud SchedulerX",
                "python-modules": ["airflow_provider_schedulerx.triggers.schedulerx"],
            }
        ],
        "asset-uris": [
            {
                "schemes": ["schedulerx"],
                "handler": "airflow_provider_schedulerx.assets.schedulerx.sanitize_uri",
                "factory": "airflow_provider_schedulerx.assets.schedulerx.create_asset",
            }
        ],
        "extra-links": ["airflow_provider_schedulerx.links.schedulerx.SchedulerXJobInstanceLink"],
        "hooks": [
            {
                "integration-name": "Alibaba Cloud SchedulerX",
                "python-modules": ["airflow_provider_schedulerx.hooks.schedulerx"],
            }
        ],
        "connection-types": [
            {
                "connection-type": connection_form.CONN_TYPE,
                "hook-class-name": connection_form.HOOK_CLASS,
                "hook-name": connection_form.HOOK_NAME,
                "conn-fields": connection_form.conn_fields(),
                "ui-field-behaviour": connection_form.ui_field_behaviour(provider_info=True),
            }
        ],
    }
