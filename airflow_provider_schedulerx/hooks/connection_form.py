"""The SchedulerX connection form, defined once.

Airflow 3.2+ reads it from ``get_provider_info()`` (``conn-fields``, ``ui-field-behaviour``)
without importing the hook; older Airflow asks the hook's ``get_connection_form_widgets()``
and ``get_ui_field_behaviour()``, which render the same definition. Importing this module
costs nothing beyond the standard library and the settings module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_schedulerx.config import (
    BACKOFF_RANGE,
    CONNECT_TIMEOUT_RANGE,
    DEFAULT_MAX_CALLS_PER_SECOND,
    DEFAULT_REGION,
    DEFAULT_TIMEZONE,
    KNOWN_REGIONS,
    MAX_CALLS_PER_SECOND_RANGE,
    MAX_RETRIES_RANGE,
    RETRY_DEADLINE_RANGE,
    TIMEOUT_RANGE,
)

__all__ = [
    "CONN_TYPE",
    "DEFAULT_CONN_ID",
    "DEFAULT_CONSOLE_URL",
    "EXTRA_FIELDS",
    "FORM_FIELDS",
    "HOOK_CLASS",
    "HOOK_NAME",
    "ExtraField",
    "conn_fields",
    "ui_field_behaviour",
    "wtforms_widgets",
]

CONN_TYPE = "schedulerx"
DEFAULT_CONN_ID = "schedulerx_default"
HOOK_NAME = "Alibaba Cloud SchedulerX"
HOOK_CLASS = "airflow_provider_schedulerx.hooks.schedulerx.SchedulerXHook"
DEFAULT_CONSOLE_URL = "https://schedulerx2.console.aliyun.com"

REGIONS = KNOWN_REGIONS


@dataclass(frozen=True)
class ExtraField:
    """One setting of the connection's extra JSON: how the form shows it and what it accepts.

    :param type: ``string``, ``integer``, ``number`` or ``boolean``.
    :param choices: the values accepted; with ``open_choices``, the values suggested (others
        are used with a warning).
    :param within: the lowest and highest number accepted.
    :param in_form: shown in the form; the others are set in the extra JSON only.
    """

    name: str
    label: str
    description: str
    type: str = "string"
    default: Any = None
    choices: tuple[str, ...] | None = None
    sensitive: bool = False
    placeholder: str | None = None
    examples: tuple[str, ...] | None = None
    within: tuple[float, float] | None = None
    open_choices: bool = False
    in_form: bool = True

    @property
    def minimum(self) -> float | None:
        return None if self.within is None else self.within[0]

    @property
    def maximum(self) -> float | None:
        return None if self.within is None else self.within[1]


EXTRA_FIELDS: tuple[ExtraField, ...] = (
    ExtraField(
        "region_id",
        "Region",
        "Region of your SchedulerX instance.",
        default=DEFAULT_REGION,
        choices=REGIONS,
        open_choices=True,
    ),
    ExtraField(
        "namespace",
        "Namespace ID",
        "Default namespace for every call (an operator argument wins). "
        "Console: Namespaces page, the ID column.",
        placeholder="adcfc35d-e2fe-4fe9-bbaa-20e90ffc****",
    ),
    ExtraField(
        "group_id",
        "Application group ID",
        "Default application group (GroupId) for every call.",
        placeholder="testSchedulerx.defaultGroup",
    ),
    ExtraField(
        "namespace_source",
        "Namespace source",
        "Only for namespaces created through an integration (e.g. schedulerx or edas).",
    ),
    ExtraField(
        "security_token",
        "STS security token",
        "For temporary STS credentials: the token that goes with the AccessKey above.",
        sensitive=True,
    ),
    ExtraField(
        "role_arn",
        "RAM role ARN",
        "Assume this RAM role through STS AssumeRole; credentials are renewed before they expire.",
        placeholder="acs:ram::123456789012****:role/airflow-schedulerx",
    ),
    ExtraField(
        "role_session_name",
        "Role session name",
        "Session name for AssumeRole, shown in ActionTrail.",
        default="airflow-schedulerx",
    ),
    ExtraField("external_id", "External ID", "External ID, if the role's trust policy asks for one."),
    ExtraField(
        "duration_seconds",
        "Role session duration (seconds)",
        "Lifetime of assumed-role credentials, 900 to 43200.",
        type="integer",
        default=3600,
        within=(900, 43200),
    ),
    ExtraField(
        "sts_endpoint",
        "STS endpoint",
        "STS endpoint for AssumeRole and RRSA.",
        placeholder="https://sts.aliyuncs.com",
        examples=(
            "https://sts.aliyuncs.com",
            "https://sts.cn-hangzhou.aliyuncs.com",
            "https://sts-vpc.cn-hangzhou.aliyuncs.com",
        ),
    ),
    ExtraField(
        "signature_version",
        "Signature version",
        "v3 (ACS3-HMAC-SHA256, recommended) or v1 (HMAC-SHA1).",
        default="v3",
        choices=("v3", "v1"),
    ),
    ExtraField(
        "network",
        "Network",
        "public, or vpc to use schedulerx-vpc.<region>.aliyuncs.com from inside a VPC.",
        default="public",
        choices=("public", "vpc"),
    ),
    ExtraField(
        "timeout",
        "Timeout (seconds)",
        "Seconds one request may take, from connecting to the last byte of the reply.",
        type="number",
        default=30,
        within=TIMEOUT_RANGE,
    ),
    ExtraField(
        "max_retries",
        "Max retries",
        "Retries of throttled, unavailable or interrupted calls.",
        type="integer",
        default=5,
        within=MAX_RETRIES_RANGE,
    ),
    ExtraField(
        "verify_ssl", "Verify TLS certificates", "Keep on outside tests.", type="boolean", default=True
    ),
    ExtraField(
        "console_url",
        "Console URL",
        "Base URL of the SchedulerX console, for task links.",
        default=DEFAULT_CONSOLE_URL,
    ),
    ExtraField(
        "timezone",
        "Service timezone",
        "Zone of the times SchedulerX reports.",
        default=DEFAULT_TIMEZONE,
    ),
    # Tuning, set in the extra JSON only: name, label, description, default, accepted range.
    *(
        ExtraField(name, label, description, "number", default, within=within, in_form=False)
        for name, label, description, default, within in (
            (
                "connect_timeout",
                "Connect timeout (s)",
                "Seconds to wait for a connection.",
                10,
                CONNECT_TIMEOUT_RANGE,
            ),
            (
                "retry_deadline",
                "Retry deadline (s)",
                "Seconds a call may take, retries included.",
                120,
                RETRY_DEADLINE_RANGE,
            ),
            ("backoff", "First retry delay (s)", "Doubling per retry, with jitter.", 0.5, BACKOFF_RANGE),
            (
                "max_calls_per_second",
                "Max calls per second",
                "Calls a second each Airflow process sends with this AccessKey, at the most; "
                "0 for no limit. Polls wait, starts and stops go first.",
                DEFAULT_MAX_CALLS_PER_SECOND,
                MAX_CALLS_PER_SECOND_RANGE,
            ),
        )
    ),
    ExtraField(
        "poll_batching",
        "Poll each job once for all its waiting tasks",
        "A triggerer polls the instances of one job that its deferred tasks wait on with one "
        "GetJobInstanceList a round; false: each instance with a GetJobInstance of its own.",
        type="boolean",
        default=True,
        in_form=False,
    ),
    ExtraField(
        "policy",
        "AssumeRole policy",
        "A RAM policy (JSON) that narrows the assumed role's permissions.",
        in_form=False,
    ),
)
FORM_FIELDS = tuple(field for field in EXTRA_FIELDS if field.in_form)

_RELABELING = {"login": "AccessKey ID", "password": "AccessKey Secret", "host": "Endpoint"}
_PLACEHOLDERS = {
    "login": "LTAI5t**************",
    "password": "AccessKey Secret (leave empty to use a RAM role or RRSA from the environment)",
    "host": "https://schedulerx.cn-hangzhou.aliyuncs.com (empty: from the region)",
}
_HIDDEN = ["schema", "port"]


def conn_fields() -> dict[str, Any]:
    """The ``conn-fields`` of provider info (JSON schema per extra field)."""
    fields: dict[str, Any] = {}
    for field in FORM_FIELDS:
        schema: dict[str, Any] = {"type": [field.type, "null"]}
        if field.default is not None:
            schema["default"] = field.default
        if field.choices:
            schema["enum"] = list(field.choices)
        if field.examples:
            schema["examples"] = list(field.examples)
        if field.sensitive:
            schema["format"] = "password"
        if field.minimum is not None:
            schema["minimum"] = field.minimum
        if field.maximum is not None:
            schema["maximum"] = field.maximum
        description = field.description
        if field.placeholder:
            # Airflow 3's UI shows no placeholder in an extra field (only ``examples``, as
            # suggestions), but it does show the description under the field.
            description = f"{description} Example: {field.placeholder}"
        fields[field.name] = {"label": field.label, "description": description, "schema": schema}
    return fields


def ui_field_behaviour(*, provider_info: bool = False) -> dict[str, Any]:
    """Relabelled, hidden and placeholder standard fields; kebab-case keys for provider
    info, snake_case for the hook method."""
    placeholders = dict(_PLACEHOLDERS)
    if not provider_info:
        placeholders.update(
            {
                f.name: f.placeholder or str(f.default)
                for f in FORM_FIELDS
                if f.placeholder or f.default is not None
            }
        )
    if provider_info:
        return {"hidden-fields": list(_HIDDEN), "relabeling": dict(_RELABELING), "placeholders": placeholders}
    return {"hidden_fields": list(_HIDDEN), "relabeling": dict(_RELABELING), "placeholders": placeholders}


def wtforms_widgets() -> dict[str, Any]:
    """The same fields as WTForms fields, for Airflow before 3.2 (empty where WTForms is
    not installed). Airflow 2 renders them; Airflow 3.0 and 3.1 read them through stand-ins
    for these WTForms names, turning a field into a JSON schema and ``any_of`` into a
    choice."""
    try:
        from wtforms import BooleanField, IntegerField, PasswordField, StringField
        from wtforms.validators import NumberRange, Optional, any_of
    except ImportError:
        return {}

    try:
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget

        text_widget: dict[str, Any] = {"widget": BS3TextFieldWidget()}
        password_widget: dict[str, Any] = {"widget": BS3PasswordFieldWidget()}
    except ImportError:  # Airflow 3 renders the form itself
        text_widget, password_widget = {}, {}

    widgets: dict[str, Any] = {}
    for field in FORM_FIELDS:
        options: dict[str, Any] = {"description": field.description, "default": field.default}
        if field.type == "boolean":
            widgets[field.name] = BooleanField(field.label, **options)
        elif field.type == "integer":
            lower = None if field.minimum is None else int(field.minimum)
            upper = None if field.maximum is None else int(field.maximum)
            widgets[field.name] = IntegerField(
                field.label, validators=[Optional(), NumberRange(lower, upper)], **options, **text_widget
            )
        elif field.sensitive:
            widgets[field.name] = PasswordField(field.label, **options, **password_widget)
        elif field.choices:
            widgets[field.name] = StringField(
                field.label, validators=[Optional(), any_of(list(field.choices))], **options, **text_widget
            )
        else:
            widgets[field.name] = StringField(field.label, **options, **text_widget)
    return widgets
