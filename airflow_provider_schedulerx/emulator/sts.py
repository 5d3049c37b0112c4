"""The STS actions the emulator serves: AssumeRole and AssumeRoleWithOIDC."""

from __future__ import annotations

import re
import secrets
from typing import Any

from airflow_provider_schedulerx.emulator.errors import ServiceError
from airflow_provider_schedulerx.emulator.identities import (
    STS_MAX_DURATION,
    STS_MIN_DURATION,
    format_timestamp,
)
from airflow_provider_schedulerx.emulator.params import CallContext, Handler, Params

__all__ = ["STS_ACTIONS", "STS_VERSION", "UNSIGNED_ACTIONS"]

STS_VERSION = "2015-04-01"
_ROLE_ARN = re.compile(r"acs:ram::(?P<account>\d+):role/(?P<role>[\w.@+=,-]{1,64})", re.IGNORECASE)
_SESSION_NAME = re.compile(r"[\w.@-]{2,64}")


def _duration(p: Params) -> int:
    duration = p.long("DurationSeconds")
    if duration is None:
        return 3600
    if not STS_MIN_DURATION <= duration <= STS_MAX_DURATION:
        raise ServiceError(
            "InvalidParameter.DurationSeconds",
            f"The Min/Max value of DurationSeconds is {STS_MIN_DURATION}s/{STS_MAX_DURATION}s.",
        )
    return duration


def _role(p: Params) -> tuple[str, str, str]:
    role_arn = p.text("RoleArn", required=True) or ""
    match = _ROLE_ARN.fullmatch(role_arn)
    if match is None:
        raise ServiceError("InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")
    session = p.text("RoleSessionName", required=True) or ""
    if _SESSION_NAME.fullmatch(session) is None:
        raise ServiceError(
            "InvalidParameter.RoleSessionName",
            "The parameter RoleSessionName is wrongly formed.",
        )
    return role_arn, match.group("role"), session


def _sts_reply(ctx: CallContext, role_arn: str, session: str, duration: int) -> dict[str, Any]:
    credential = ctx.store.issue_sts(role_arn, session, duration)
    assert credential.expires_at is not None
    return {
        "AssumedRoleUser": {
            "Arn": f"{role_arn}/{session}",
            "AssumedRoleId": f"3{secrets.randbelow(10**17):017d}:{session}",
        },
        "Credentials": {
            "AccessKeyId": credential.access_key_id,
            "AccessKeySecret": credential.access_key_secret,
            "SecurityToken": credential.security_token,
            "Expiration": format_timestamp(credential.expires_at),
        },
    }


def assume_role(ctx: CallContext, p: Params) -> dict[str, Any]:
    role_arn, _, session = _role(p)
    return _sts_reply(ctx, role_arn, session, _duration(p))


def assume_role_with_oidc(ctx: CallContext, p: Params) -> dict[str, Any]:
    provider_arn = p.text("OIDCProviderArn", required=True) or ""
    token = p.text("OIDCToken", required=True) or ""
    role_arn, _, session = _role(p)
    duration = _duration(p)
    claims = ctx.oidc.verify(provider_arn, token)
    reply = _sts_reply(ctx, role_arn, session, duration)
    reply["OIDCTokenInfo"] = {
        "Subject": claims["sub"],
        "Issuer": claims["iss"],
        "ClientIds": claims["aud"],
    }
    return reply


STS_ACTIONS: dict[str, Handler] = {
    "AssumeRole": assume_role,
    "AssumeRoleWithOIDC": assume_role_with_oidc,
}

UNSIGNED_ACTIONS = frozenset({"AssumeRoleWithOIDC"})
