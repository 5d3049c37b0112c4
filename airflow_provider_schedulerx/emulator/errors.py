"""The one error type of the emulator: a refusal, as the service words it."""

from __future__ import annotations

__all__ = ["ServiceError"]


class ServiceError(Exception):
    """A request the emulator refuses, as the real service would.

    A gateway refusal has a text code (``MissingJobId``, ``SignatureDoesNotMatch``...) and an
    HTTP error status; a business refusal (:meth:`business`) has an integer code and comes
    with HTTP 200 and ``Success: false``.

    :param code: the error code.
    :param message: the error message.
    :param http_status: the HTTP status of the reply.
    """

    def __init__(self, code: str | int, message: str, http_status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status

    @classmethod
    def business(cls, code: int, message: str) -> ServiceError:
        """A refusal the service reports with HTTP 200 and ``Success: false``.

        :param code: the body's integer ``Code`` (400, 404, 500...).
        :param message: the body's ``Message``.
        """
        return cls(code, message, http_status=200)

    @property
    def is_business(self) -> bool:
        return self.http_status == 200
