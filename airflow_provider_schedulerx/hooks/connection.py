"""From an Airflow connection's fields to client settings and credentials.

Pure: it takes the fields, not the Connection, so the hook (sync) and the trigger (async)
read the connection their own way and share everything after that. Every extra is read as
its definition in :mod:`~airflow_provider_schedulerx.hooks.connection_form` says (type,
range, choices); an extra this provider does not know, or a region it does not know, is
kept as a warning, so that a misspelling shows at once.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass
from typing import Any

from airflow_provider_schedulerx.config import (
    DEFAULT_REGION,
    DEFAULT_TIMEZONE,
    ClientConfig,
    is_loopback_host,
    shown,
    validate_name,
)
from airflow_provider_schedulerx.credentials import (
    CHAIN_ENVIRONMENT,
    DEFAULT_STS_ENDPOINT,
    ENV_STS_ENDPOINT,
    CredentialsProvider,
    RamRoleArnCredentialsProvider,
    StaticCredentialsProvider,
    default_credentials_provider,
)
from airflow_provider_schedulerx.exceptions import SchedulerXConfigError
from airflow_provider_schedulerx.hooks.connection_form import DEFAULT_CONSOLE_URL, EXTRA_FIELDS, ExtraField

__all__ = ["ConnectionSettings"]

_FIELDS = {field.name: field for field in EXTRA_FIELDS}
_OLD_PREFIX = "extra__schedulerx__"
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
#: The most credential providers a process keeps for reuse (one per distinct connection).
SHARED_PROVIDERS_KEPT = 32


def _raw_extras(extra: Any) -> dict[str, Any]:
    if isinstance(extra, str):
        try:
            extra = json.loads(extra) if extra.strip() else {}
        except ValueError:
            raise SchedulerXConfigError("the connection's extra is not valid JSON") from None
    if extra is None:
        return {}
    if not isinstance(extra, dict):
        raise SchedulerXConfigError(
            f"the connection's extra must be a JSON object of settings, got a {type(extra).__name__}"
        )
    return extra


def _read_extra(field: ExtraField, value: Any) -> Any:
    """One extra's value as its definition accepts it; ``None`` when unset."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if field.type == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, (str, int)) else None
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise SchedulerXConfigError(f"{field.name}: expected true or false, got {shown(value)}")
    if field.type in ("integer", "number"):
        return _read_number(field, value)
    if not isinstance(value, str):
        raise SchedulerXConfigError(f"{field.name}: expected a string, got {shown(value)}")
    text = value.strip()
    if field.choices and not field.open_choices and text not in field.choices:
        raise SchedulerXConfigError(f"{field.name}: {shown(value)} is not one of {', '.join(field.choices)}")
    return text


def _read_number(field: ExtraField, value: Any) -> int | float:
    whole = field.type == "integer"
    kind = "a whole number" if whole else "a number"
    number: Any = value
    if isinstance(value, str):
        try:
            number = int(value.strip()) if whole else float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        number = None
    elif whole and isinstance(number, float):
        number = int(number) if number.is_integer() else None
    low = -math.inf if field.minimum is None else field.minimum
    high = math.inf if field.maximum is None else field.maximum
    if number is None or not math.isfinite(number) or not low <= number <= high:
        bounds = f" from {low:g}" if low > -math.inf else ""
        bounds += f" to {high:g}" if high < math.inf else ""
        raise SchedulerXConfigError(f"{field.name}: expected {kind}{bounds}, got {shown(value)}")
    return number


def _console_url(value: str | None) -> str:
    """The console's base URL: it becomes a link in the Airflow UI, so only http(s)."""
    url = (value or DEFAULT_CONSOLE_URL).rstrip("/")
    if not url.lower().startswith(("https://", "http://")) or any(c.isspace() for c in url):
        raise SchedulerXConfigError(
            f"console_url: expected an http(s) URL such as {DEFAULT_CONSOLE_URL}, got {shown(value)}"
        )
    return url


def _endpoint(host: Any, port: Any) -> str:
    """The connection's host as an endpoint. A host without a scheme is https, except on
    loopback (the emulator), which is http."""
    if host is None or host == "":
        return ""
    if not isinstance(host, str):
        raise SchedulerXConfigError(f"host: expected a host name or URL, got {shown(host)}")
    host = host.strip()
    if "://" not in host:
        bare = host.split("/", 1)[0]
        name = bare.rsplit(":", 1)[0] if bare.count(":") == 1 else bare
        scheme = "http" if is_loopback_host(name) else "https"
        host = f"{scheme}://{host}"
    if port and host.count(":") == 1:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise SchedulerXConfigError(f"port: expected 1 to 65535, got {shown(port)}")
        host = f"{host.rstrip('/')}:{port}"
    return host


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the hook and trigger need from a SchedulerX connection. ``repr`` shows no
    secret.

    :param poll_batching: a triggerer polls the instances of one job its triggers wait on
        together (:mod:`~airflow_provider_schedulerx.triggers.job_batches`).
    :param warnings: what was used as given but may be a mistake (an unknown extra, an
        unknown region).
    """

    config: ClientConfig
    namespace: str | None
    group_id: str | None
    namespace_source: str | None
    console_url: str
    timezone: str
    access_key_id: str | None
    access_key_secret: str | None
    security_token: str | None
    role_arn: str | None
    role_session_name: str
    external_id: str | None
    duration_seconds: int
    policy: str | None
    sts_endpoint: str | None
    poll_batching: bool = True
    warnings: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"ConnectionSettings(endpoint={self.config.endpoint!r}, region_id={self.config.region_id!r}, "
            f"namespace={self.namespace!r}, group_id={self.group_id!r}, role_arn={self.role_arn!r})"
        )

    @classmethod
    def from_fields(
        cls,
        *,
        login: str | None,
        password: str | None,
        host: str | None,
        port: int | None = None,
        extra: str | dict[str, Any] | None = None,
    ) -> ConnectionSettings:
        """Read and check the connection's fields.

        :raises SchedulerXConfigError: naming the field that is wrong and what it accepts.
        """
        raw = _raw_extras(extra)
        values: dict[str, Any] = {}
        warnings = []
        for key, value in raw.items():
            name = key.removeprefix(_OLD_PREFIX) if isinstance(key, str) else key
            field = _FIELDS.get(name)
            if field is None:
                warnings.append(
                    f"extra {shown(key)} is not a setting of the SchedulerX connection and is "
                    f"ignored (misspelt? the settings are {', '.join(_FIELDS)})"
                )
            elif values.get(name) is None:
                values[name] = _read_extra(field, value)
        region = values.get("region_id") or DEFAULT_REGION
        if region not in _FIELDS["region_id"].choices:  # type: ignore[operator]
            warnings.append(f"region_id: {region!r} is not a region this release knows; it is used as given")
        transport = {
            name: values[name]
            for name in (
                "timeout",
                "connect_timeout",
                "retry_deadline",
                "backoff",
                "max_retries",
                "verify_ssl",
                "max_calls_per_second",
            )
            if values.get(name) is not None
        }
        if "backoff" in transport:
            transport["backoff_max"] = max(transport["backoff"], ClientConfig.backoff_max)
        for name in ("login", "password"):
            value = login if name == "login" else password
            if value is not None and not isinstance(value, str):
                raise SchedulerXConfigError(f"{name}: expected a string, got a {type(value).__name__}")
        config = ClientConfig(
            region_id=region,
            endpoint=_endpoint(host, port),
            network=values.get("network") or "public",
            signature_version=values.get("signature_version") or "v3",
            **transport,
        )
        try:
            from airflow_provider_schedulerx.models import check_timezone

            timezone = check_timezone(values.get("timezone") or DEFAULT_TIMEZONE)
        except ValueError as error:
            raise SchedulerXConfigError(str(error)) from None
        sts_endpoint = values.get("sts_endpoint")
        return cls(
            config=config,
            namespace=validate_name(values.get("namespace"), "namespace", required=False),
            group_id=validate_name(values.get("group_id"), "group_id", required=False),
            namespace_source=validate_name(
                values.get("namespace_source"), "namespace_source", required=False
            ),
            console_url=_console_url(values.get("console_url")),
            timezone=timezone,
            access_key_id=(login or "").strip() or None,
            access_key_secret=password or None,
            security_token=values.get("security_token"),
            role_arn=values.get("role_arn"),
            role_session_name=values.get("role_session_name") or "airflow-schedulerx",
            external_id=values.get("external_id"),
            duration_seconds=values.get("duration_seconds") or 3600,
            policy=values.get("policy"),
            sts_endpoint=_endpoint(sts_endpoint, None) if sts_endpoint else None,
            poll_batching=values.get("poll_batching") is not False,
            warnings=tuple(warnings),
        )

    def credentials_provider(self) -> CredentialsProvider:
        """The connection's AccessKey (with its STS token), or the environment's; wrapped in
        AssumeRole when a role ARN is set."""
        if self.access_key_id or self.access_key_secret:
            source: CredentialsProvider = StaticCredentialsProvider(
                self.access_key_id or "", self.access_key_secret or "", self.security_token
            )
        else:
            source = default_credentials_provider(
                sts_endpoint=self.sts_endpoint, verify_ssl=self.config.verify_ssl
            )
        if not self.role_arn:
            return source
        return RamRoleArnCredentialsProvider(
            source,
            self.role_arn,
            role_session_name=self.role_session_name,
            external_id=self.external_id,
            duration_seconds=self.duration_seconds,
            policy=self.policy,
            sts_endpoint=self.sts_endpoint or os.environ.get(ENV_STS_ENDPOINT) or DEFAULT_STS_ENDPOINT,
            verify_ssl=self.config.verify_ssl,
            timeout=min(self.config.timeout, 10.0),
        )

    def shared_credentials_provider(self) -> CredentialsProvider:
        """:meth:`credentials_provider`, made once per process for each distinct set of
        credential settings: the triggers of a triggerer that use one connection share its
        cached STS credentials instead of assuming the role once each."""
        environment = (
            ()
            if (self.access_key_id or self.access_key_secret)
            else tuple(os.environ.get(name) for name in CHAIN_ENVIRONMENT)
        )
        return _shared_provider(self._credential_settings(), environment)

    def _credential_settings(self) -> ConnectionSettings:
        """These settings with only what the credentials depend on (the cache key)."""
        return ConnectionSettings(
            config=ClientConfig(timeout=self.config.timeout, verify_ssl=self.config.verify_ssl),
            namespace=None,
            group_id=None,
            namespace_source=None,
            console_url="",
            timezone="",
            access_key_id=self.access_key_id,
            access_key_secret=self.access_key_secret,
            security_token=self.security_token,
            role_arn=self.role_arn,
            role_session_name=self.role_session_name,
            external_id=self.external_id,
            duration_seconds=self.duration_seconds,
            policy=self.policy,
            sts_endpoint=self.sts_endpoint,
        )

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "group_id": self.group_id,
            "namespace_source": self.namespace_source,
            "timezone": self.timezone,
        }


@functools.lru_cache(maxsize=SHARED_PROVIDERS_KEPT)
def _shared_provider(
    settings: ConnectionSettings, environment: tuple[str | None, ...]
) -> CredentialsProvider:
    return settings.credentials_provider()
