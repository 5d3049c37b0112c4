"""The checks the gateway makes on every signed request: signature (V3 and V1), timestamp
window and nonce reuse."""

from __future__ import annotations

import calendar
import functools
import hmac
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from airflow_provider_schedulerx import signing
from airflow_provider_schedulerx.emulator.errors import ServiceError
from airflow_provider_schedulerx.emulator.identities import Credential, CredentialStore
from airflow_provider_schedulerx.signing import TIMESTAMP_FORMAT

__all__ = ["Authenticator", "NonceCache", "SignedRequest", "parse_timestamp"]

TIMESTAMP_WINDOW_SECONDS = 15 * 60
V3_REQUIRED_HEADERS = (
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
)
V1_REQUIRED_PARAMS = (
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
)
_V3_AUTHORIZATION = re.compile(
    r"ACS3-HMAC-SHA256\s+Credential=(?P<ak>[^,\s]+)\s*,\s*SignedHeaders=(?P<signed>[^,\s]*)"
    r"\s*,\s*Signature=(?P<signature>[0-9a-fA-F]+)"
)
_NOT_MATCHED = "Specified signature is not matched with our calculation."


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an HTTP request a signature covers, as they arrived.

    :param method: HTTP method.
    :param query: URL query parameters, decoded.
    :param form: form-body parameters, decoded (empty without a form body).
    :param headers: every header as ``(name, value)``, repeated names included.
    :param body: the raw body.
    """

    method: str
    query: Mapping[str, str]
    form: Mapping[str, str]
    headers: Sequence[tuple[str, str]]
    body: bytes


@functools.lru_cache(maxsize=256)
def parse_timestamp(value: str) -> float:
    """Epoch seconds of an ISO 8601 UTC timestamp (``2024-01-01T12:00:00Z``).

    :raises ServiceError: ``InvalidTimeStamp.Format`` when it cannot be read.
    """
    text = value.strip()
    for fmt in (TIMESTAMP_FORMAT, "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return float(calendar.timegm(datetime.strptime(text, fmt).timetuple()))
        except ValueError:
            continue
    raise ServiceError("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")


class NonceCache:
    """Signature nonces seen in the last ``ttl`` seconds, in per-minute buckets so that old
    ones are dropped wholesale and memory stays bounded by the request rate.

    :param ttl: how long a nonce is remembered.
    :param bucket_seconds: width of one bucket.
    """

    def __init__(self, ttl: float = TIMESTAMP_WINDOW_SECONDS, bucket_seconds: float = 60) -> None:
        self.ttl = ttl
        self.bucket_seconds = bucket_seconds
        self._buckets: deque[tuple[float, set[int]]] = deque()
        self._lock = threading.Lock()

    def check_and_add(self, nonce: str, now: float) -> bool:
        """Remember ``nonce``; return False if it was already seen within the ttl."""
        key = hash(nonce)
        with self._lock:
            while self._buckets and self._buckets[0][0] + self.bucket_seconds + self.ttl < now:
                self._buckets.popleft()
            for _, bucket in self._buckets:
                if key in bucket:
                    return False
            if not self._buckets or self._buckets[-1][0] + self.bucket_seconds <= now:
                self._buckets.append((now, set()))
            self._buckets[-1][1].add(key)
            return True

    def __len__(self) -> int:
        with self._lock:
            return sum(len(bucket) for _, bucket in self._buckets)


def _header_map(headers: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name.lower(), []).append(value)
    return grouped


def _not_matched(string_to_sign: str) -> ServiceError:
    return ServiceError(
        "SignatureDoesNotMatch",
        f"{_NOT_MATCHED} server string to sign is:{string_to_sign}",
    )


class Authenticator:
    """Verifies V3 (ACS3-HMAC-SHA256) and V1 (HMAC-SHA1) signed requests.

    :param store: the accepted credentials.
    :param nonces: the nonce memory.
    :param clock: epoch-seconds clock.
    :param window: accepted clock difference, in seconds, either way.
    """

    def __init__(
        self,
        store: CredentialStore,
        nonces: NonceCache | None = None,
        clock: Callable[[], float] = time.time,
        window: float = TIMESTAMP_WINDOW_SECONDS,
    ) -> None:
        self.store = store
        self.nonces = nonces or NonceCache(ttl=window)
        self.clock = clock
        self.window = window

    def claimed_access_key(self, request: SignedRequest) -> str | None:
        """The AccessKey id a request claims, without checking anything (for logs)."""
        for name, value in request.headers:
            if name.lower() == "authorization":
                match = _V3_AUTHORIZATION.match(value.strip())
                return match.group("ak") if match else None
        return request.query.get("AccessKeyId") or request.form.get("AccessKeyId")

    def verify(self, request: SignedRequest) -> Credential:
        """Check a request's signature, credentials, timestamp and nonce.

        :returns: the credential it was signed with.
        :raises ServiceError: with the gateway's code for the first problem found.
        """
        headers = _header_map(request.headers)
        authorization = headers.get("authorization")
        if authorization:
            return self._verify_v3(request, headers, authorization[0])
        return self._verify_v1(request)

    def _credential(self, access_key_id: str, token: str | None) -> Credential:
        credential = self.store.get(access_key_id)
        if credential is None:
            raise ServiceError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        if credential.is_sts or token:
            if (
                not credential.is_sts
                or token is None
                or not hmac.compare_digest(
                    token.encode(),
                    (credential.security_token or "").encode(),
                )
            ):
                raise ServiceError(
                    "InvalidSecurityToken.Mismatch",
                    "Specified SecurityToken mismatch with the AccessKey.",
                )
            if credential.expires_at is not None and credential.expires_at <= self.clock():
                raise ServiceError("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
        return credential

    def _check_timestamp(self, value: str) -> None:
        if abs(self.clock() - parse_timestamp(value)) > self.window:
            raise ServiceError("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")

    def _check_nonce(self, nonce: str) -> None:
        if not self.nonces.check_and_add(nonce, self.clock()):
            raise ServiceError("SignatureNonceUsed", "Specified signature nonce was used already.")

    def _verify_v3(
        self, request: SignedRequest, headers: dict[str, list[str]], authorization: str
    ) -> Credential:
        match = _V3_AUTHORIZATION.fullmatch(authorization.strip())
        if match is None:
            raise ServiceError(
                "IncompleteSignature", "The request signature does not conform to Aliyun standards."
            )
        signed = sorted({name.strip().lower() for name in match.group("signed").split(";")} - {""})
        missing = [name for name in V3_REQUIRED_HEADERS if name not in signed]
        if "x-acs-security-token" in headers and "x-acs-security-token" not in signed:
            missing.append("x-acs-security-token")
        absent = [name for name in signed if name not in headers]
        if missing or absent:
            detail = ", ".join(missing + absent)
            raise ServiceError(
                "IncompleteSignature",
                f"The request signature does not conform to Aliyun standards ({detail}).",
            )
        token = headers.get("x-acs-security-token", [None])[0]
        credential = self._credential(match.group("ak"), token)
        self._check_timestamp(headers["x-acs-date"][0])
        claimed_hash = headers["x-acs-content-sha256"][0].strip().lower()
        if not hmac.compare_digest(claimed_hash, signing.sha256_hex(request.body)):
            raise ServiceError(
                "SignatureDoesNotMatch",
                "The x-acs-content-sha256 header does not match the SHA-256 of the request body.",
            )
        canonical_headers = "".join(
            f"{name}:{','.join(sorted(v.strip() for v in headers[name]))}\n" for name in signed
        )
        signed_line = ";".join(signed)
        canonical_request = "\n".join(
            (
                request.method.upper(),
                "/",
                signing.canonical_query(request.query),
                canonical_headers,
                signed_line,
                claimed_hash,
            )
        )
        expected = signing.v3_authorization(
            credential.access_key_id, signed_line, canonical_request, credential.access_key_secret
        ).rsplit("Signature=", 1)[1]
        if not hmac.compare_digest(expected, match.group("signature").lower()):
            digest = signing.sha256_hex(canonical_request.encode())
            raise _not_matched(f"{signing.V3_ALGORITHM}\n{digest}")
        self._check_nonce(headers["x-acs-signature-nonce"][0])
        return credential

    def _verify_v1(self, request: SignedRequest) -> Credential:
        params = {**request.query, **request.form}
        for name in V1_REQUIRED_PARAMS:
            if not params.get(name):
                raise ServiceError(f"Missing{name}", f"{name} is mandatory for this action.")
        if params["SignatureMethod"] != signing.V1_SIGNATURE_METHOD:
            raise ServiceError(
                "InvalidSignatureMethod",
                f"Specified signature method is not valid: {params['SignatureMethod']}",
            )
        if params["SignatureVersion"] != "1.0":
            raise ServiceError(
                "InvalidSignatureVersion",
                f"Specified signature version is not valid: {params['SignatureVersion']}",
            )
        credential = self._credential(params["AccessKeyId"], params.get("SecurityToken"))
        self._check_timestamp(params["Timestamp"])
        signature = params.pop("Signature")
        expected = signing.sign_v1(request.method, params, credential.access_key_secret)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            if "SecurityToken" in params:
                params["SecurityToken"] = "******"
            raise _not_matched(signing.v1_string_to_sign(request.method, params))
        self._check_nonce(params["SignatureNonce"])
        return credential
