"""One call to STS (``AssumeRole``, ``AssumeRoleWithOIDC``): signed with V1, bounded in
time and size, never along a redirect, its reply read as temporary credentials."""

from __future__ import annotations

import calendar
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_schedulerx.exceptions import SchedulerXResponseError
from airflow_provider_schedulerx.rpc.protocol import RequestTemplate, parse_reply, stringify_params
from airflow_provider_schedulerx.signing import TIMESTAMP_FORMAT

if TYPE_CHECKING:
    from airflow_provider_schedulerx.rpc.sync import SyncTransport

__all__ = ["DEFAULT_STS_ENDPOINT", "STS_VERSION", "StsKeys", "call_sts"]

STS_VERSION = "2015-04-01"
DEFAULT_STS_ENDPOINT = "https://sts.aliyuncs.com"


class StsKeys(NamedTuple):
    """Temporary credentials as STS hands them out; ``expiration`` in epoch seconds."""

    access_key_id: str
    access_key_secret: str
    security_token: str
    expiration: float


def call_sts(
    transport: SyncTransport,
    action: str,
    params: dict[str, Any],
    *,
    timeout: float,
    signer: tuple[str, str, str | None] | None,
) -> StsKeys:
    """Call ``action`` within ``timeout`` seconds, from connecting to the last byte; signed
    by ``signer`` (AccessKey ID, secret, token), or unsigned (``AssumeRoleWithOIDC``)."""
    key_id, secret, token = signer if signer is not None else (None, None, None)
    request = RequestTemplate(
        action=action,
        version=STS_VERSION,
        params=stringify_params(params),
        method="GET" if signer else "POST",
        endpoint=transport.endpoint,
        access_key_id=key_id,
        access_key_secret=secret,
        security_token=token,
        signature_version="v1",
    ).sign()
    reply = transport.send(request, timeout=timeout, action=action)
    return _keys_of(parse_reply(*reply, action=action), action)


def _keys_of(data: dict[str, Any], action: str) -> StsKeys:
    creds = data.get("Credentials")
    fields = ("AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration")
    if not isinstance(creds, dict) or not all(
        isinstance(creds.get(name), str) and creds[name] for name in fields
    ):
        raise SchedulerXResponseError(f"{action}: the reply holds no usable Credentials")
    try:
        expiration = calendar.timegm(time.strptime(creds["Expiration"], TIMESTAMP_FORMAT))
    except ValueError:
        raise SchedulerXResponseError(f"{action}: the reply's Credentials.Expiration is not a time") from None
    return StsKeys(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"], float(expiration))
