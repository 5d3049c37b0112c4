"""The Alibaba Cloud RPC protocol without the HTTP library: building signed requests and
reading replies into data or typed errors. Used by the sync and async clients and by the
STS calls of the credential providers."""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_schedulerx import signing
from airflow_provider_schedulerx.exceptions import (
    SchedulerXAPIError,
    SchedulerXAuthError,
    SchedulerXBusinessError,
    SchedulerXError,
    SchedulerXResponseError,
    SchedulerXServerError,
    SchedulerXThrottledError,
)

__all__ = [
    "PreparedRequest",
    "RequestTemplate",
    "error_from_reply",
    "parse_reply",
    "stringify_params",
]

_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class PreparedRequest:
    """A request ready to send. ``repr`` leaves out the headers (they carry the signature
    and, with STS, the security token)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""

    def __repr__(self) -> str:
        action = self.headers.get("x-acs-action", "")
        return f"PreparedRequest({self.method} {self.url.split('?', 1)[0]} {action})"


def stringify_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Query values as the service reads them: booleans ``true``/``false``, ``None`` dropped,
    lists and dicts as JSON."""
    result: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            result[key] = "true" if value else "false"
        elif isinstance(value, (dict, list, tuple)):
            result[key] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        else:
            result[key] = str(value)
    return result


class RequestTemplate:
    """One call's request without its timestamp and nonce: the URL, headers and, for a V3
    signature, the canonical request are worked out once, and :meth:`sign` completes one
    attempt. A poll loop signs the same call again and again. ``repr`` leaves out the
    credentials.

    With no AccessKey (``AssumeRoleWithOIDC``) the request goes unsigned, V1-style, with its
    parameters in a form body so that the OIDC token stays out of URLs and access logs.
    """

    __slots__ = ("_access_key_secret", "_headers", "_params", "_v3", "action", "method", "url")

    def __init__(
        self,
        *,
        action: str,
        version: str,
        params: Mapping[str, str],
        method: str,
        endpoint: str,
        access_key_id: str | None,
        access_key_secret: str | None,
        security_token: str | None = None,
        signature_version: str = "v3",
        user_agent: str = "",
    ) -> None:
        self.action = action
        self.method = method.upper()
        self._headers = {"accept": "application/json"}
        if user_agent:
            self._headers["user-agent"] = user_agent
        self._v3: signing.V3Signer | None = None
        self._access_key_secret = access_key_secret
        if access_key_id is None or access_key_secret is None:
            self.method, self.url = "POST", f"{endpoint}/"
            self._headers["content-type"] = "application/x-www-form-urlencoded"
            self._params = dict(params, Action=action, Version=version, Format="JSON")
        elif signature_version == "v1":
            self.url = f"{endpoint}/"
            self._params = dict(
                params,
                Action=action,
                Version=version,
                Format="JSON",
                SignatureMethod="HMAC-SHA1",
                SignatureVersion="1.0",
                AccessKeyId=access_key_id,
            )
            if security_token:
                self._params["SecurityToken"] = security_token
        else:
            self._params = {}
            query = signing.canonical_query(params)
            self.url = f"{endpoint}/?{query}" if query else f"{endpoint}/"
            self._headers.update(
                {
                    "host": endpoint.split("://", 1)[1],
                    "x-acs-action": action,
                    "x-acs-version": version,
                    "x-acs-content-sha256": signing.EMPTY_PAYLOAD_SHA256,
                }
            )
            if security_token:
                self._headers["x-acs-security-token"] = security_token
            self._v3 = signing.V3Signer(
                self.method,
                "/",
                query,
                self._headers,
                ("x-acs-date", "x-acs-signature-nonce"),
                signing.EMPTY_PAYLOAD_SHA256,
                access_key_id,
                access_key_secret,
            )

    def sign(self, *, now: float | None = None, nonce: str | None = None) -> PreparedRequest:
        """One attempt, with its own timestamp and nonce."""
        nonce = nonce or secrets.token_hex(16)
        timestamp = time.strftime(_TIMESTAMP_FORMAT, time.gmtime(now))
        if self._v3 is not None:
            headers = {**self._headers, "x-acs-date": timestamp, "x-acs-signature-nonce": nonce}
            headers["authorization"] = self._v3.authorization(timestamp, nonce)
            return PreparedRequest(self.method, self.url, headers)
        query = dict(self._params, Timestamp=timestamp, SignatureNonce=nonce)
        if self._access_key_secret is None:
            return PreparedRequest(
                self.method, self.url, dict(self._headers), signing.canonical_query(query).encode()
            )
        query["Signature"] = signing.sign_v1(self.method, query, self._access_key_secret)
        return PreparedRequest(
            self.method, f"{self.url}?{signing.canonical_query(query)}", dict(self._headers)
        )

    def __repr__(self) -> str:
        return f"RequestTemplate({self.method} {self.url.split('?', 1)[0]} {self.action})"


_AUTH_HINTS = {
    "SignatureDoesNotMatch": "the AccessKey Secret does not match the AccessKey ID: "
    "check the connection's password (AccessKey Secret)",
    "IncompleteSignature": "the request's signature is incomplete",
    "InvalidAccessKeyId.NotFound": "this AccessKey ID does not exist: "
    "check the connection's login (AccessKey ID)",
    "InvalidAccessKeyId.Inactive": "this AccessKey is disabled: enable it or use another one",
    "InvalidTimeStamp.Expired": "this machine's clock is more than 15 minutes off: "
    "synchronize it (NTP) and try again",
    "InvalidTimeStamp.Format": "the request's timestamp was not understood",
    "SignatureNonceUsed": "the request's nonce was already used",
    "InvalidSecurityToken.Expired": "the STS security token has expired: "
    "get a new one, or configure role_arn so that it is refreshed automatically",
    "InvalidSecurityToken.Mismatch": "the STS security token does not belong to this AccessKey ID",
    "InvalidSecurityToken.Malformed": "the STS security token is malformed",
}
_SERVER_CODES = ("ServiceUnavailable", "InternalError", "Unavailable")


def _clean_message(message: Any) -> str:
    """The service's message without the echoed string to sign, which for V1 requests
    would repeat the query, STS token included."""
    text = "" if message is None else str(message)
    for marker in ("server string to sign is", "server StringToSign is"):
        index = text.find(marker)
        if index >= 0:
            text = text[:index].rstrip(" :.,")
    return text


def error_from_reply(
    code: str,
    message: Any,
    *,
    http_status: int | None,
    request_id: str | None,
    recommend: str | None = None,
    retry_after: float | None = None,
    action: str = "",
) -> SchedulerXError:
    """Map a gateway error code to the error class that says what to do about it."""
    text = _clean_message(message)
    prefix = f"{action} failed: " if action else ""
    kwargs: dict[str, Any] = {
        "code": code,
        "request_id": request_id,
        "http_status": http_status,
        "recommend": recommend,
    }
    if code.startswith("Throttling") or http_status == 429:
        return SchedulerXThrottledError(
            f"{prefix}the request was throttled ({text})", retry_after=retry_after, **kwargs
        )
    if code in _AUTH_HINTS:
        return SchedulerXAuthError(f"{prefix}{_AUTH_HINTS[code]} ({text})", **kwargs)
    if code.startswith(("Forbidden", "NoPermission")) or http_status == 403:
        return SchedulerXAuthError(
            f"{prefix}the RAM identity lacks permission for this action "
            f"(grant it a SchedulerX policy such as AliyunSchedulerxFullAccess): {text}",
            **kwargs,
        )
    if code.startswith(("InvalidAccessKey", "InvalidSecurityToken", "AuthenticationFail")):
        return SchedulerXAuthError(f"{prefix}credential problem: {text}", **kwargs)
    if code.startswith(_SERVER_CODES) or (http_status is not None and http_status >= 500):
        return SchedulerXServerError(f"{prefix}SchedulerX is unavailable ({text})", **kwargs)
    return SchedulerXAPIError(f"{prefix}{text}", **kwargs)


def parse_reply(status: int, headers: Mapping[str, str], body: bytes, *, action: str = "") -> dict[str, Any]:
    """Read a reply: its JSON on success, else the matching :class:`SchedulerXError`.

    HTTP 200 with ``Success: false`` is a :class:`SchedulerXBusinessError`.
    """
    try:
        # The service answers in UTF-8: decoding it here spares json the encoding sniffing.
        data = json.loads(body.decode()) if body else None
    except ValueError:  # UnicodeDecodeError included
        data = None
    if not isinstance(data, dict):
        if status >= 500 or status == 429:
            raise error_from_reply(
                f"HTTP{status}",
                "no JSON body",
                http_status=status,
                request_id=None,
                retry_after=_retry_after(headers),
                action=action,
            )
        snippet = body[:120].decode("utf-8", "replace")
        raise SchedulerXResponseError(
            f"{action}: the reply could not be read as JSON (HTTP {status}): {snippet!r}",
            http_status=status,
        )
    if status >= 400:
        raise error_from_reply(
            str(data.get("Code") or f"HTTP{status}"),
            data.get("Message"),
            http_status=status,
            request_id=_request_id(data, headers),
            recommend=data.get("Recommend"),
            retry_after=_retry_after(headers),
            action=action,
        )
    if data.get("Success") is False:
        code = data.get("Code")
        raise SchedulerXBusinessError(
            f"{action} failed: {_clean_message(data.get('Message')) or 'no reason given'}",
            code=None if code is None else str(code),
            request_id=_request_id(data, headers),
            http_status=status,
        )
    return data


def _request_id(data: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    return data.get("RequestId") or headers.get("x-acs-request-id")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("x-acs-retry-after") or headers.get("X-Acs-Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value) / 1000.0)
    except ValueError:
        return None


_SIGNED_QUERY_VALUE = re.compile(r"((?:^|[?&])(?:Signature|SecurityToken|OIDCToken)=)[^&\s\"]*")


def redact_url(url: str) -> str:
    """``url`` with the values of its ``Signature``, ``SecurityToken`` and ``OIDCToken``
    query parameters replaced by ``***``."""
    return _SIGNED_QUERY_VALUE.sub(r"\1***", url)


class _SignedUrlFilter(logging.Filter):
    """Redacts signed V1 query strings in the request lines urllib3 logs at DEBUG level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(arg, str) and "Signature=" in arg for arg in record.args
        ):
            record.args = tuple(redact_url(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


_url_filter_lock = threading.Lock()
_url_filter_installed = False


def install_url_redaction() -> None:
    """Keep signatures and tokens of V1 URLs out of urllib3's debug log (once per process)."""
    global _url_filter_installed
    with _url_filter_lock:
        if not _url_filter_installed:
            logging.getLogger("urllib3.connectionpool").addFilter(_SignedUrlFilter())
            _url_filter_installed = True
