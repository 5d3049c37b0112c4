"""Client settings: endpoint resolution and validation of everything a user can set.

Every check here runs before any network call and raises :class:`SchedulerXConfigError`
naming the setting and what it accepts.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_schedulerx import __version__
from airflow_provider_schedulerx.exceptions import SchedulerXConfigError

__all__ = [
    "API_VERSION",
    "DEFAULT_REGION",
    "KNOWN_REGIONS",
    "NETWORKS",
    "SIGNATURE_VERSIONS",
    "ClientConfig",
    "default_endpoint",
    "is_loopback_host",
    "normalize_endpoint",
    "validate_id",
    "validate_name",
    "validate_region",
]

API_VERSION = "2019-04-30"
DEFAULT_REGION = "cn-hangzhou"
SIGNATURE_VERSIONS = ("v3", "v1")
NETWORKS = ("public", "vpc")

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
_REGION_RE = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")
USER_AGENT = f"airflow-provider-schedulerx/{__version__}"


def validate_region(region_id: Any) -> str:
    if not isinstance(region_id, str) or not _REGION_RE.match(region_id.strip()):
        raise SchedulerXConfigError(
            f"region_id: {region_id!r} is not an Alibaba Cloud region id "
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


_HOST_NAME = re.compile(r"^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|[0-9A-Fa-f:.]+)$")


def normalize_endpoint(value: Any, setting: str = "endpoint") -> str:
    """``host``, ``host:port`` or ``scheme://host[:port]`` as ``scheme://host[:port]``.

    HTTPS is assumed when no scheme is given. Plain HTTP is accepted only for a loopback
    address (the emulator), so that credentials never cross a network in the clear.
    """
    if not isinstance(value, str) or not value.strip():
        raise SchedulerXConfigError(f"{setting}: expected a host name or URL, got {value!r}")
    text = value.strip()
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise SchedulerXConfigError(f"{setting}: {value!r} has an invalid port") from None
    if scheme not in ("http", "https"):
        raise SchedulerXConfigError(f"{setting}: {value!r} must use https:// (or http:// on loopback)")
    if not parts.hostname or parts.username or parts.password or not _HOST_NAME.match(parts.hostname):
        raise SchedulerXConfigError(
            f"{setting}: {value!r} is not a valid endpoint (expected e.g. "
            "https://schedulerx.cn-hangzhou.aliyuncs.com)"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SchedulerXConfigError(
            f"{setting}: {value!r} must not have a path or query; SchedulerX serves every action at /"
        )
    if scheme == "http" and not is_loopback_host(parts.hostname):
        raise SchedulerXConfigError(
            f"{setting}: {value!r} uses plain http to a non-loopback host; "
            "credentials are only sent over https (http is allowed for 127.0.0.1 / localhost)"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def validate_id(value: Any, setting: str) -> int:
    """A SchedulerX id (job, instance): a positive integer, or a string of digits (as a
    template renders it)."""
    if isinstance(value, bool):
        raise SchedulerXConfigError(f"{setting}: expected a positive integer id, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        hint = " (did the template render to nothing?)" if value in ("", "None", None) else ""
        raise SchedulerXConfigError(f"{setting}: expected a positive integer id, got {value!r}{hint}")
    if number <= 0:
        raise SchedulerXConfigError(f"{setting}: expected a positive integer id, got {value!r}")
    return number


def validate_name(value: Any, setting: str) -> str:
    """A namespace, group id or similar: a non-empty string without spaces."""
    if not isinstance(value, str) or not value.strip():
        raise SchedulerXConfigError(
            f"{setting} is required: set it on the task or as the connection's extra {setting!r}"
        )
    text = value.strip()
    if any(ch.isspace() for ch in text):
        raise SchedulerXConfigError(f"{setting}: {value!r} must not contain spaces")
    return text


def _positive_number(value: Any, setting: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SchedulerXConfigError(f"{setting}: expected a number of seconds, got {value!r}") from None
    if not number > 0:
        raise SchedulerXConfigError(f"{setting}: must be greater than 0, got {value!r}")
    return number


@dataclass(frozen=True)
class ClientConfig:
    """Where and how the client talks to SchedulerX.

    :param region_id: region of the SchedulerX instance, e.g. ``cn-hangzhou``.
    :param endpoint: endpoint override; default from region and network.
    :param network: ``public`` or ``vpc``.
    :param signature_version: ``v3`` (ACS3-HMAC-SHA256) or ``v1`` (HMAC-SHA1).
    :param timeout: seconds to wait for a reply to one request.
    :param connect_timeout: seconds to wait for a connection.
    :param max_retries: retries of a failed request (transient errors only).
    :param retry_deadline: seconds after which no retry is started.
    :param backoff: first retry delay in seconds; doubles per retry, with jitter.
    :param backoff_max: the longest single retry delay.
    :param verify_ssl: verify TLS certificates.
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
    user_agent: str = field(default=USER_AGENT)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "region_id", validate_region(self.region_id))
        if self.network not in NETWORKS:
            raise SchedulerXConfigError(f"network: {self.network!r} is not one of {', '.join(NETWORKS)}")
        version = str(self.signature_version).lower()
        if version not in SIGNATURE_VERSIONS:
            raise SchedulerXConfigError(
                f"signature_version: {self.signature_version!r} is not one of "
                f"{', '.join(SIGNATURE_VERSIONS)} (v3 = ACS3-HMAC-SHA256, v1 = HMAC-SHA1)"
            )
        set_(self, "signature_version", version)
        endpoint = self.endpoint or default_endpoint(self.region_id, self.network)
        set_(self, "endpoint", normalize_endpoint(endpoint))
        for name in ("timeout", "connect_timeout", "retry_deadline"):
            set_(self, name, _positive_number(getattr(self, name), name))
        for name in ("backoff", "backoff_max"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise SchedulerXConfigError(f"{name}: expected seconds >= 0, got {value!r}")
        if (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or self.max_retries < 0
        ):
            try:
                retries = int(str(self.max_retries))
            except ValueError:
                retries = -1
            if retries < 0:
                raise SchedulerXConfigError(
                    f"max_retries: expected a whole number >= 0, got {self.max_retries!r}"
                )
            set_(self, "max_retries", retries)

    @property
    def host(self) -> str:
        """``host[:port]`` as signed in the V3 ``host`` header."""
        return self.endpoint.split("://", 1)[1]
