"""Who may call the emulator: static AccessKeys, the STS credentials it issues, and the OIDC
tokens its STS trusts."""

from __future__ import annotations

import base64
import json
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from airflow_provider_schedulerx.emulator.errors import ServiceError
from airflow_provider_schedulerx.signing import TIMESTAMP_FORMAT

__all__ = ["Credential", "CredentialStore", "OidcRegistry", "format_timestamp"]

STS_MIN_DURATION = 900
STS_MAX_DURATION = 43200
EXPIRED_STS_RETENTION = 24 * 3600
ISSUED_STS_KEPT = 1000
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_OIDC_PROVIDER_ARN = f"acs:ram::{DEFAULT_ACCOUNT_ID}:oidc-provider/ack-rrsa-demo"
_ALPHANUMERIC = string.ascii_letters + string.digits


def format_timestamp(epoch: float) -> str:
    """``epoch`` as STS writes an expiration (UTC)."""
    return time.strftime(TIMESTAMP_FORMAT, time.gmtime(epoch))


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


def _random_text(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


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

        :raises ServiceError: unknown provider, or a token it did not issue.
        """
        if provider_arn != self.provider_arn:
            raise ServiceError("AuthenticationFail.NoPermission", "No such OIDC Provider registered.", 401)
        if not token:
            raise ServiceError("AuthenticationFail.OIDCToken.Invalid", "The OIDCToken can not empty.", 401)
        with self._lock:
            claims = self._tokens.get(token)
        if claims is None:
            raise ServiceError(
                "AuthenticationFail.OIDCToken.Invalid",
                "The Jwt content is invalid that cannot be recognized.",
                401,
            )
        return claims
