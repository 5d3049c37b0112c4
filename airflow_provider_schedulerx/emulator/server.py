"""The emulator as a server: :class:`Emulator` runs the gateway on a loopback port in a
background thread, and is what tests and the command line drive."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from aiohttp import web

from airflow_provider_schedulerx.config import (
    DEFAULT_REGION,
    DEFAULT_TIMEZONE,
    is_loopback_host,
    validate_seconds,
)
from airflow_provider_schedulerx.emulator.auth import Authenticator
from airflow_provider_schedulerx.emulator.faults import Faults
from airflow_provider_schedulerx.emulator.flow_control import FlowControl
from airflow_provider_schedulerx.emulator.gateway import Gateway, build_app, logger
from airflow_provider_schedulerx.emulator.identities import (
    DEFAULT_OIDC_PROVIDER_ARN,
    CredentialStore,
    OidcRegistry,
)
from airflow_provider_schedulerx.emulator.specs import JobSpec, load_jobs_file
from airflow_provider_schedulerx.emulator.stats import EmulatorStats
from airflow_provider_schedulerx.emulator.store import DEFAULT_KEEP_INSTANCES, EmulatorState, InstanceState
from airflow_provider_schedulerx.emulator.views import Views
from airflow_provider_schedulerx.emulator.workflows import WorkflowSpec
from airflow_provider_schedulerx.models import InstanceStatus

__all__ = [
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCESS_KEY_SECRET",
    "DEFAULT_GROUP_ID",
    "DEFAULT_NAMESPACE",
    "DEFAULT_REGION_ID",
    "Emulator",
]

DEFAULT_ACCESS_KEY_ID = "emulator-ak"
DEFAULT_ACCESS_KEY_SECRET = "emulator-secret"
DEFAULT_NAMESPACE = "demo-namespace"
DEFAULT_GROUP_ID = "demo.defaultGroup"
DEFAULT_REGION_ID = DEFAULT_REGION
#: Seconds after which the emulator closes a connection that sends nothing, or a request
#: that is not complete; above the client's own keep-alive of 30 s.
DEFAULT_IDLE_TIMEOUT = 60.0


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
    :param idle_timeout: seconds after which a connection that sends nothing, or only part
        of a request, is closed.
    :param keep_instances: finished instances kept; the oldest beyond it are forgotten.
    :param one_start_per_second: refuse a second ExecuteJob of one job within one second, as
        the service does.
    :param rate_limit: flow control: at most this many SchedulerX calls per second per
        AccessKey id, the excess answered HTTP 400 ``Throttling.User`` ("Request was denied
        due to user flow control."), with no ``x-acs-retry-after`` header, without running
        the action; ``None`` (the default) for no limit. A token bucket per AccessKey id:
        capacity ``rate_limit`` (at least 1, the largest burst), refilled at ``rate_limit``
        per second of real time, starting full; a refused call takes no token. Only
        SchedulerX actions count: STS (AssumeRole, AssumeRoleWithOIDC) is another service with
        quotas of its own. STS credentials the emulator issued each have a bucket of their own
        id. Refusals count in ``stats.throttled`` (by action) and ``stats.throttled_by_key``.
        Change it on a running emulator with ``emu.rate_limit = 50`` (``None`` lifts it);
        every bucket then starts full again. Command line: ``--rate-limit N``.

    Listening beyond loopback with the demo AccessKey logs a warning: anyone who can reach
    the port could then call it.
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
        timezone: str = DEFAULT_TIMEZONE,
        oidc_provider_arn: str = DEFAULT_OIDC_PROVIDER_ARN,
        oidc_tokens: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        keep_instances: int = DEFAULT_KEEP_INSTANCES,
        one_start_per_second: bool = True,
        rate_limit: float | None = None,
    ) -> None:
        self.access_key_id = access_key_id
        self.idle_timeout = validate_seconds(idle_timeout, "idle_timeout")
        self.ssl_context = ssl_context
        self.region_id = region_id
        self.host = host
        self._requested_port = port
        self.state = EmulatorState(
            namespace,
            group_id,
            strict_jobs=strict_jobs,
            clock=clock,
            keep_instances=keep_instances,
            one_start_per_second=one_start_per_second,
        )
        self.views = Views(self.state, timezone)
        self.credentials = CredentialStore(clock=clock, sts_max_lifetime=sts_max_lifetime)
        self.credentials.add_access_key(access_key_id, access_key_secret)
        self.oidc = OidcRegistry(oidc_provider_arn, oidc_tokens)
        self.faults = Faults(seed)
        self.stats = EmulatorStats()
        self.flow_control = FlowControl(rate_limit)
        if jobs_file is not None:
            namespaces, file_jobs, file_workflows = load_jobs_file(jobs_file)
            for ns in namespaces:
                self.state.add_namespace(ns)
            for spec in file_jobs:
                self.state.add_job(spec)
            for workflow in file_workflows:
                self.state.workflows.add(workflow)
        for spec in jobs or ():
            self.state.add_job(spec)
        self.demo_credentials = access_key_secret == DEFAULT_ACCESS_KEY_SECRET
        self._gateway = Gateway(
            self.state,
            self.views,
            Authenticator(self.credentials, clock=clock),
            self.oidc,
            self.faults,
            self.stats,
            region_id,
            self.flow_control,
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
        if self.demo_credentials and not is_loopback_host(self.host):
            logger.warning(
                "listening on %s, beyond loopback, with the demo AccessKey: anyone who can reach "
                "this port can call it; set a secret of your own",
                self.host,
            )
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
        runner = web.AppRunner(
            build_app(self._gateway),
            access_log=None,
            shutdown_timeout=1.0,
            keepalive_timeout=self.idle_timeout,
        )
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
    def rate_limit(self) -> float | None:
        """SchedulerX calls per second per AccessKey id beyond which calls are throttled;
        ``None`` for no limit. Settable while running (see ``rate_limit`` above).

        :raises ValueError: setting anything but ``None`` or a positive finite number.
        """
        return self.flow_control.rate_limit

    @rate_limit.setter
    def rate_limit(self, value: float | None) -> None:
        self.flow_control.rate_limit = value

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

    def add_workflow(self, spec: WorkflowSpec) -> WorkflowSpec:
        """Add or replace a workflow (its nodes: jobs added before).

        :param spec: the workflow.
        """
        return self.state.workflows.add(spec)

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
