"""Errors raised by the SchedulerX client, hook and emulator.

Every error carries what the service said (``code``, ``message``, ``request_id``,
``http_status``) so that a DAG author can act on it and support can trace it. None of them
ever holds a secret: the client builds them from response bodies, never from requests.
"""

from __future__ import annotations

__all__ = [
    "SchedulerXAPIError",
    "SchedulerXAuthError",
    "SchedulerXBusinessError",
    "SchedulerXConfigError",
    "SchedulerXConnectionError",
    "SchedulerXError",
    "SchedulerXOutcomeUnknownError",
    "SchedulerXResponseError",
    "SchedulerXRetryableError",
    "SchedulerXServerError",
    "SchedulerXStartCollisionError",
    "SchedulerXThrottledError",
]


class SchedulerXError(Exception):
    """Base class of every error this provider raises.

    :param message: what went wrong, in words a DAG author understands.
    :param code: the service's error code (``SignatureDoesNotMatch``, ``Throttling.User``...).
    :param request_id: the service's ``RequestId``, for Alibaba Cloud support.
    :param http_status: the HTTP status of the response, if there was one.
    :param recommend: the gateway's ``Recommend`` link (a diagnosis page), if any.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        recommend: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id
        self.http_status = http_status
        self.recommend = recommend

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}" if self.code else self.message
        details = []
        if self.http_status is not None:
            details.append(f"HTTP {self.http_status}")
        if self.request_id:
            details.append(f"RequestId {self.request_id}")
        return f"{text} ({', '.join(details)})" if details else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self):
        # Keyword-only arguments would otherwise be lost when the error crosses a process
        # boundary (the triggerer, a forked task runner).
        state = {
            "code": self.code,
            "request_id": self.request_id,
            "http_status": self.http_status,
            "recommend": self.recommend,
        }
        return (_rebuild_error, (type(self), self.message, state))


def _rebuild_error(cls: type[SchedulerXError], message: str, state: dict) -> SchedulerXError:
    return cls(message, **state)


class SchedulerXConfigError(SchedulerXError, ValueError):
    """Bad input (an id, a namespace, an endpoint, a setting), found before any call is made."""


class SchedulerXAPIError(SchedulerXError):
    """The service answered, and the answer is an error."""


class SchedulerXAuthError(SchedulerXAPIError):
    """Signature, AccessKey, STS token or RAM permission problem. Never retried."""


class SchedulerXBusinessError(SchedulerXAPIError):
    """The service refused the request itself (``Success: false``, a missing parameter, an
    unknown job). Never retried."""


class SchedulerXRetryableError(SchedulerXError):
    """A failure that may pass if the same request is sent again later."""

    retryable = True


class SchedulerXThrottledError(SchedulerXRetryableError, SchedulerXAPIError):
    """Flow control (``Throttling``, ``Throttling.User``, ``Throttling.Api``).

    :param retry_after: seconds the service asked to wait (``x-acs-retry-after``), if any.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class SchedulerXStartCollisionError(SchedulerXThrottledError):
    """``ExecuteJob`` refused because the job already has an instance scheduled in the same
    second (job id and schedule time are unique on the service's side). Nothing was started;
    sent again a second later, it goes through."""


class SchedulerXServerError(SchedulerXRetryableError, SchedulerXAPIError):
    """HTTP 5xx, ``ServiceUnavailable`` or ``InternalError``."""


class SchedulerXConnectionError(SchedulerXRetryableError):
    """The request could not be completed: connection refused or reset, DNS, TLS, timeout.

    :param sent: False when the request surely never reached the service (the connection was
        refused before anything was written), so that even a non-idempotent call may be sent
        again.
    """

    def __init__(self, message: str, *, sent: bool = True, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(message, **kwargs)
        self.sent = sent


class SchedulerXResponseError(SchedulerXRetryableError):
    """The service's answer could not be read (not JSON, or not the shape of a reply)."""


class SchedulerXOutcomeUnknownError(SchedulerXError):
    """A call that must not run twice (``ExecuteJob``) failed after it may have reached the
    service, so whether it took effect is unknown. Check the job's instances before trying
    again."""
