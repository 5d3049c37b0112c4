"""Who may call the emulator: AccessKeys, STS credentials, OIDC tokens, and the checks the
gateway makes on every signed request (signature, timestamp window, nonce reuse)."""

from __future__ import annotations

import base64
import calendar
import functools
import hmac
import json
import re
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from airflow_provider_schedulerx import signing

__all__ = [
    "AuthError",
    "Authenticator",
    "Credential",
    "CredentialStore",
    "NonceCache",
    "OidcRegistry",
    "SignedRequest",
]

TIMESTAMP_WINDOW_SECONDS = 15 * 60
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
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
STS_MIN_DURATION = 900
STS_MAX_DURATION = 43200
EXPIRED_STS_RETENTION = 24 * 3600
ISSUED_STS_KEPT = 1000
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_OIDC_PROVIDER_ARN = f"acs:ram::{DEFAULT_ACCOUNT_ID}:oidc-provider/ack-rrsa-demo"

_V3_AUTHORIZATION = re.compile(
    r"ACS3-HMAC-SHA256\s+Credential=(?P<ak>[^,\s]+)\s*,\s*SignedHeaders=(?P<signed>[^,\s]*)"
    r"\s*,\s*Signature=(?P<signature>[0-9a-fA-F]+)"
)
_ALPHANUMERIC = string.ascii_letters + string.digits
_NOT_MATCHED = "Specified signature is not matched with our calculation."


class AuthError(Exception):
    """A request the gateway refuses before the action runs.

    :param code: the gateway's error code (``SignatureDoesNotMatch``...).
    :param message: the gateway's message.
    :param http_status: HTTP status of the reply.
    """

    def __init__(self, code: str, message: str, http_status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


@dataclass(frozen=True)
class Credential:
    """An AccessKey the emulator accepts: static, or issued by its STS."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    role_arn: str | None = None
    session_name: str | None = None

    @property
    def is_sts(self) -> bool:
        return self.security_token is not None


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


def _random_text(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


@functools.lru_cache(maxsize=256)
def parse_timestamp(value: str) -> float:
    """Epoch seconds of an ISO 8601 UTC timestamp (``2024-01-01T12:00:00Z``).

    :raises AuthError: ``InvalidTimeStamp.Format`` when it cannot be read.
    """
    text = value.strip()
    for fmt in (TIMESTAMP_FORMAT, "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return float(calendar.timegm(datetime.strptime(text, fmt).timetuple()))
        except ValueError:
            continue
    raise AuthError(
        "InvalidTimeStamp.Format",
        "Specified time stamp or date value is not well formatted.",
    )


def format_timestamp(epoch: float) -> str:
    return time.strftime(TIMESTAMP_FORMAT, time.gmtime(epoch))


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


class CredentialStore:
    """Static AccessKeys and the STS credentials the emulator has issued.

    :param clock: epoch-seconds clock.
    :param sts_max_lifetime: cap on the lifetime of issued STS credentials, in seconds.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        sts_max_lifetime: float | None = None,
    ) -> None:
        self.clock = clock
        self.sts_max_lifetime = sts_max_lifetime
        self._keys: dict[str, Credential] = {}
        self._lock = threading.Lock()
        #: The latest STS credentials issued, newest last (for tests that look for leaks).
        self.issued: deque[Credential] = deque(maxlen=ISSUED_STS_KEPT)

    def add_access_key(self, access_key_id: str, access_key_secret: str) -> None:
        """Accept one more static AccessKey."""
        if not access_key_id or not access_key_secret:
            raise ValueError("an AccessKey needs both an id and a secret")
        with self._lock:
            self._keys[access_key_id] = Credential(access_key_id, access_key_secret)

    def get(self, access_key_id: str) -> Credential | None:
        with self._lock:
            return self._keys.get(access_key_id)

    def issue_sts(self, role_arn: str, session_name: str, duration: int) -> Credential:
        """Issue STS credentials valid for ``duration`` seconds (capped by
        ``sts_max_lifetime``)."""
        now = self.clock()
        lifetime = float(duration)
        if self.sts_max_lifetime is not None:
            lifetime = min(lifetime, self.sts_max_lifetime)
        credential = Credential(
            access_key_id=f"STS.{_random_text(28)}",
            access_key_secret=_random_text(44),
            security_token="CAIS" + base64.b64encode(secrets.token_bytes(96)).decode(),
            expires_at=now + lifetime,
            role_arn=role_arn,
            session_name=session_name,
        )
        with self._lock:
            stale = [
                ak
                for ak, cred in self._keys.items()
                if cred.expires_at is not None and cred.expires_at + EXPIRED_STS_RETENTION < now
            ]
            for ak in stale:
                del self._keys[ak]
            self._keys[credential.access_key_id] = credential
            self.issued.append(credential)
        return credential


class OidcRegistry:
    """The OIDC provider the emulator's STS trusts and the tokens it accepts from it.

    :param provider_arn: ARN of the one registered OIDC provider.
    :param tokens: tokens accepted as they are.
    """

    def __init__(self, provider_arn: str, tokens: Iterable[str] = ()) -> None:
        self.provider_arn = provider_arn
        self._tokens: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        for token in tokens:
            self.add_token(token)

    def add_token(self, token: str, subject: str = "unknown", issuer: str = "") -> None:
        with self._lock:
            self._tokens[token] = {"sub": subject, "iss": issuer, "aud": "sts.aliyuncs.com"}

    def issue_token(
        self,
        subject: str = "system:serviceaccount:airflow:airflow-worker",
        issuer: str = "https://oidc-ack.cn-hangzhou.aliyuncs.com/emulator",
        audience: str = "sts.aliyuncs.com",
    ) -> str:
        """Make a JWT-shaped token and accept it from now on."""

        def part(data: Mapping[str, object]) -> str:
            raw = json.dumps(data, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        now = int(time.time())
        claims = {"iss": issuer, "sub": subject, "aud": audience, "iat": now, "exp": now + 3600}
        signature = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        token = f"{part({'alg': 'RS256', 'kid': 'emulator'})}.{part(claims)}.{signature}"
        with self._lock:
            self._tokens[token] = {"sub": subject, "iss": issuer, "aud": audience}
        return token

    def verify(self, provider_arn: str, token: str) -> dict[str, str]:
        """The claims of an accepted token.

        :raises AuthError: unknown provider, or a token it did not issue.
        """
        if provider_arn != self.provider_arn:
            raise AuthError(
                "AuthenticationFail.NoPermission",
                "No such OIDC Provider registered.",
                401,
            )
        if not token:
            raise AuthError(
                "AuthenticationFail.OIDCToken.Invalid",
                "The OIDCToken can not empty.",
                401,
            )
        with self._lock:
            claims = self._tokens.get(token)
        if claims is None:
            raise AuthError(
                "AuthenticationFail.OIDCToken.Invalid",
                "The Jwt content is invalid that cannot be recognized.",
                401,
            )
        return claims


def _header_map(headers: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name.lower(), []).append(value)
    return grouped


def _not_matched(string_to_sign: str) -> AuthError:
    return AuthError(
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
        :raises AuthError: with the gateway's code for the first problem found.
        """
        headers = _header_map(request.headers)
        authorization = headers.get("authorization")
        if authorization:
            return self._verify_v3(request, headers, authorization[0])
        return self._verify_v1(request)

    def _credential(self, access_key_id: str, token: str | None) -> Credential:
        credential = self.store.get(access_key_id)
        if credential is None:
            raise AuthError(
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
                404,
            )
        if credential.is_sts or token:
            if (
                not credential.is_sts
                or token is None
                or not hmac.compare_digest(
                    token.encode(),
                    (credential.security_token or "").encode(),
                )
            ):
                raise AuthError(
                    "InvalidSecurityToken.Mismatch",
                    "Specified SecurityToken mismatch with the AccessKey.",
                )
            if credential.expires_at is not None and credential.expires_at <= self.clock():
                raise AuthError(
                    "InvalidSecurityToken.Expired",
                    "Specified SecurityToken is expired.",
                )
        return credential

    def _check_timestamp(self, value: str) -> None:
        if abs(self.clock() - parse_timestamp(value)) > self.window:
            raise AuthError(
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date value is expired.",
            )

    def _check_nonce(self, nonce: str) -> None:
        if not self.nonces.check_and_add(nonce, self.clock()):
            raise AuthError("SignatureNonceUsed", "Specified signature nonce was used already.")

    def _verify_v3(
        self, request: SignedRequest, headers: dict[str, list[str]], authorization: str
    ) -> Credential:
        match = _V3_AUTHORIZATION.fullmatch(authorization.strip())
        if match is None:
            raise AuthError(
                "IncompleteSignature", "The request signature does not conform to Aliyun standards."
            )
        signed = sorted({name.strip().lower() for name in match.group("signed").split(";")} - {""})
        missing = [name for name in V3_REQUIRED_HEADERS if name not in signed]
        if "x-acs-security-token" in headers and "x-acs-security-token" not in signed:
            missing.append("x-acs-security-token")
        absent = [name for name in signed if name not in headers]
        if missing or absent:
            detail = ", ".join(missing + absent)
            raise AuthError(
                "IncompleteSignature",
                f"The request signature does not conform to Aliyun standards ({detail}).",
            )
        token = headers.get("x-acs-security-token", [None])[0]
        credential = self._credential(match.group("ak"), token)
        self._check_timestamp(headers["x-acs-date"][0])
        claimed_hash = headers["x-acs-content-sha256"][0].strip().lower()
        if not hmac.compare_digest(claimed_hash, signing.sha256_hex(request.body)):
            raise AuthError(
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
                raise AuthError(f"Missing{name}", f"{name} is mandatory for this action.")
        if params["SignatureMethod"] != signing.V1_SIGNATURE_METHOD:
            raise AuthError(
                "InvalidSignatureMethod",
                f"Specified signature method is not valid: {params['SignatureMethod']}",
            )
        if params["SignatureVersion"] != "1.0":
            raise AuthError(
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
