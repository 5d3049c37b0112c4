"""One call of the catalogue: its action, parameters, scope, and how its reply is read.
The clients run these; :mod:`~airflow_provider_schedulerx.rpc.actions` builds them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from airflow_provider_schedulerx.config import validate_name

__all__ = ["ApiCall", "Scope", "scope_of", "whole_reply"]

T = TypeVar("T")


@dataclass(frozen=True)
class Scope:
    """The namespace, group and namespace source of one call, where not the client's own."""

    namespace: str | None = None
    group_id: str | None = None
    namespace_source: str | None = None


@dataclass(frozen=True)
class ApiCall(Generic[T]):
    """One action: its parameters, and how to read its reply.

    :param parse: reads the reply (a dict) in the service's time zone (the second argument).
    :param scoped: add the namespace, group and region parameters.
    """

    action: str
    params: Mapping[str, Any]
    parse: Callable[[dict[str, Any], str], T]
    method: str = "GET"
    scoped: bool = True
    scope: Scope = field(default_factory=Scope)


def whole_reply(reply: dict[str, Any], timezone: str) -> dict[str, Any]:
    return reply


def scope_of(namespace: str | None, group_id: str | None, namespace_source: str | None) -> Scope:
    """A call's own scope: what it leaves out (``None``) is the client's; what it gives must
    be valid, as a template that rendered to nothing is not."""
    return Scope(
        None if namespace is None else validate_name(namespace, "namespace"),
        None if group_id is None else validate_name(group_id, "group_id"),
        None if namespace_source is None else validate_name(namespace_source, "namespace_source"),
    )
