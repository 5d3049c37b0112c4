"""The connection form's Test button: one read-only call, a quick answer, and a reason a
person can act on when it fails.

The UI waits for the answer while the user looks at a spinner, so the call gets short
timeouts, at most one quick retry and an answer within :data:`ANSWER_WITHIN` seconds whatever
the endpoint does; every failure is told in terms of the form's fields (AccessKey, Endpoint,
Namespace ID...). The reply never carries a secret.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from airflow_provider_schedulerx.exceptions import (
    SchedulerXAuthError,
    SchedulerXBusinessError,
    SchedulerXConfigError,
    SchedulerXConnectionError,
    SchedulerXError,
    SchedulerXThrottledError,
)

if TYPE_CHECKING:
    from airflow_provider_schedulerx.config import ClientConfig
    from airflow_provider_schedulerx.hooks.connection import ConnectionSettings

__all__ = ["ANSWER_WITHIN", "check_connection", "failure_reason", "quick_config"]

#: Seconds within which the Test button answers.
ANSWER_WITHIN = 10.0
READ_TIMEOUT = 4.0
CONNECT_TIMEOUT = 3.0


def quick_config(config: ClientConfig) -> ClientConfig:
    """``config`` with the short timeouts and the single quick retry of a Test."""
    return replace(
        config,
        max_retries=1,
        timeout=min(config.timeout, READ_TIMEOUT),
        connect_timeout=min(config.connect_timeout, CONNECT_TIMEOUT),
        retry_deadline=ANSWER_WITHIN - 1.0,
    )


def check_connection(settings: ConnectionSettings, client_kwargs: dict[str, Any]) -> tuple[bool, str]:
    """Check credentials, endpoint, namespace and group with ``ListJobs`` (or
    ``ListNamespaces`` when neither namespace nor group is set)."""
    from airflow_provider_schedulerx.client import SchedulerXClient
    from airflow_provider_schedulerx.rpc import actions

    deadline = time.time() + ANSWER_WITHIN - 0.5
    quick = replace(settings, config=quick_config(settings.config))  # also for STS AssumeRole
    where = f"{quick.config.endpoint} ({quick.config.region_id})"
    namespace, group_id = client_kwargs.get("namespace"), client_kwargs.get("group_id")
    notes = "".join(f". Note: {warning}" for warning in settings.warnings)
    try:
        with SchedulerXClient(quick.credentials_provider(), quick.config, **client_kwargs) as client:
            if namespace or group_id:
                jobs = client.run(actions.list_jobs(), deadline=deadline)
                return True, (
                    f"Connected to SchedulerX at {where}: namespace {namespace}, group {group_id}, "
                    f"{len(jobs)} job(s){notes}"
                )
            namespaces = client.run(actions.list_namespaces(), deadline=deadline)
            return True, (
                f"Connected to SchedulerX at {where}: {len(namespaces)} namespace(s); "
                f"set the namespace and group ID extras to use them by default{notes}"
            )
    except Exception as error:  # the Test button shows any failure as text
        reason = failure_reason(error, where, namespace=namespace, group_id=group_id)
        return False, _without_secrets(reason + notes, settings)


def failure_reason(
    error: BaseException, where: str, *, namespace: str | None = None, group_id: str | None = None
) -> str:
    """What went wrong, named by the form field to look at."""
    if isinstance(error, SchedulerXAuthError):
        return f"SchedulerX at {where} refused the credentials: {error}"
    if isinstance(error, SchedulerXBusinessError) and (namespace or group_id):
        return (
            f"The credentials work, but SchedulerX at {where} refused namespace {namespace!r} "
            f"and group {group_id!r}: {error}. Check the Namespace ID and Application group ID"
        )
    if isinstance(error, SchedulerXThrottledError):
        return f"SchedulerX at {where} is throttling requests, try again shortly: {error}"
    if isinstance(error, SchedulerXConnectionError):
        return (
            f"Cannot reach SchedulerX at {where}: {error}. Check the Endpoint, Region and "
            "Network fields, and that this Airflow host can reach that address"
        )
    if isinstance(error, SchedulerXConfigError):
        return f"The connection's settings are not valid: {error}"
    if isinstance(error, SchedulerXError):
        return f"SchedulerX at {where} answered with an error: {error}"
    return f"{type(error).__name__}: {error}"


def _without_secrets(text: str, settings: ConnectionSettings) -> str:
    for secret in (settings.access_key_secret, settings.security_token):
        if secret:
            text = text.replace(secret, "***")
    return text
