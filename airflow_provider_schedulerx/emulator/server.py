"""The emulator's HTTP side: an aiohttp app answering like the SchedulerX and STS gateways,
and :class:`Emulator`, which runs it on a loopback port in a background thread."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from airflow_provider_schedulerx.emulator import faults as fault_kinds
from airflow_provider_schedulerx.emulator.actions import (
    SCHEDULERX_ACTIONS,
    SCHEDULERX_VERSION,
    STS_ACTIONS,
    STS_VERSION,
    UNIMPLEMENTED_ACTIONS,
    UNSIGNED_ACTIONS,
    ApiError,
    CallContext,
    Params,
)
from airflow_provider_schedulerx.emulator.auth import (
    DEFAULT_OIDC_PROVIDER_ARN,
    Authenticator,
    AuthError,
    CredentialStore,
    OidcRegistry,
    SignedRequest,
)
from airflow_provider_schedulerx.emulator.faults import FaultRule, Faults
from airflow_provider_schedulerx.emulator.state import (
    BusinessError,
    EmulatorState,
    InstanceState,
    JobSpec,
    load_jobs_file,
)
from airflow_provider_schedulerx.models import InstanceStatus

__all__ = [
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCESS_KEY_SECRET",
    "DEFAULT_GROUP_ID",
    "DEFAULT_NAMESPACE",
    "Emulator",
    "EmulatorStats",
    "build_app",
]

logger = logging.getLogger("airflow_provider_schedulerx.emulator")

DEFAULT_ACCESS_KEY_ID = "emulator-ak"
DEFAULT_ACCESS_KEY_SECRET = "emulator-secret"
DEFAULT_NAMESPACE = "demo-namespace"
DEFAULT_GROUP_ID = "demo.defaultGroup"
DEFAULT_REGION_ID = "cn-hangzhou"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
OK = "OK"


class EmulatorStats:
    """What the emulator has served, for tests and benchmarks.

    ``calls``: requests by action; ``responses``: replies by ``(action, code)`` where code
    is ``"OK"``, a gateway error code, or a business error's integer code as a string;
    ``faults``: injected faults by kind; ``executions``: instances ExecuteJob created, by
    job id.
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.responses: Counter[tuple[str, str]] = Counter()
        self.faults: Counter[str] = Counter()
        self.executions: Counter[int] = Counter()

    def reset(self) -> None:
        """Zero every counter."""
        for counter in (self.calls, self.responses, self.faults, self.executions):
            counter.clear()

    def __repr__(self) -> str:
        return (
            f"EmulatorStats(calls={dict(self.calls)}, responses={dict(self.responses)}, "
            f"faults={dict(self.faults)}, executions={dict(self.executions)})"
        )


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


class _Gateway:
    """The request handler and everything it needs."""

    def __init__(
        self,
        state: EmulatorState,
        authenticator: Authenticator,
        oidc: OidcRegistry,
        faults: Faults,
        stats: EmulatorStats,
        region_id: str,
    ) -> None:
        self.state = state
        self.authenticator = authenticator
        self.oidc = oidc
        self.faults = faults
        self.stats = stats
        self.region_id = region_id

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

        if self.faults and self._fault(fault_kinds.RESET, label):
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
            if self._fault(fault_kinds.RESET_AFTER, label):
                _abort(request)
                self._log(label, access_key, "reset", reply.code, started)
                raise asyncio.CancelledError
            slow = self._fault(fault_kinds.SLOW, label)
            if slow is not None:
                await asyncio.sleep(slow.delay)
        text = json.dumps(reply.body, ensure_ascii=False, separators=(",", ":"))
        if spoilable and self._fault(fault_kinds.MALFORMED, label):
            text = text[: max(1, len(text) // 2)]
        reply.headers["x-acs-request-id"] = request_id
        if spoilable and self._fault(fault_kinds.CUT, label):
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

    def _fault(self, kind: str, action: str) -> FaultRule | None:
        rule = self.faults.draw(kind, action)
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
                raise ApiError("MissingAction", "Action is mandatory for this request.")
            if handler is None and action not in UNIMPLEMENTED_ACTIONS:
                raise ApiError(
                    "InvalidApi.NotFound",
                    f"Specified api {action} is not found, please check your url and method.",
                    404,
                )
            expected = STS_VERSION if action in STS_ACTIONS else SCHEDULERX_VERSION
            if not version:
                raise ApiError("MissingVersion", "Version is mandatory for this request.")
            if version != expected:
                raise ApiError(
                    "InvalidVersion",
                    f"Specified parameter Version {version} is not valid.",
                    400,
                )
            credential = None
            if action not in UNSIGNED_ACTIONS:
                credential = self.authenticator.verify(signed)
            authenticated = True
            if self.faults:
                spoiled = self._pre_action_fault(action, error)
                if spoiled is not None:
                    spoiled.authenticated = True
                    spoiled.faulted = True
                    return spoiled
            if handler is None:
                raise BusinessError(501, f"{action} is not implemented by the SchedulerX emulator")
            ctx = CallContext(
                self.state,
                self.authenticator.store,
                self.oidc,
                self.stats.executions,
                credential,
            )
            data = handler(ctx, Params(params))
        except (AuthError, ApiError) as exc:
            reply = error(exc.code, exc.message, exc.http_status)
            reply.authenticated = authenticated
            return reply
        except BusinessError as exc:
            body = {
                "Code": exc.code,
                "Success": False,
                "Message": exc.message,
                "RequestId": request_id,
            }
            return _Reply(200, body, str(exc.code), authenticated)
        if action in STS_ACTIONS:
            return _Reply(200, {"RequestId": request_id, **(data or {})}, OK, authenticated)
        body = {"Code": 200, "Success": True, "Message": "", "RequestId": request_id}
        if data is not None:
            body["Data"] = data
        return _Reply(200, body, OK, authenticated)

    def _pre_action_fault(
        self,
        action: str,
        error: Callable[[str, str, int], _Reply],
    ) -> _Reply | None:
        rule = self._fault(fault_kinds.THROTTLE, action)
        if rule is not None:
            reply = error("Throttling.User", "Request was denied due to user flow control.", 400)
            if rule.delay > 0:
                reply.headers["x-acs-retry-after"] = str(max(1, int(rule.delay * 1000)))
            return reply
        if self._fault(fault_kinds.SERVER_ERROR, action) is not None:
            status, code, message = self.faults.next_server_error()
            return error(code, message, status)
        if self._fault(fault_kinds.CLOCK_SKEW, action) is not None:
            return error(
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date value is expired.",
                400,
            )
        if self._fault(fault_kinds.EXPIRED_CREDENTIALS, action) is not None:
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


def build_app(gateway: _Gateway) -> web.Application:
    """The aiohttp application: every action at ``/``."""
    app = web.Application()
    app.router.add_route("*", "/", gateway.handle)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app


def _raise_open_file_limit(wanted: int = 65536) -> None:
    """Lift the soft limit on open files toward the hard one: each concurrent keep-alive
    client holds a socket."""
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass


class Emulator:
    """A local SchedulerX (and STS) OpenAPI server on a loopback port.

    ``with Emulator(jobs=[JobSpec(101, run_seconds=1)]) as emu:`` starts it in a daemon
    thread; point a client at ``emu.url`` with the emulator's AccessKey.

    :param access_key_id: the static AccessKey id accepted.
    :param access_key_secret: its secret.
    :param jobs: jobs to know from the start.
    :param jobs_file: a JSON jobs file (a list of jobs, or namespaces and jobs).
    :param strict_jobs: answer an unknown job id with a business error instead of creating
        a default job (wait 0.5 s, run 2 s, success).
    :param namespace: the namespace that exists.
    :param group_id: the application group that exists in it.
    :param region_id: the region the emulator stands for.
    :param host: interface to listen on.
    :param port: port to listen on; 0 picks a free one.
    :param sts_max_lifetime: cap, in seconds, on the lifetime of STS credentials it issues.
    :param seed: seed for rate-based faults.
    :param timezone: zone of the wall-clock time strings in replies.
    :param oidc_provider_arn: the OIDC provider AssumeRoleWithOIDC trusts.
    :param oidc_tokens: OIDC tokens AssumeRoleWithOIDC accepts.
    :param clock: epoch-seconds clock of the lifecycle and of the signature checks.
    :param ssl_context: serve https with this context (e.g. a self-signed certificate).
    """

    def __init__(
        self,
        access_key_id: str = DEFAULT_ACCESS_KEY_ID,
        access_key_secret: str = DEFAULT_ACCESS_KEY_SECRET,
        *,
        jobs: Iterable[JobSpec] | None = None,
        jobs_file: str | Path | None = None,
        strict_jobs: bool = False,
        namespace: str = DEFAULT_NAMESPACE,
        group_id: str = DEFAULT_GROUP_ID,
        region_id: str = DEFAULT_REGION_ID,
        host: str = "127.0.0.1",
        port: int = 0,
        sts_max_lifetime: float | None = None,
        seed: int | None = None,
        timezone: str = "Asia/Shanghai",
        oidc_provider_arn: str = DEFAULT_OIDC_PROVIDER_ARN,
        oidc_tokens: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.access_key_id = access_key_id
        self.ssl_context = ssl_context
        self.region_id = region_id
        self.host = host
        self._requested_port = port
        self.state = EmulatorState(
            namespace, group_id, strict_jobs=strict_jobs, timezone=timezone, clock=clock
        )
        self.credentials = CredentialStore(clock=clock, sts_max_lifetime=sts_max_lifetime)
        self.credentials.add_access_key(access_key_id, access_key_secret)
        self.oidc = OidcRegistry(oidc_provider_arn, oidc_tokens)
        self.faults = Faults(seed)
        self.stats = EmulatorStats()
        if jobs_file is not None:
            namespaces, file_jobs = load_jobs_file(jobs_file)
            for ns in namespaces:
                self.state.add_namespace(ns)
            for spec in file_jobs:
                self.state.add_job(spec)
        for spec in jobs or ():
            self.state.add_job(spec)
        self._gateway = _Gateway(
            self.state,
            Authenticator(self.credentials, clock=clock),
            self.oidc,
            self.faults,
            self.stats,
            region_id,
        )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- running --------------------------------------------------------------------

    def start(self) -> Emulator:
        """Start serving in a daemon thread; return once it listens.

        :raises OSError: the port cannot be bound.
        """
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        _raise_open_file_limit()
        ready = threading.Event()
        errors: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(ready, errors), name="schedulerx-emulator", daemon=True
        )
        self._thread.start()
        ready.wait()
        if errors:
            self._thread.join()
            self._thread = None
            raise errors[0]
        return self

    def _serve(self, ready: threading.Event, errors: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        runner = web.AppRunner(build_app(self._gateway), access_log=None, shutdown_timeout=1.0)
        self._runner = runner
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(
                runner,
                self.host,
                self._requested_port,
                backlog=4096,
                reuse_address=True,
                ssl_context=self.ssl_context,
            )
            loop.run_until_complete(site.start())
            self._port = int(runner.addresses[0][1])
        except BaseException as exc:
            errors.append(exc)
            loop.run_until_complete(runner.cleanup())
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        """Stop serving and close every connection."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def port(self) -> int:
        """The port it listens on (once started)."""
        if self._port is None:
            raise RuntimeError("the emulator has not been started")
        return self._port

    @property
    def url(self) -> str:
        """``http://<host>:<port>`` (``https://`` with an SSL context)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def endpoint(self) -> str:
        """``<host>:<port>``, as the official SDK's ``Config.endpoint`` wants it."""
        return self.url.split("://", 1)[1]

    # -- set-up and inspection ------------------------------------------------------

    def add_job(self, spec: JobSpec) -> JobSpec:
        """Add or replace a job.

        :param spec: the job.
        """
        return self.state.add_job(spec)

    def add_access_key(self, access_key_id: str, access_key_secret: str) -> None:
        """Accept one more static AccessKey.

        :param access_key_id: its id.
        :param access_key_secret: its secret.
        """
        self.credentials.add_access_key(access_key_id, access_key_secret)

    def issue_oidc_token(
        self,
        subject: str = "system:serviceaccount:airflow:airflow-worker",
        issuer: str = "https://oidc-ack.cn-hangzhou.aliyuncs.com/emulator",
        audience: str = "sts.aliyuncs.com",
    ) -> str:
        """A new JWT-shaped OIDC token that AssumeRoleWithOIDC accepts (with
        ``oidc_provider_arn``).

        :param subject: the token's ``sub``.
        :param issuer: the token's ``iss``.
        :param audience: the token's ``aud``.
        """
        return self.oidc.issue_token(subject, issuer, audience)

    @property
    def oidc_provider_arn(self) -> str:
        return self.oidc.provider_arn

    def get_instance(self, instance_id: int) -> InstanceState | None:
        """The state of one job instance, or ``None``.

        :param instance_id: the instance id.
        """
        return self.state.instance(instance_id)

    def instances(self, job_id: int) -> list[InstanceState]:
        """Every instance of a job, oldest first.

        :param job_id: the job id.
        """
        return self.state.instances_of(job_id)

    def instance_status(self, instance_id: int) -> InstanceStatus:
        """The current status of an instance.

        :param instance_id: the instance id.
        :raises KeyError: no such instance.
        """
        inst = self._instance_or_raise(instance_id)
        return inst.view(self.state.clock()).status

    def status_history(self, instance_id: int) -> list[tuple[float, InstanceStatus]]:
        """Status changes of an instance so far, as ``(epoch seconds, status)``, oldest first.

        :param instance_id: the instance id.
        :raises KeyError: no such instance.
        """
        inst = self._instance_or_raise(instance_id)
        return inst.history(self.state.clock())

    def _instance_or_raise(self, instance_id: int) -> InstanceState:
        inst = self.state.instance(instance_id)
        if inst is None:
            raise KeyError(f"no job instance {instance_id}")
        return inst
