"""The Alibaba Cloud RPC protocol without the HTTP library: building signed requests and
reading replies into data or typed errors. Used by the sync and async transports, so by the
clients and by the STS calls of the credential providers alike.

A reply is trusted only once checked: a redirect is refused (credentials go only to the
configured endpoint), its body is bounded (:mod:`~airflow_provider_schedulerx.rpc.bodies`),
and the envelope's fields are type-checked."""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn
from urllib.parse import urlsplit

from airflow_provider_schedulerx import signing
from airflow_provider_schedulerx.exceptions import (
    SchedulerXAPIError,
    SchedulerXAuthError,
    SchedulerXBusinessError,
    SchedulerXError,
    SchedulerXResponseError,
    SchedulerXServerError,
    SchedulerXStartCollisionError,
    SchedulerXThrottledError,
)

__all__ = [
    "PreparedRequest",
    "Reply",
    "RequestTemplate",
    "error_from_reply",
    "parse_reply",
    "stringify_params",
]

TLS_FAILURE = (
    "TLS failed: the endpoint's certificate could not be verified (fix the endpoint, or set "
    "verify_ssl to false only if you trust the network)"
)


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


class Reply(NamedTuple):
    """A reply as a transport read it: status, headers and the body, inflated."""

    status: int
    headers: Mapping[str, str]
    body: bytes


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


#: The requests a client keeps laid out (their templates, their parsed URLs): a poll loop
#: repeats one or two calls. Each client keeps its own: a process-wide cache smaller than
#: the triggers of a triggerer would lay out every poll afresh.
MAX_REMEMBERED_REQUESTS = 16


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
        # gzip only: the transports inflate it themselves, bounded by MAX_REPLY_BYTES.
        self._headers = {"accept": "application/json", "accept-encoding": "gzip"}
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
        timestamp = time.strftime(signing.TIMESTAMP_FORMAT, time.gmtime(now))
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

    HTTP 200 with ``Success: false`` is a :class:`SchedulerXBusinessError`; a redirect is a
    plain :class:`SchedulerXAPIError` naming where it pointed (redirects are never followed);
    a 4xx without a JSON body is the gateway refusing the request, not a transient failure.
    """
    if 300 <= status < 400:
        raise SchedulerXAPIError(
            f"{action}: the endpoint answered HTTP {status}, a redirect to {_location(headers)}; "
            "redirects are never followed, so that credentials go only to the configured "
            "endpoint: set the connection's endpoint to the address meant",
            http_status=status,
            request_id=_request_id({}, headers),
        )
    try:
        # The service answers in UTF-8: decoding it here spares json the encoding sniffing.
        data = json.loads(body.decode()) if body else None
    except ValueError:  # UnicodeDecodeError included
        data = None
    if not isinstance(data, dict):
        return _not_json(status, headers, body, action)
    if status >= 400:
        raise error_from_reply(
            _text(data.get("Code")) or f"HTTP{status}",
            data.get("Message"),
            http_status=status,
            request_id=_request_id(data, headers),
            recommend=_text(data.get("Recommend")),
            retry_after=_retry_after(headers),
            action=action,
        )
    if data.get("Success") is False:
        message = _clean_message(data.get("Message")) or "no reason given"
        kind: type[SchedulerXError] = SchedulerXBusinessError
        if action == "ExecuteJob" and _START_COLLISION.search(message):
            kind = SchedulerXStartCollisionError
        raise kind(
            f"{action} failed: {message}",
            code=_text(data.get("Code")),
            request_id=_request_id(data, headers),
            http_status=status,
        )
    return data


# How the service words a second ExecuteJob of one job within one second (its job id and
# schedule time are a unique index): a duplicate key, an instance that already exists.
_START_COLLISION = re.compile(r"duplicate|already (?:exists?|has an instance)", re.IGNORECASE)


#: HTTP statuses whose reply says "try again later" even without a JSON body.
_TRANSIENT_HTTP = frozenset({408, 425, 429})


def _not_json(status: int, headers: Mapping[str, str], body: bytes, action: str) -> NoReturn:
    snippet = body[:120].decode("utf-8", "replace")
    if status >= 500 or status in _TRANSIENT_HTTP:
        raise error_from_reply(
            f"HTTP{status}",
            "no JSON body",
            http_status=status,
            request_id=_request_id({}, headers),
            retry_after=_retry_after(headers),
            action=action,
        )
    if status >= 400:
        # The gateway refused the request before the service saw it (414 Request-URI Too
        # Large, 400 Bad Request): sending it again cannot help, and it started nothing.
        raise SchedulerXAPIError(
            f"{action}: the endpoint refused the request with HTTP {status} and a reply that "
            f"is not JSON: {snippet!r}",
            code=f"HTTP{status}",
            http_status=status,
            request_id=_request_id({}, headers),
        )
    raise SchedulerXResponseError(
        f"{action}: the reply could not be read as JSON (HTTP {status}): {snippet!r}",
        http_status=status,
    )


def _location(headers: Mapping[str, str]) -> str:
    location = headers.get("location") or headers.get("Location")
    if not location:
        return "nowhere (no Location header)"
    parts = urlsplit(location)
    if parts.hostname:
        return f"host {parts.hostname!r}"
    return "another path of the same host"


def _text(value: Any) -> str | None:
    """A string field of the envelope; numbers as their text, anything else dropped."""
    if isinstance(value, str):
        return value[:200] or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _request_id(data: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    return _text(data.get("RequestId")) or _text(headers.get("x-acs-request-id"))


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("x-acs-retry-after") or headers.get("X-Acs-Retry-After")
    if not value:
        return None
    try:
        seconds = float(value) / 1000.0
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
