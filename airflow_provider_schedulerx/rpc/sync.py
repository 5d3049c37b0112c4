"""The ``requests`` transport: one signed request sent, and its reply read within a
wall-clock bound and a size bound. Used by the sync client and by the STS calls.

``requests`` bounds each socket read, not a whole request: a server that drips a byte a
second would hold a call for ever. So every attempt is watched: at its deadline, one
watchdog thread per process shuts down the socket of an attempt still going, which ends any
read at once. Imported when the first sync call is made, never when a DAG file is parsed.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NameResolutionError, NewConnectionError

from airflow_provider_schedulerx.exceptions import SchedulerXConnectionError, SchedulerXError
from airflow_provider_schedulerx.rpc.bodies import MAX_REPLY_BYTES, decode_body, reply_too_large
from airflow_provider_schedulerx.rpc.protocol import TLS_FAILURE, PreparedRequest, Reply
from airflow_provider_schedulerx.rpc.redaction import install_url_redaction

__all__ = ["SchedulerXAdapter", "SyncTransport"]

#: Connection pools an adapter remembers (a client calls one endpoint, and STS perhaps).
MAX_REMEMBERED_POOLS = 8


class _Watch:
    """One attempt under watch: its deadline, its connection once it has one."""

    __slots__ = ("connection", "deadline", "done", "expired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.connection: Any = None
        self.done = False
        self.expired = False


class _Watchdog:
    """Shuts down the socket of every watched attempt still going at its deadline."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float) -> _Watch:
        watch = _Watch(deadline)
        with self._condition:
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (deadline, next(self._order), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="schedulerx-watchdog", daemon=True)
                self._thread.start()
            elif earliest is None or deadline < earliest:
                self._condition.notify()
        return watch

    def release(self, watch: _Watch) -> None:
        with self._condition:
            watch.done = True
            watch.connection = None

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    watch = heapq.heappop(self._heap)[2]
                    if not watch.done:
                        watch.expired = True
                        _shut_down(watch.connection)
                self._condition.wait(self._heap[0][0] - now if self._heap else None)


def _shut_down(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


_watchdog = _Watchdog()
_current = threading.local()


def _new_watchdog_in_child() -> None:
    global _watchdog
    _watchdog = _Watchdog()


os.register_at_fork(after_in_child=_new_watchdog_in_child)


class _WatchedPoolMixin:
    """Hands the connection an attempt takes from the pool to that attempt's watch, and
    ends the watch before the connection goes back to the pool."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)  # type: ignore[misc]
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.connection = connection
        return connection

    def _put_conn(self, conn: Any) -> None:
        watch = getattr(_current, "watch", None)
        if watch is not None and watch.connection is conn:
            _watchdog.release(watch)
        super()._put_conn(conn)  # type: ignore[misc]


class _WatchedHTTPConnectionPool(_WatchedPoolMixin, HTTPConnectionPool):
    pass


class _WatchedHTTPSConnectionPool(_WatchedPoolMixin, HTTPSConnectionPool):
    pass


class SchedulerXAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` for a client that calls one endpoint with fixed settings.

    Its pools hand their connections to the watchdog. It finds the connection pool of an
    endpoint once, rather than on every call (a URL parse, two proxy lookups and a check of
    the CA bundle path each time), and its responses skip the cookie jar and the guess of
    their text encoding: SchedulerX sets no cookies, and the client reads replies as bytes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pools: dict[tuple[Any, ...], Any] = {}

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPConnectionPool,
            "https": _WatchedHTTPSConnectionPool,
        }

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = {
            "http": _WatchedHTTPConnectionPool,
            "https": _WatchedHTTPSConnectionPool,
        }
        return manager

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: Any,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> Any:
        url = request.url or ""
        path_at = url.find("/", url.find("//") + 2)
        origin = url if path_at < 0 else url[:path_at]
        key = (origin, verify, cert, tuple(sorted(proxies.items())) if proxies else ())
        pool = self._pools.get(key)
        # A closed pool has no ``pool`` queue left (urllib3 1.x closes the pools its pool
        # manager lets go of).
        if pool is None or pool.pool is None:
            if len(self._pools) >= MAX_REMEMBERED_POOLS:
                self._pools.clear()
            pool = self._pools[key] = super().get_connection_with_tls_context(request, verify, proxies, cert)
        return pool

    def close(self) -> None:
        self._pools.clear()
        super().close()

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = resp.status
        response.headers = CaseInsensitiveDict(resp.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url or ""
        response.request = req
        response.connection = self
        return response


class SyncTransport:
    """Sends prepared requests over one pooled ``requests`` session.

    :param endpoint: the endpoint every request goes to, for messages.
    :param connect_timeout: seconds to wait for a connection.
    :param verify_ssl: verify TLS certificates (even when ``REQUESTS_CA_BUNDLE`` is set).
    :param session: a ``requests.Session`` to use instead of the transport's own.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        connect_timeout: float,
        verify_ssl: bool = True,
        session: requests.Session | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self.verify_ssl = verify_ssl
        self._session = session
        self._session_lock = threading.Lock()
        self._adapter: tuple[Any, dict[str, Any]] | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            with self._session_lock:
                if self._session is None:
                    install_url_redaction()
                    session = requests.Session()
                    adapter = SchedulerXAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
                    session.mount("https://", adapter)
                    session.mount("http://", adapter)
                    session.verify = self.verify_ssl
                    self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
            self._adapter = None

    def _transport(self) -> tuple[Any, dict[str, Any]]:
        """The session's adapter for the endpoint, and the settings ``Session.request`` would
        merge from the environment (proxies, CA bundle), worked out once: a signed call is
        already a complete request, so it goes straight to the adapter."""
        if self._adapter is None:
            session = self.session
            endpoint = self.endpoint + "/"
            verify = None if self.verify_ssl else False
            settings = dict(session.merge_environment_settings(endpoint, {}, False, verify, None))
            self._adapter = (session.get_adapter(endpoint), settings)
        return self._adapter

    def send(self, request: PreparedRequest, *, timeout: float, action: str) -> Reply:
        """Send ``request`` and read the whole reply within ``timeout`` seconds.

        :raises SchedulerXConnectionError: no complete reply in time, or the connection failed.
        :raises SchedulerXResponseError: a reply over the size bound.
        """
        adapter, settings = self._transport()
        prepared = requests.PreparedRequest()
        prepared.method, prepared.url, prepared.body = request.method, request.url, request.body or None
        prepared.headers = CaseInsensitiveDict(request.headers)
        if prepared.body is not None:
            prepared.headers["content-length"] = str(len(prepared.body))
        watch = _current.watch = _watchdog.watch(time.monotonic() + timeout)
        error: SchedulerXError | None = None
        try:
            response = adapter.send(
                prepared, timeout=(min(self.connect_timeout, timeout), timeout), **settings
            )
            reply = _read(response, action)
        except (requests.RequestException, Urllib3Error, OSError) as exc:
            error = _connection_error(exc, action, self.endpoint, timeout, watch.expired)
        except SchedulerXError as exc:
            error = exc
        finally:
            _current.watch = None
            _watchdog.release(watch)
        if error is not None:
            # Raised here, outside the handler, so that the error carries no chained
            # exception: one of requests' holds the request, signature and token included.
            raise error
        return reply


def _read(response: requests.Response, action: str) -> Reply:
    raw = response.raw
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_REPLY_BYTES:
        raw.close()
        raise reply_too_large(action)
    body = raw.read(MAX_REPLY_BYTES + 1, decode_content=False)
    if len(body) > MAX_REPLY_BYTES:
        raw.close()
        raise reply_too_large(action)
    raw.release_conn()
    headers = response.headers
    return Reply(
        response.status_code, headers, decode_body(body, headers.get("content-encoding"), action=action)
    )


def _connection_error(
    exc: BaseException, action: str, endpoint: str, timeout: float, expired: bool
) -> SchedulerXConnectionError:
    if expired or isinstance(exc, requests.ReadTimeout):
        return SchedulerXConnectionError(f"{action}: no complete reply within {timeout:g}s ({endpoint})")
    sent = True
    reason = type(exc).__name__
    if isinstance(exc, requests.exceptions.SSLError):
        sent, reason = False, TLS_FAILURE
    elif isinstance(exc, requests.ConnectTimeout):
        sent, reason = False, "connection timed out"
    elif isinstance(exc, requests.ConnectionError):
        cause = exc.args[0] if exc.args else None
        inner = getattr(cause, "reason", cause)
        if isinstance(inner, (NewConnectionError, NameResolutionError)):
            sent = False
            # urllib3 2 makes NameResolutionError a kind of NewConnectionError: test it first.
            reason = "host name not found" if isinstance(inner, NameResolutionError) else "cannot connect"
        else:
            reason = "connection lost before the reply"
    else:
        reason = "connection lost before the reply"
    return SchedulerXConnectionError(f"{action}: {reason} ({endpoint})", sent=sent)
