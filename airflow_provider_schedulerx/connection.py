"""From an Airflow connection's fields to client settings and credentials.

Pure: it takes the fields, not the Connection, so the hook (sync) and the trigger (async)
read the connection their own way and share everything after that.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from airflow_provider_schedulerx.config import ClientConfig, is_loopback_host
from airflow_provider_schedulerx.connection_form import DEFAULT_CONSOLE_URL, EXTRA_FIELDS
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
from airflow_provider_schedulerx.models import DEFAULT_TIMEZONE

__all__ = ["ConnectionSettings"]

_KNOWN_EXTRAS = frozenset(field.name for field in EXTRA_FIELDS) | {
    "connect_timeout",
    "retry_deadline",
    "backoff",
    "policy",
}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def _extra_value(extra: dict[str, Any], name: str) -> Any:
    """An extra by its plain name, or by the ``extra__schedulerx__<name>`` name older
    Airflow forms stored; empty strings count as unset."""
    value = extra.get(name)
    if value is None:
        value = extra.get(f"extra__schedulerx__{name}")
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    return value


def _bool(value: Any, setting: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SchedulerXConfigError(f"{setting}: expected true or false, got {value!r}")


def _int(value: Any, setting: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise SchedulerXConfigError(f"{setting}: expected a whole number, got {value!r}") from None


def _float(value: Any, setting: str) -> float:
    try:
        return float(str(value).strip())
    except ValueError:
        raise SchedulerXConfigError(f"{setting}: expected a number, got {value!r}") from None


def _console_url(value: Any) -> str:
    """The console's base URL: it becomes a link in the Airflow UI, so only http(s)."""
    url = str(value or DEFAULT_CONSOLE_URL).strip().rstrip("/")
    if not url.lower().startswith(("https://", "http://")) or any(c.isspace() for c in url):
        raise SchedulerXConfigError(
            f"console_url: expected an http(s) URL such as {DEFAULT_CONSOLE_URL}, got {value!r}"
        )
    return url


def _endpoint(host: str | None, port: int | None) -> str:
    """The connection's host as an endpoint. A host without a scheme is https, except on
    loopback (the emulator), which is http."""
    if not host:
        return ""
    host = host.strip()
    if "://" not in host:
        bare = host.split("/", 1)[0]
        name = bare.rsplit(":", 1)[0] if bare.count(":") == 1 else bare
        scheme = "http" if is_loopback_host(name) else "https"
        host = f"{scheme}://{host}"
    if port and host.count(":") == 1:
        host = f"{host.rstrip('/')}:{port}"
    return host


# Providers shared by the hooks and triggers of this process, keyed by a digest of their
# settings (see ConnectionSettings.shared_credentials_provider).
_shared_providers: OrderedDict[str, CredentialsProvider] = OrderedDict()
_shared_providers_lock = threading.Lock()
_SHARED_PROVIDERS_KEPT = 32


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the hook and trigger need from a SchedulerX connection. ``repr`` shows no
    secret."""

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

        :raises SchedulerXConfigError: naming the field that is wrong.
        """
        if isinstance(extra, str):
            try:
                extra = json.loads(extra) if extra.strip() else {}
            except ValueError:
                raise SchedulerXConfigError("the connection's extra is not valid JSON") from None
        extra = dict(extra or {})
        if not isinstance(extra, dict):
            raise SchedulerXConfigError("the connection's extra must be a JSON object")

        def get(name: str) -> Any:
            return _extra_value(extra, name)

        transport: dict[str, Any] = {}
        for name in ("timeout", "connect_timeout", "retry_deadline", "backoff"):
            if get(name) is not None:
                transport[name] = _float(get(name), name)
        if get("max_retries") is not None:
            transport["max_retries"] = _int(get("max_retries"), "max_retries")
        if get("verify_ssl") is not None:
            transport["verify_ssl"] = _bool(get("verify_ssl"), "verify_ssl")
        config = ClientConfig(
            region_id=get("region_id") or "cn-hangzhou",
            endpoint=_endpoint(host, port),
            network=get("network") or "public",
            signature_version=get("signature_version") or "v3",
            **transport,
        )
        sts_endpoint = get("sts_endpoint")
        return cls(
            config=config,
            namespace=get("namespace"),
            group_id=get("group_id"),
            namespace_source=get("namespace_source"),
            console_url=_console_url(get("console_url")),
            timezone=get("timezone") or DEFAULT_TIMEZONE,
            access_key_id=(login or "").strip() or None,
            access_key_secret=password or None,
            security_token=get("security_token"),
            role_arn=get("role_arn"),
            role_session_name=get("role_session_name") or "airflow-schedulerx",
            external_id=get("external_id"),
            duration_seconds=_int(get("duration_seconds") or 3600, "duration_seconds"),
            policy=get("policy"),
            sts_endpoint=_endpoint(sts_endpoint, None) if sts_endpoint else None,
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
        key = self._credentials_key()
        with _shared_providers_lock:
            provider = _shared_providers.get(key)
            if provider is None:
                provider = _shared_providers[key] = self.credentials_provider()
                while len(_shared_providers) > _SHARED_PROVIDERS_KEPT:
                    _shared_providers.popitem(last=False)
            else:
                _shared_providers.move_to_end(key)
            return provider

    def _credentials_key(self) -> str:
        fields = [
            self.access_key_id,
            self.access_key_secret,
            self.security_token,
            self.role_arn,
            self.role_session_name,
            self.external_id,
            self.duration_seconds,
            self.policy,
            self.sts_endpoint,
            self.config.verify_ssl,
            self.config.timeout,
        ]
        if not (self.access_key_id or self.access_key_secret):
            fields += [os.environ.get(name) for name in CHAIN_ENVIRONMENT]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "group_id": self.group_id,
            "namespace_source": self.namespace_source,
            "timezone": self.timezone,
        }


def unknown_extra_keys(extra: dict[str, Any]) -> list[str]:
    """Extra keys this provider does not read (likely typos)."""
    names = {key.removeprefix("extra__schedulerx__") for key in extra}
    return sorted(names - _KNOWN_EXTRAS)
