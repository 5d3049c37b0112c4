"""The attempt loop both clients share: sign, send, read, and after a failure decide
whether and when to try again.

Every call has a wall-clock bound: the client's ``retry_deadline``, or an earlier deadline
the caller gives (a task's). No attempt outlives it, nor the client's ``timeout``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from airflow_provider_schedulerx.config import API_VERSION, ClientConfig
from airflow_provider_schedulerx.exceptions import (
    SchedulerXAuthError,
    SchedulerXConnectionError,
    SchedulerXError,
    SchedulerXThrottledError,
)
from airflow_provider_schedulerx.rpc.aio import AsyncTransport
from airflow_provider_schedulerx.rpc.budget import URGENT_ACTIONS, CallBudget, budget_for
from airflow_provider_schedulerx.rpc.calls import ApiCall
from airflow_provider_schedulerx.rpc.protocol import (
    MAX_REMEMBERED_REQUESTS,
    PreparedRequest,
    RequestTemplate,
    parse_reply,
)
from airflow_provider_schedulerx.rpc.retries import RetryPolicy, is_idempotent

__all__ = ["AsyncEngine", "CallStats", "SyncEngine"]

log = logging.getLogger("airflow_provider_schedulerx.client")

T = TypeVar("T")
#: The service takes one ExecuteJob per job and second (its job id and schedule time are a
#: unique index): starts of one job from one process are spaced this far apart.
START_SPACING_SECONDS = 1.0


class StartSpacing:
    """Spaces the starts of each job by :data:`START_SPACING_SECONDS`, across every client
    of the process (the tasks of a fan-out share one worker process, or a few)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[tuple[str, ...], float] = {}

    def wait_turn(self, key: tuple[str, ...]) -> None:
        """Block until the job of ``key`` may be started, and take the turn."""
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._last.get(key, -START_SPACING_SECONDS) + START_SPACING_SECONDS)
            self._last[key] = turn
            if len(self._last) > 4096:
                self._last = {k: v for k, v in self._last.items() if v > now - START_SPACING_SECONDS}
        if turn > now:
            time.sleep(turn - now)


_start_spacing = StartSpacing()


class SigningKeys(Protocol):
    """One set of credentials (:class:`~airflow_provider_schedulerx.credentials.Credentials`),
    hashable (a frozen record)."""

    def __hash__(self) -> int: ...

    @property
    def access_key_id(self) -> str: ...
    @property
    def access_key_secret(self) -> str: ...
    @property
    def security_token(self) -> str | None: ...


class KeySource(Protocol):
    """Where the keys come from (a
    :class:`~airflow_provider_schedulerx.credentials.CredentialsProvider`)."""

    @property
    def refreshable(self) -> bool: ...
    def get_credentials(self) -> SigningKeys: ...
    async def get_credentials_async(self) -> SigningKeys: ...
    def invalidate(self) -> None: ...


@dataclass
class CallStats:
    """What a client has sent: attempts, retries and the time spent waiting between them."""

    calls: int = 0
    attempts: int = 0
    retries: int = 0
    retry_wait: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    def record_error(self, error: SchedulerXError) -> None:
        key = error.code or type(error).__name__
        self.errors[key] = self.errors.get(key, 0) + 1


@dataclass
class _Attempts:
    """One call's attempts so far; ``ends`` is the monotonic time by which it must be over."""

    ends: float
    retries: int = 0
    renewed_credentials: bool = False
    #: False while the credentials are obtained: a failure then left the service untouched.
    sending: bool = False
    #: The call budget the attempts draw from, once the AccessKey is known.
    budget: CallBudget | None = None


def _request_template(
    action: str,
    method: str,
    params: tuple[tuple[str, str], ...],
    endpoint: str,
    credentials: SigningKeys,
    signature_version: str,
    user_agent: str,
) -> RequestTemplate:
    """The request template of a call, laid out once for the calls that repeat it."""
    return RequestTemplate(
        action=action,
        version=API_VERSION,
        params=dict(params),
        method=method,
        endpoint=endpoint,
        access_key_id=credentials.access_key_id,
        access_key_secret=credentials.access_key_secret,
        security_token=credentials.security_token,
        signature_version=signature_version,
        user_agent=user_agent,
    )


class _Engine:
    """What the sync and async loops share: the request templates, the time left, and the
    decision after a failure."""

    def __init__(self, credentials: KeySource, config: ClientConfig) -> None:
        self.credentials = credentials
        self.config = config
        self.retry_policy = RetryPolicy(
            max_retries=config.max_retries,
            backoff=config.backoff,
            backoff_max=config.backoff_max,
        )
        self.stats = CallStats()
        self._template = functools.lru_cache(maxsize=MAX_REMEMBERED_REQUESTS)(_request_template)

    def _start(self, deadline: float | None) -> _Attempts:
        """The attempts of one call, to end within ``retry_deadline`` and by ``deadline``
        (epoch seconds), whichever comes first."""
        self.stats.calls += 1
        now = time.monotonic()
        ends = now + self.config.retry_deadline
        if deadline is not None:
            ends = min(ends, now + deadline - time.time())
        return _Attempts(ends)

    def _budget(self, credentials: SigningKeys, state: _Attempts) -> CallBudget | None:
        """The budget of the endpoint and AccessKey (``None`` when unlimited)."""
        state.budget = budget_for(
            self.config.endpoint, credentials.access_key_id, self.config.max_calls_per_second
        )
        return state.budget

    def _attempt_timeout(self, call: ApiCall[Any], state: _Attempts) -> float:
        left = state.ends - time.monotonic()
        if left <= 0:
            raise SchedulerXConnectionError(
                f"{call.action}: not sent, its deadline has passed ({self.config.endpoint})", sent=False
            )
        self.stats.attempts += 1
        return min(self.config.timeout, left)

    def _prepare(
        self, call: ApiCall[Any], params: Mapping[str, str], credentials: SigningKeys
    ) -> PreparedRequest:
        """One signed attempt of ``call``, from the call's request template (made once)."""
        config = self.config
        template = self._template(
            call.action,
            call.method,
            tuple(params.items()),
            config.endpoint,
            credentials,
            config.signature_version,
            config.user_agent,
        )
        return template.sign()

    def _after_failure(self, call: ApiCall[Any], error: SchedulerXError, state: _Attempts) -> float:
        """Seconds to wait before retrying ``call``; raises the final error instead when
        retrying is over. An expired STS token is renewed and retried once, at once."""
        self.stats.record_error(error)
        if isinstance(error, SchedulerXThrottledError) and state.budget is not None:
            state.budget.throttled()
        if (
            isinstance(error, SchedulerXAuthError)
            and (error.code or "").startswith("InvalidSecurityToken")
            and self.credentials.refreshable
            and not state.renewed_credentials
        ):
            self.credentials.invalidate()
            state.renewed_credentials = True
            return 0.0
        idempotent = is_idempotent(call.action) or not state.sending
        delay = self.retry_policy.delay(error, state.retries, state.ends - time.monotonic(), idempotent)
        if delay is None:
            raise RetryPolicy.final_error(error, call.action, idempotent)
        state.retries += 1
        self.stats.retries += 1
        self.stats.retry_wait += delay
        log.warning(
            "%s failed (%s); retry %d of %d in %.1fs",
            call.action,
            error,
            state.retries,
            self.retry_policy.max_retries,
            delay,
        )
        return delay


class SyncEngine(_Engine):
    """Runs calls over a :class:`~airflow_provider_schedulerx.rpc.sync.SyncTransport`."""

    def __init__(self, credentials: KeySource, config: ClientConfig, transport: Any) -> None:
        super().__init__(credentials, config)
        self.transport = transport

    def run(
        self, call: ApiCall[T], params: Mapping[str, str], timezone: str, *, deadline: float | None = None
    ) -> T:
        """Send ``call`` with ``params`` (with retries) and return its parsed reply."""
        state = self._start(deadline)
        starts_job = call.action == "ExecuteJob"
        while True:
            try:
                if starts_job:
                    _start_spacing.wait_turn(
                        (
                            self.config.endpoint,
                            params.get("Namespace", ""),
                            params.get("GroupId", ""),
                            params["JobId"],
                        )
                    )
                state.sending = False
                credentials = self.credentials.get_credentials()
                if budget := self._budget(credentials, state):
                    budget.acquire_blocking(call.action in URGENT_ACTIONS)
                state.sending = True
                request = self._prepare(call, params, credentials)
                reply = self.transport.send(
                    request, timeout=self._attempt_timeout(call, state), action=call.action
                )
                return call.parse(parse_reply(*reply, action=call.action), timezone)
            except SchedulerXError as error:
                failure = error
            # Waited out here, outside the handler, so that the next attempt's error does not
            # chain this one.
            time.sleep(self._after_failure(call, failure, state))


class AsyncEngine(_Engine):
    """Runs calls over an :class:`~airflow_provider_schedulerx.rpc.aio.AsyncTransport`."""

    def __init__(self, credentials: KeySource, config: ClientConfig) -> None:
        super().__init__(credentials, config)
        self.transport = AsyncTransport(
            config.endpoint, connect_timeout=config.connect_timeout, verify_ssl=config.verify_ssl
        )

    async def run(
        self, call: ApiCall[T], params: Mapping[str, str], timezone: str, *, deadline: float | None = None
    ) -> T:
        """Send ``call`` with ``params`` (with retries) and return its parsed reply."""
        state = self._start(deadline)
        while True:
            try:
                state.sending = False
                credentials = await self.credentials.get_credentials_async()
                if budget := self._budget(credentials, state):
                    await budget.acquire(call.action in URGENT_ACTIONS)
                state.sending = True
                request = self._prepare(call, params, credentials)
                reply = await self.transport.send(
                    request, timeout=self._attempt_timeout(call, state), action=call.action
                )
                return call.parse(parse_reply(*reply, action=call.action), timezone)
            except SchedulerXError as error:
                failure = error
            await asyncio.sleep(self._after_failure(call, failure, state))
