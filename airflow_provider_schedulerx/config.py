"""Client settings and the checks of everything a user can set: endpoints, ids, names,
durations and counts.

Every check here runs before any network call and raises :class:`SchedulerXConfigError`
naming the setting and what it accepts. Nothing here does HTTP or imports Airflow.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_schedulerx import __version__
from airflow_provider_schedulerx.exceptions import SchedulerXConfigError

__all__ = [
    "API_VERSION",
    "DEFAULT_REGION",
    "DEFAULT_TIMEZONE",
    "KNOWN_REGIONS",
    "MAX_ID",
    "MAX_LOG_LINES",
    "NETWORKS",
    "SIGNATURE_VERSIONS",
    "ClientConfig",
    "default_endpoint",
    "is_loopback_host",
    "normalize_endpoint",
    "validate_count",
    "validate_id",
    "validate_name",
    "validate_region",
    "validate_seconds",
]

API_VERSION = "2019-04-30"
DEFAULT_REGION = "cn-hangzhou"
#: The zone of the service's wall-clock times, unless a connection says otherwise.
DEFAULT_TIMEZONE = "Asia/Shanghai"
SIGNATURE_VERSIONS = ("v3", "v1")
NETWORKS = ("public", "vpc")
#: The most log lines ``GetLog`` returns at once.
MAX_LOG_LINES = 200
#: Ids are Java longs on the service's side.
MAX_ID = 2**63 - 1
#: Names (namespace, group, job, worker) are short identifiers on the service's side.
MAX_NAME_LENGTH = 128

# Regions with a regional public endpoint of their own; the others use the central one.
REGIONAL_ENDPOINT_REGIONS = frozenset({"cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen"})
KNOWN_REGIONS = (
    "cn-hangzhou",
    "cn-shanghai",
    "cn-beijing",
    "cn-shenzhen",
    "cn-zhangjiakou",
    "cn-huhehaote",
    "cn-wulanchabu",
    "cn-chengdu",
    "cn-qingdao",
    "cn-hongkong",
    "ap-southeast-1",
    "ap-southeast-3",
    "ap-southeast-5",
    "ap-northeast-1",
    "eu-central-1",
    "us-east-1",
    "us-west-1",
)
_REGION_RE = re.compile(r"[a-z]{2,}(?:-[a-z0-9]+)+")
_DIGITS = re.compile(r"[0-9]{1,19}")
USER_AGENT = f"airflow-provider-schedulerx/{__version__}"

#: The ranges of the transport settings, shared with the connection form.
TIMEOUT_RANGE = (0.1, 600.0)
CONNECT_TIMEOUT_RANGE = (0.1, 120.0)
RETRY_DEADLINE_RANGE = (0.1, 3600.0)
BACKOFF_RANGE = (0.0, 600.0)
MAX_RETRIES_RANGE = (0, 20)
#: Calls a second a process sends with one AccessKey, at the most (0: no limit).
MAX_CALLS_PER_SECOND_RANGE = (0.0, 10_000.0)
DEFAULT_MAX_CALLS_PER_SECOND = 20.0


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages about bad input."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def validate_region(region_id: Any) -> str:
    if not isinstance(region_id, str) or not _REGION_RE.fullmatch(region_id.strip()):
        raise SchedulerXConfigError(
            f"region_id: {shown(region_id)} is not an Alibaba Cloud region id "
            f"(such as {', '.join(KNOWN_REGIONS[:4])})"
        )
    return region_id.strip()


def default_endpoint(region_id: str, network: str = "public") -> str:
    """The SchedulerX endpoint the official SDK uses for a region and network."""
    if network == "vpc":
        return f"https://schedulerx-vpc.{region_id}.aliyuncs.com"
    if region_id in REGIONAL_ENDPOINT_REGIONS:
        return f"https://schedulerx.{region_id}.aliyuncs.com"
    return "https://schedulerx.aliyuncs.com"


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_HOST_NAME = re.compile(r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|[0-9A-Fa-f:.]+)")


def normalize_endpoint(value: Any, setting: str = "endpoint") -> str:
    """``host``, ``host:port`` or ``scheme://host[:port]`` as ``scheme://host[:port]``.

    HTTPS is assumed when no scheme is given. Plain HTTP is accepted only for a loopback
    address (the emulator), so that credentials never cross a network in the clear.
    """
    if not isinstance(value, str) or not value.strip():
        raise SchedulerXConfigError(f"{setting}: expected a host name or URL, got {shown(value)}")
    text = value.strip()
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise SchedulerXConfigError(f"{setting}: {shown(value)} has an invalid port") from None
    if scheme not in ("http", "https"):
        raise SchedulerXConfigError(f"{setting}: {shown(value)} must use https:// (or http:// on loopback)")
    if not parts.hostname or parts.username or parts.password or not _HOST_NAME.fullmatch(parts.hostname):
        raise SchedulerXConfigError(
            f"{setting}: {shown(value)} is not a valid endpoint (expected e.g. "
            "https://schedulerx.cn-hangzhou.aliyuncs.com)"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SchedulerXConfigError(
            f"{setting}: {shown(value)} must not have a path or query; SchedulerX serves every action at /"
        )
    if scheme == "http" and not is_loopback_host(parts.hostname):
        raise SchedulerXConfigError(
            f"{setting}: {shown(value)} uses plain http to a non-loopback host; "
            "credentials are only sent over https (http is allowed for 127.0.0.1 / localhost)"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def validate_id(value: Any, setting: str) -> int:
    """A SchedulerX id (job, instance, workflow): a whole number from 1 to 2**63 - 1, as an
    int or a string of ASCII digits (as a template renders it)."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    if number is None or not 1 <= number <= MAX_ID:
        hint = " (did the template render to nothing?)" if value in ("", "None", None) else ""
        raise SchedulerXConfigError(
            f"{setting}: expected a SchedulerX id, a whole number from 1 to {MAX_ID}, "
            f"got {shown(value)}{hint}"
        )
    return number


def validate_name(value: Any, setting: str, *, required: bool = True) -> str | None:
    """A namespace, group id, job name or similar: a string of at most
    ``MAX_NAME_LENGTH`` printable characters without spaces."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if not required:
            return None
        raise SchedulerXConfigError(
            f"{setting} is required: set it on the task or as the connection's extra {setting!r}"
        )
    if not isinstance(value, str):
        raise SchedulerXConfigError(f"{setting}: expected a string, got {shown(value)}")
    text = value.strip()
    if len(text) > MAX_NAME_LENGTH:
        raise SchedulerXConfigError(f"{setting}: at most {MAX_NAME_LENGTH} characters, got {len(text)}")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise SchedulerXConfigError(
            f"{setting}: {shown(value)} must not contain spaces or control characters"
        )
    return text


def validate_seconds(
    value: Any, setting: str, *, minimum: float = 0.0, maximum: float = math.inf, allow_minimum: bool = False
) -> float:
    """A duration in seconds: a finite number above ``minimum`` (or equal to it, with
    ``allow_minimum``) and at most ``maximum``."""
    above = "at least" if allow_minimum else "greater than"
    accepted = f"a number of seconds {above} {minimum:g}" + (
        f" and at most {maximum:g}" if maximum < math.inf else ""
    )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchedulerXConfigError(f"{setting}: expected {accepted}, got {shown(value)}")
    number = float(value)
    low_ok = number >= minimum if allow_minimum else number > minimum
    if not math.isfinite(number) or not low_ok or number > maximum:
        raise SchedulerXConfigError(f"{setting}: expected {accepted}, got {shown(value)}")
    return number


def validate_count(value: Any, setting: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    """A whole number from ``minimum`` to ``maximum``."""
    accepted = f"a whole number from {minimum}" + (f" to {maximum}" if maximum is not None else " up")
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        raise SchedulerXConfigError(f"{setting}: expected {accepted}, got {shown(value)}")
    return value


@dataclass(frozen=True)
class ClientConfig:
    """Where and how the client talks to SchedulerX.

    :param region_id: region of the SchedulerX instance, e.g. ``cn-hangzhou``.
    :param endpoint: endpoint override; default from region and network.
    :param network: ``public`` or ``vpc``.
    :param signature_version: ``v3`` (ACS3-HMAC-SHA256) or ``v1`` (HMAC-SHA1).
    :param timeout: seconds one attempt may take, from connecting to the last byte of the
        reply.
    :param connect_timeout: seconds to wait for a connection.
    :param max_retries: retries of a failed request (transient errors only).
    :param retry_deadline: seconds a call may take, all its attempts and waits included.
    :param backoff: first retry delay in seconds; doubles per retry, with jitter.
    :param backoff_max: the longest single retry delay.
    :param verify_ssl: verify TLS certificates.
    :param max_calls_per_second: calls a second that the clients of the process send to the
        endpoint with one AccessKey, at the most (0: no limit); see
        :mod:`~airflow_provider_schedulerx.rpc.budget`.
    """

    region_id: str = DEFAULT_REGION
    endpoint: str = ""
    network: str = "public"
    signature_version: str = "v3"
    timeout: float = 30.0
    connect_timeout: float = 10.0
    max_retries: int = 5
    retry_deadline: float = 120.0
    backoff: float = 0.5
    backoff_max: float = 20.0
    verify_ssl: bool = True
    max_calls_per_second: float = DEFAULT_MAX_CALLS_PER_SECOND
    user_agent: str = field(default=USER_AGENT)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "region_id", validate_region(self.region_id))
        if self.network not in NETWORKS:
            raise SchedulerXConfigError(f"network: {shown(self.network)} is not one of {', '.join(NETWORKS)}")
        version = self.signature_version.lower() if isinstance(self.signature_version, str) else None
        if version not in SIGNATURE_VERSIONS:
            raise SchedulerXConfigError(
                f"signature_version: {shown(self.signature_version)} is not one of "
                f"{', '.join(SIGNATURE_VERSIONS)} (v3 = ACS3-HMAC-SHA256, v1 = HMAC-SHA1)"
            )
        set_(self, "signature_version", version)
        endpoint = self.endpoint or default_endpoint(self.region_id, self.network)
        set_(self, "endpoint", normalize_endpoint(endpoint))
        for name, (low, high) in (
            ("timeout", TIMEOUT_RANGE),
            ("connect_timeout", CONNECT_TIMEOUT_RANGE),
            ("retry_deadline", RETRY_DEADLINE_RANGE),
        ):
            set_(
                self,
                name,
                validate_seconds(getattr(self, name), name, minimum=low, maximum=high, allow_minimum=True),
            )
        rate, (low, high) = self.max_calls_per_second, MAX_CALLS_PER_SECOND_RANGE
        if (
            isinstance(rate, bool)
            or not isinstance(rate, (int, float))
            or not math.isfinite(rate)
            or not low <= rate <= high
        ):
            raise SchedulerXConfigError(
                f"max_calls_per_second: expected a number of calls a second from 0 (no limit) to "
                f"{high:g}, got {shown(rate)}"
            )
        set_(self, "max_calls_per_second", float(rate))
        for name in ("backoff", "backoff_max"):
            low, high = BACKOFF_RANGE
            set_(
                self,
                name,
                validate_seconds(getattr(self, name), name, minimum=low, maximum=high, allow_minimum=True),
            )
        validate_count(
            self.max_retries, "max_retries", minimum=MAX_RETRIES_RANGE[0], maximum=MAX_RETRIES_RANGE[1]
        )
        if not isinstance(self.verify_ssl, bool):
            raise SchedulerXConfigError(f"verify_ssl: expected true or false, got {shown(self.verify_ssl)}")

    @property
    def host(self) -> str:
        """``host[:port]`` as signed in the V3 ``host`` header."""
        return self.endpoint.split("://", 1)[1]
