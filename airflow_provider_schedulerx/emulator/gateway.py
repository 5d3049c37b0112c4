"""The emulator's HTTP side: an aiohttp app answering like the SchedulerX and STS gateways,
with the faults it is told to inject."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from airflow_provider_schedulerx.emulator import faults as fault_kinds
from airflow_provider_schedulerx.emulator.actions import (
    SCHEDULERX_ACTIONS,
    SCHEDULERX_VERSION,
    UNIMPLEMENTED_ACTIONS,
)
from airflow_provider_schedulerx.emulator.auth import Authenticator, SignedRequest
from airflow_provider_schedulerx.emulator.errors import ServiceError
from airflow_provider_schedulerx.emulator.faults import FaultRule, Faults
from airflow_provider_schedulerx.emulator.flow_control import FlowControl
from airflow_provider_schedulerx.emulator.identities import Credential, OidcRegistry
from airflow_provider_schedulerx.emulator.params import CallContext, Params
from airflow_provider_schedulerx.emulator.stats import EmulatorStats
from airflow_provider_schedulerx.emulator.store import EmulatorState
from airflow_provider_schedulerx.emulator.sts import STS_ACTIONS, STS_VERSION, UNSIGNED_ACTIONS
from airflow_provider_schedulerx.emulator.views import Views

__all__ = ["EmulatorStats", "Gateway", "build_app"]

logger = logging.getLogger("airflow_provider_schedulerx.emulator")

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
OK = "OK"
THROTTLING_CODE = "Throttling.User"
THROTTLING_MESSAGE = "Request was denied due to user flow control."


class _Reply:
    """A reply being built: status, JSON body, headers, and what to log."""

    __slots__ = ("authenticated", "body", "code", "faulted", "headers", "status")

    def __init__(
        self,
        status: int,
        body: dict[str, Any],
        code: str,
        authenticated: bool = False,
    ) -> None:
        self.status = status
        self.body = body
        self.code = code
        self.headers: dict[str, str] = {}
        self.authenticated = authenticated
        self.faulted = False


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


def _gateway_error(
    request_id: str,
    host: str,
    product: str,
    code: str,
    message: str,
    status: int,
) -> _Reply:
    body = {
        "RequestId": request_id,
        "HostId": host,
        "Code": code,
        "Message": message,
        "Recommend": (
            f"https://api.aliyun.com/troubleshoot?q={code}&product={product}&requestId={request_id}"
        ),
    }
    return _Reply(status, body, code)


def _abort(request: web.Request) -> None:
    """Drop the connection with a TCP reset, writing nothing."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


async def _cut(request: web.Request, reply: _Reply, text: str) -> None:
    """Send the reply's status, headers and the first half of its body, then drop the
    connection."""
    body = text.encode()
    response = web.StreamResponse(status=reply.status, headers=reply.headers)
    response.content_type, response.charset = "application/json", "utf-8"
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    _abort(request)


class Gateway:
    """The request handler and everything it needs."""

    def __init__(
        self,
        state: EmulatorState,
        views: Views,
        authenticator: Authenticator,
        oidc: OidcRegistry,
        faults: Faults,
        stats: EmulatorStats,
        region_id: str,
        flow_control: FlowControl | None = None,
    ) -> None:
        self.state = state
        self.views = views
        self.authenticator = authenticator
        self.oidc = oidc
        self.faults = faults
        self.stats = stats
        self.region_id = region_id
        self.flow_control = flow_control if flow_control is not None else FlowControl()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        body = await request.read()
        query = dict(parse_qsl(request.raw_path.partition("?")[2], keep_blank_values=True))
        form: dict[str, str] = {}
        if body and request.content_type == FORM_CONTENT_TYPE:
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        params = {**form, **query}
        headers = request.headers
        action = headers.get("x-acs-action") or params.get("Action") or ""
        version = headers.get("x-acs-version") or params.get("Version") or ""
        label = action or "-"
        self.stats.calls[label] += 1
        job = _job_of(params)

        if self.faults and self._fault(fault_kinds.RESET, label, job):
            _abort(request)
            self._log(label, None, "reset", "-", started)
            raise asyncio.CancelledError

        signed = SignedRequest(request.method, query, form, list(headers.items()), body)
        request_id = _request_id()
        host = request.host or self.region_id
        product = "Sts" if action in STS_ACTIONS else "schedulerx2"
        access_key = self.authenticator.claimed_access_key(signed)
        reply = self._reply(action, version, params, signed, request_id, host, product)
        self.stats.responses[(label, reply.code)] += 1

        # Faults other than ``reset`` only spoil authenticated requests, one fault each.
        spoilable = bool(self.faults) and reply.authenticated and not reply.faulted
        if spoilable:
            if self._fault(fault_kinds.RESET_AFTER, label, job):
                _abort(request)
                self._log(label, access_key, "reset", reply.code, started)
                raise asyncio.CancelledError
            slow = self._fault(fault_kinds.SLOW, label, job)
            if slow is not None:
                await asyncio.sleep(slow.delay)
        text = json.dumps(reply.body, ensure_ascii=False, separators=(",", ":"))
        if spoilable and self._fault(fault_kinds.MALFORMED, label, job):
            text = text[: max(1, len(text) // 2)]
        reply.headers["x-acs-request-id"] = request_id
        if spoilable and self._fault(fault_kinds.CUT, label, job):
            await _cut(request, reply, text)
            self._log(label, access_key, "cut", reply.code, started)
            raise asyncio.CancelledError
        self._log(label, access_key, str(reply.status), reply.code, started)
        return web.Response(
            status=reply.status,
            text=text,
            content_type="application/json",
            charset="utf-8",
            headers=reply.headers,
        )

    def _fault(self, kind: str, action: str, job: int | None) -> FaultRule | None:
        rule = self.faults.draw(kind, action, job)
        if rule is not None:
            self.stats.faults[kind] += 1
        return rule

    def _reply(
        self,
        action: str,
        version: str,
        params: dict[str, str],
        signed: SignedRequest,
        request_id: str,
        host: str,
        product: str,
    ) -> _Reply:
        def error(code: str, message: str, status: int) -> _Reply:
            return _gateway_error(request_id, host, product, code, message, status)

        authenticated = False
        try:
            handler = SCHEDULERX_ACTIONS.get(action) or STS_ACTIONS.get(action)
            if not action:
                raise ServiceError("MissingAction", "Action is mandatory for this request.")
            if handler is None and action not in UNIMPLEMENTED_ACTIONS:
                raise ServiceError(
                    "InvalidApi.NotFound",
                    f"Specified api {action} is not found, please check your url and method.",
                    404,
                )
            expected = STS_VERSION if action in STS_ACTIONS else SCHEDULERX_VERSION
            if not version:
                raise ServiceError("MissingVersion", "Version is mandatory for this request.")
            if version != expected:
                raise ServiceError(
                    "InvalidVersion",
                    f"Specified parameter Version {version} is not valid.",
                    400,
                )
            credential = None
            if action not in UNSIGNED_ACTIONS:
                credential = self.authenticator.verify(signed)
            authenticated = True
            if self.flow_control and self._over_limit(action, credential):
                refused = error(THROTTLING_CODE, THROTTLING_MESSAGE, 400)
                refused.authenticated = refused.faulted = True
                return refused
            if self.faults:
                spoiled = self._pre_action_fault(action, error, _job_of(params))
                if spoiled is not None:
                    spoiled.authenticated = True
                    spoiled.faulted = True
                    return spoiled
            if handler is None:
                raise ServiceError.business(501, f"{action} is not implemented by the SchedulerX emulator")
            ctx = CallContext(
                self.state,
                self.views,
                self.authenticator.store,
                self.oidc,
                self.stats.executions,
                credential,
            )
            data = handler(ctx, Params(params))
        except ServiceError as exc:
            if exc.is_business:
                refusal = {
                    "Code": exc.code,
                    "Success": False,
                    "Message": exc.message,
                    "RequestId": request_id,
                }
                return _Reply(200, refusal, str(exc.code), authenticated)
            reply = error(str(exc.code), exc.message, exc.http_status)
            reply.authenticated = authenticated
            return reply
        if action in STS_ACTIONS:
            return _Reply(200, {"RequestId": request_id, **(data or {})}, OK, authenticated)
        body: dict[str, Any] = {"Code": 200, "Success": True, "Message": "", "RequestId": request_id}
        if data is not None:
            body["Data"] = data
        return _Reply(200, body, OK, authenticated)

    def _over_limit(self, action: str, credential: Credential | None) -> bool:
        """Whether flow control refuses this call (SchedulerX actions only, by AccessKey)."""
        if credential is None or action in STS_ACTIONS:
            return False
        if self.flow_control.admit(credential.access_key_id):
            return False
        self.stats.throttled[action] += 1
        self.stats.throttled_by_key[credential.access_key_id] += 1
        return True

    def _pre_action_fault(
        self,
        action: str,
        error: Callable[[str, str, int], _Reply],
        job: int | None,
    ) -> _Reply | None:
        rule = self._fault(fault_kinds.THROTTLE, action, job)
        if rule is not None:
            reply = error(THROTTLING_CODE, THROTTLING_MESSAGE, 400)
            if rule.delay > 0:
                reply.headers["x-acs-retry-after"] = str(max(1, int(rule.delay * 1000)))
            return reply
        if self._fault(fault_kinds.SERVER_ERROR, action, job) is not None:
            status, code, message = self.faults.next_server_error()
            return error(code, message, status)
        if self._fault(fault_kinds.CLOCK_SKEW, action, job) is not None:
            return error(
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date value is expired.",
                400,
            )
        if self._fault(fault_kinds.EXPIRED_CREDENTIALS, action, job) is not None:
            return error("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.", 400)
        return None

    @staticmethod
    def _log(action: str, access_key: str | None, status: str, code: str, started: float) -> None:
        if logger.isEnabledFor(logging.INFO):
            elapsed = (time.perf_counter() - started) * 1000
            logger.info(
                "%s ak=%s status=%s code=%s %.1fms",
                action,
                access_key or "-",
                status,
                code,
                elapsed,
            )


def _job_of(params: dict[str, str]) -> int | None:
    value = params.get("JobId", "")
    return int(value) if value.isdigit() else None


async def _not_found(request: web.Request) -> web.Response:
    body = _gateway_error(
        _request_id(),
        request.host,
        "schedulerx2",
        "InvalidApi.NotFound",
        f"Specified api is not found: path {request.path}; every action is served at /.",
        404,
    ).body
    return web.json_response(body, status=404)


def build_app(gateway: Gateway) -> web.Application:
    """The aiohttp application: every action at ``/``."""
    app = web.Application()
    app.router.add_route("*", "/", gateway.handle)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app
