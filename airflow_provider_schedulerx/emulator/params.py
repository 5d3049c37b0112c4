"""What an action handler is given: typed access to the request's parameters, and the
emulator's parts it may use."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_schedulerx.emulator.errors import ServiceError
from airflow_provider_schedulerx.emulator.identities import Credential, CredentialStore, OidcRegistry
from airflow_provider_schedulerx.emulator.store import EmulatorState
from airflow_provider_schedulerx.emulator.views import Views

__all__ = ["CallContext", "Handler", "Params"]


class Params:
    """Typed access to a request's parameters, raising the gateway's errors."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise ServiceError(f"Missing{name}", f"{name} is mandatory for this action.")
            return None
        return value

    def long(self, name: str, *, required: bool = False) -> int | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        try:
            return int(value.strip())
        except ValueError:
            raise ServiceError(
                "InvalidParameter",
                f'The specified parameter "{name}" is not valid.',
            ) from None

    def boolean(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ServiceError("InvalidParameter", f'The specified parameter "{name}" is not valid.')


@dataclass
class CallContext:
    """What a handler may use besides the parameters."""

    state: EmulatorState
    views: Views
    store: CredentialStore
    oidc: OidcRegistry
    executions: Counter[int]
    credential: Credential | None = None


Handler = Callable[[CallContext, Params], dict[str, Any] | None]
