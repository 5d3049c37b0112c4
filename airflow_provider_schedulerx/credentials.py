"""Credential providers: where the AccessKey used to sign a request comes from.

A static AccessKey (optionally with an STS token), the ``ALIBABA_CLOUD_*`` environment
variables, a RAM role assumed through STS ``AssumeRole``, or RRSA/OIDC
(``AssumeRoleWithOIDC``) as pods on Alibaba Cloud Kubernetes use. Temporary credentials
are cached, refreshed ahead of expiry by one caller while others keep the cached ones, and
can be fetched from an event loop without blocking it.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_schedulerx.config import normalize_endpoint, shown, validate_count, validate_seconds
from airflow_provider_schedulerx.exceptions import SchedulerXAuthError, SchedulerXConfigError
from airflow_provider_schedulerx.rpc.sts import DEFAULT_STS_ENDPOINT

__all__ = [
    "Credentials",
    "CredentialsProvider",
    "EnvironmentCredentialsProvider",
    "OIDCRoleArnCredentialsProvider",
    "RamRoleArnCredentialsProvider",
    "StaticCredentialsProvider",
    "default_credentials_provider",
    "mask",
]

log = logging.getLogger(__name__)

#: The longest an STS call may take, from connecting to the last byte of the reply.
STS_MAX_TIMEOUT = 60.0
#: A service account token is a few KB; the file is read no further than this.
MAX_OIDC_TOKEN_BYTES = 64 * 1024
ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"
ENV_ROLE_ARN = "ALIBABA_CLOUD_ROLE_ARN"
ENV_OIDC_PROVIDER_ARN = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"
ENV_OIDC_TOKEN_FILE = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"
ENV_ROLE_SESSION_NAME = "ALIBABA_CLOUD_ROLE_SESSION_NAME"
ENV_STS_ENDPOINT = "ALIBABA_CLOUD_STS_ENDPOINT"
#: What the default chain reads from the environment.
CHAIN_ENVIRONMENT = (
    ENV_ACCESS_KEY_ID,
    ENV_ACCESS_KEY_SECRET,
    ENV_SECURITY_TOKEN,
    ENV_ROLE_ARN,
    ENV_OIDC_PROVIDER_ARN,
    ENV_OIDC_TOKEN_FILE,
    ENV_ROLE_SESSION_NAME,
    ENV_STS_ENDPOINT,
)


def mask(access_key_id: str) -> str:
    """An AccessKey ID shortened for messages: ``LTAI****abcd``."""
    if len(access_key_id) <= 8:
        return "****"
    return f"{access_key_id[:4]}****{access_key_id[-4:]}"


@dataclass(frozen=True)
class Credentials:
    """One set of credentials. The secret and token never show in ``repr``.

    :param expiration: epoch seconds after which temporary credentials stop working.
    """

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    expiration: float | None = None

    def __repr__(self) -> str:
        kind = "STS" if self.security_token else "AccessKey"
        return f"Credentials({kind} {mask(self.access_key_id)})"

    def secrets(self) -> list[str]:
        """The values to hide from logs."""
        return [value for value in (self.access_key_secret, self.security_token) if value]


class CredentialsProvider(abc.ABC):
    """Gives the credentials to sign the next request with."""

    #: Called with each secret value the provider obtains at run time (STS credentials),
    #: so that Airflow's secrets masker can hide it. Set by the hook.
    on_new_secret: Callable[[str], None] | None = None

    @abc.abstractmethod
    def get_credentials(self) -> Credentials:
        """The credentials to use now."""

    async def get_credentials_async(self) -> Credentials:
        """The credentials to use now, without blocking the event loop."""
        return self.get_credentials()

    def invalidate(self) -> None:  # noqa: B027 - a no-op unless the provider caches
        """Forget cached credentials (the service said they expired)."""

    @property
    def refreshable(self) -> bool:
        return False

    def _announce(self, credentials: Credentials) -> Credentials:
        if self.on_new_secret is not None:
            for value in credentials.secrets():
                self.on_new_secret(value)
        return credentials

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class StaticCredentialsProvider(CredentialsProvider):
    """A fixed AccessKey, with an optional STS security token."""

    def __init__(self, access_key_id: str, access_key_secret: str, security_token: str | None = None):
        if not access_key_id or not access_key_secret:
            raise SchedulerXConfigError(
                "an AccessKey ID and an AccessKey Secret are both required "
                "(the connection's login and password)"
            )
        self._credentials = Credentials(access_key_id, access_key_secret, security_token or None)

    def get_credentials(self) -> Credentials:
        return self._credentials

    def __repr__(self) -> str:
        return f"StaticCredentialsProvider({self._credentials!r})"


class EnvironmentCredentialsProvider(CredentialsProvider):
    """``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``_SECRET`` and ``ALIBABA_CLOUD_SECURITY_TOKEN``,
    read at each call so that a rotated token in the environment is picked up."""

    def get_credentials(self) -> Credentials:
        key_id = os.environ.get(ENV_ACCESS_KEY_ID)
        secret = os.environ.get(ENV_ACCESS_KEY_SECRET)
        if not key_id or not secret:
            raise SchedulerXConfigError(f"{ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET} must both be set")
        return Credentials(key_id, secret, os.environ.get(ENV_SECURITY_TOKEN) or None)

    @staticmethod
    def available() -> bool:
        return bool(os.environ.get(ENV_ACCESS_KEY_ID) and os.environ.get(ENV_ACCESS_KEY_SECRET))


class _RefreshingProvider(CredentialsProvider):
    """Caches temporary credentials and renews them before they expire.

    Renewal starts when less than ``refresh_ahead`` seconds (at most a fifth of the
    credentials' lifetime) remain. One thread renews while the others wait on the lock and
    then use the result; coroutines renew in a worker thread.
    """

    def __init__(self, *, refresh_ahead: float = 300.0, timeout: float = 10.0, verify_ssl: bool = True):
        self._refresh_ahead = refresh_ahead
        self._timeout = validate_seconds(timeout, "timeout", maximum=STS_MAX_TIMEOUT)
        self._verify_ssl = verify_ssl
        self._transport: Any = None
        self._lock = threading.Lock()
        self._cached: Credentials | None = None
        self._refresh_at = 0.0
        self.refresh_count = 0

    @property
    def refreshable(self) -> bool:
        return True

    def _is_fresh(self) -> bool:
        return self._cached is not None and time.time() < self._refresh_at

    def get_credentials(self) -> Credentials:
        if self._is_fresh():
            return self._cached  # type: ignore[return-value]
        with self._lock:
            if not self._is_fresh():
                fetched_at = time.time()
                credentials = self._fetch()
                lifetime = (credentials.expiration or fetched_at + 3600) - fetched_at
                margin = min(self._refresh_ahead, max(lifetime, 0) / 5)
                self._refresh_at = fetched_at + lifetime - margin
                self._cached = self._announce(credentials)
                self.refresh_count += 1
                log.info("Obtained temporary credentials %r, valid for %.0fs", credentials, lifetime)
            return self._cached  # type: ignore[return-value]

    async def get_credentials_async(self) -> Credentials:
        if self._is_fresh():
            return self._cached  # type: ignore[return-value]
        return await asyncio.to_thread(self.get_credentials)

    def invalidate(self) -> None:
        with self._lock:
            self._refresh_at = 0.0

    @abc.abstractmethod
    def _fetch(self) -> Credentials: ...

    def _call_sts(self, action: str, params: dict[str, Any], signer: Credentials | None) -> Credentials:
        """One STS call, within ``timeout`` seconds from connecting to the last byte; a
        redirect is refused, so that the keys and tokens go only to the STS endpoint."""
        from airflow_provider_schedulerx.rpc.sts import call_sts
        from airflow_provider_schedulerx.rpc.sync import SyncTransport

        if self._transport is None:
            self._transport = SyncTransport(
                self._sts_endpoint, connect_timeout=self._timeout, verify_ssl=self._verify_ssl
            )
        keys = None
        if signer is not None:
            keys = (signer.access_key_id, signer.access_key_secret, signer.security_token)
        return Credentials(*call_sts(self._transport, action, params, timeout=self._timeout, signer=keys))

    _sts_endpoint = DEFAULT_STS_ENDPOINT


def _duration(value: Any) -> int:
    return validate_count(value, "duration_seconds", minimum=900, maximum=43200)


def _role_arn(value: Any, setting: str = "role_arn") -> str:
    if not isinstance(value, str) or not value.startswith("acs:ram::") or len(value) > 512:
        raise SchedulerXConfigError(
            f"{setting}: expected an ARN like acs:ram::<account id>:role/<role name>, got {shown(value)}"
        )
    return value


class RamRoleArnCredentialsProvider(_RefreshingProvider):
    """Assume a RAM role with STS ``AssumeRole``, signed by a source provider's keys.

    :param source: whose AccessKey calls AssumeRole.
    :param role_arn: ``acs:ram::<account>:role/<name>``.
    :param role_session_name: names the session in ActionTrail.
    :param external_id: the role's external id, if its trust policy asks for one.
    :param duration_seconds: 900 to 43200.
    :param policy: an optional policy (JSON) that narrows the role's permissions.
    :param sts_endpoint: the STS endpoint, default ``https://sts.aliyuncs.com``.
    """

    def __init__(
        self,
        source: CredentialsProvider,
        role_arn: str,
        *,
        role_session_name: str = "airflow-schedulerx",
        external_id: str | None = None,
        duration_seconds: int = 3600,
        policy: str | None = None,
        sts_endpoint: str = DEFAULT_STS_ENDPOINT,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._source = source
        self._role_arn = _role_arn(role_arn)
        self._session_name = role_session_name or "airflow-schedulerx"
        self._external_id = external_id or None
        self._duration = _duration(duration_seconds)
        self._policy = policy or None
        self._sts_endpoint = normalize_endpoint(sts_endpoint, "sts_endpoint")

    def _fetch(self) -> Credentials:
        params = {
            "RoleArn": self._role_arn,
            "RoleSessionName": self._session_name,
            "DurationSeconds": self._duration,
            "ExternalId": self._external_id,
            "Policy": self._policy,
        }
        return self._call_sts("AssumeRole", params, self._source.get_credentials())

    def __repr__(self) -> str:
        return f"RamRoleArnCredentialsProvider(role_arn={self._role_arn!r})"


class OIDCRoleArnCredentialsProvider(_RefreshingProvider):
    """RRSA: exchange the pod's OIDC token for STS credentials (``AssumeRoleWithOIDC``).

    The token file is read at each renewal, since the kubelet rotates it.
    """

    def __init__(
        self,
        role_arn: str,
        oidc_provider_arn: str,
        oidc_token_file: str,
        *,
        role_session_name: str = "airflow-schedulerx",
        duration_seconds: int = 3600,
        sts_endpoint: str = DEFAULT_STS_ENDPOINT,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._role_arn = _role_arn(role_arn)
        self._provider_arn = _role_arn(oidc_provider_arn, "oidc_provider_arn")
        if not oidc_token_file:
            raise SchedulerXConfigError("oidc_token_file: the path of the OIDC token file is required")
        self._token_file = oidc_token_file
        self._session_name = role_session_name or "airflow-schedulerx"
        self._duration = _duration(duration_seconds)
        self._sts_endpoint = normalize_endpoint(sts_endpoint, "sts_endpoint")

    @classmethod
    def from_environment(cls, **kwargs: Any) -> OIDCRoleArnCredentialsProvider:
        return cls(
            os.environ[ENV_ROLE_ARN],
            os.environ[ENV_OIDC_PROVIDER_ARN],
            os.environ[ENV_OIDC_TOKEN_FILE],
            role_session_name=os.environ.get(ENV_ROLE_SESSION_NAME) or "airflow-schedulerx",
            sts_endpoint=kwargs.pop("sts_endpoint", None)
            or os.environ.get(ENV_STS_ENDPOINT)
            or DEFAULT_STS_ENDPOINT,
            **kwargs,
        )

    @staticmethod
    def available() -> bool:
        return all(
            os.environ.get(name) for name in (ENV_ROLE_ARN, ENV_OIDC_PROVIDER_ARN, ENV_OIDC_TOKEN_FILE)
        )

    def _fetch(self) -> Credentials:
        try:
            with open(self._token_file, "rb") as handle:
                token = handle.read(MAX_OIDC_TOKEN_BYTES + 1).decode("utf-8", "replace").strip()
        except OSError as exc:
            reason = exc.strerror
        else:
            reason = None
        if reason is not None:
            raise SchedulerXAuthError(f"cannot read the OIDC token file {self._token_file}: {reason}")
        if len(token) > MAX_OIDC_TOKEN_BYTES:
            raise SchedulerXAuthError(f"the OIDC token file {self._token_file} is larger than a token")
        if not token:
            raise SchedulerXAuthError(f"the OIDC token file {self._token_file} is empty")
        if self.on_new_secret is not None:
            self.on_new_secret(token)
        params = {
            "RoleArn": self._role_arn,
            "OIDCProviderArn": self._provider_arn,
            "OIDCToken": token,
            "RoleSessionName": self._session_name,
            "DurationSeconds": self._duration,
        }
        return self._call_sts("AssumeRoleWithOIDC", params, None)

    def __repr__(self) -> str:
        return f"OIDCRoleArnCredentialsProvider(role_arn={self._role_arn!r})"


def default_credentials_provider(**kwargs: Any) -> CredentialsProvider:
    """Alibaba's default chain, as far as a task needs it: the environment's AccessKey,
    then RRSA/OIDC from the environment.

    :raises SchedulerXConfigError: when neither is configured.
    """
    if EnvironmentCredentialsProvider.available():
        return EnvironmentCredentialsProvider()
    if OIDCRoleArnCredentialsProvider.available():
        return OIDCRoleArnCredentialsProvider.from_environment(**kwargs)
    raise SchedulerXConfigError(
        "no credentials: set the connection's login (AccessKey ID) and password "
        f"(AccessKey Secret), or the environment variables {ENV_ACCESS_KEY_ID} and "
        f"{ENV_ACCESS_KEY_SECRET}, or {ENV_ROLE_ARN}, {ENV_OIDC_PROVIDER_ARN} and "
        f"{ENV_OIDC_TOKEN_FILE} for RRSA"
    )
