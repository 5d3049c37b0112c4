"""The ``aiohttp`` transport: one signed request sent from an event loop, its reply read
within a wall-clock bound and a size bound, redirects never followed.

All the clients of one event loop share one pooled session (a triggerer process has one
loop, so all its triggers share one pool of keep-alive connections). The session inflates
nothing itself: compressed replies are inflated by ``bodies.decode_body``, which stops at
``bodies.MAX_REPLY_BYTES``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator

import aiohttp
import yarl

from airflow_provider_schedulerx.exceptions import SchedulerXConnectionError, SchedulerXError
from airflow_provider_schedulerx.rpc import bodies
from airflow_provider_schedulerx.rpc.protocol import (
    MAX_REMEMBERED_REQUESTS,
    TLS_FAILURE,
    PreparedRequest,
    Reply,
)

__all__ = ["AsyncTransport", "close_shared_session", "session_in_use", "shared_session"]

CONNECTION_LIMIT = 64


class _Shared:
    """The shared session of one event loop, and how many triggers use it."""

    __slots__ = ("loop", "session", "users")

    def __init__(self, loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> None:
        self.loop = loop
        self.session = session
        self.users = 0


_shared: dict[int, _Shared] = {}


def _entry() -> _Shared:
    loop = asyncio.get_running_loop()
    entry = _shared.get(id(loop))
    if entry is not None and entry.loop is loop and not entry.session.closed:
        return entry
    for key, other in list(_shared.items()):
        if other.loop.is_closed():
            del _shared[key]
    connector = aiohttp.TCPConnector(limit=CONNECTION_LIMIT, ttl_dns_cache=300, keepalive_timeout=30)
    # The API sets no cookies: a jar that keeps none spares every poll the cookie filtering.
    session = aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
    )
    entry = _shared[id(loop)] = _Shared(loop, session)
    return entry


def shared_session() -> aiohttp.ClientSession:
    """The one pooled ``aiohttp`` session of the running event loop."""
    return _entry().session


@contextlib.asynccontextmanager
async def session_in_use() -> AsyncIterator[None]:
    """Keep the loop's shared session open while the block runs: the last of its users to
    leave closes it, so that a loop made for one trigger (as ``dag.test()`` makes them)
    leaves no session behind."""
    entry = _entry()
    entry.users += 1
    try:
        yield
    finally:
        entry.users -= 1
        if entry.users <= 0 and _shared.get(id(entry.loop)) is entry:
            del _shared[id(entry.loop)]
            await entry.session.close()


async def close_shared_session() -> None:
    """Close the running loop's shared session (tests and shutdown)."""
    entry = _shared.pop(id(asyncio.get_running_loop()), None)
    if entry is not None:
        await entry.session.close()


class AsyncTransport:
    """Sends prepared requests over the event loop's shared session.

    :param endpoint: the endpoint every request goes to, for messages.
    :param connect_timeout: seconds to wait for a connection.
    :param verify_ssl: verify TLS certificates.
    """

    def __init__(self, endpoint: str, *, connect_timeout: float, verify_ssl: bool = True) -> None:
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self.verify_ssl = verify_ssl
        self._url = functools.lru_cache(maxsize=MAX_REMEMBERED_REQUESTS)(_url)

    async def send(self, request: PreparedRequest, *, timeout: float, action: str) -> Reply:
        """Send ``request`` and read the whole reply within ``timeout`` seconds.

        :raises SchedulerXConnectionError: no complete reply in time, or the connection failed.
        :raises SchedulerXResponseError: a reply over the size bound.
        """
        error: SchedulerXError | None = None
        try:
            async with shared_session().request(
                request.method,
                self._url(request.url),
                headers=request.headers,
                data=request.body or None,
                timeout=_timeout(timeout, min(self.connect_timeout, timeout)),
                ssl=self.verify_ssl,
                allow_redirects=False,
            ) as response:
                body = await _read(response, action)
                reply = Reply(response.status, response.headers, body)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = _connection_error(exc, action, self.endpoint, timeout)
        if error is not None:
            # Raised outside the handler, so that it carries no chained exception: one of
            # aiohttp's holds the request's headers, signature and token included.
            raise error
        body = bodies.decode_body(reply.body, reply.headers.get("content-encoding"), action=action)
        return Reply(reply.status, reply.headers, body)


@functools.lru_cache(maxsize=64)
def _timeout(total: float, connect: float) -> aiohttp.ClientTimeout:
    """A limit on the whole attempt. aiohttp rounds those over 5 s up to whole seconds, so
    that the timers of many polls coincide; a poll loop asks for one limit again and again."""
    return aiohttp.ClientTimeout(total=total, sock_connect=connect)


def _url(url: str) -> yarl.URL:
    """``url`` as ``aiohttp`` takes it, sent exactly as signed, without requoting."""
    return yarl.URL(url, encoded=True)


async def _read(response: aiohttp.ClientResponse, action: str) -> bytes:
    length = response.content_length
    if length is not None:
        if length > bodies.MAX_REPLY_BYTES:
            raise bodies.reply_too_large(action)
        return await response.read()
    chunks: list[bytes] = []
    size = 0
    while chunk := await response.content.readany():
        size += len(chunk)
        if size > bodies.MAX_REPLY_BYTES:
            raise bodies.reply_too_large(action)
        chunks.append(chunk)
    return b"".join(chunks)


def _connection_error(
    exc: BaseException, action: str, endpoint: str, timeout: float
) -> SchedulerXConnectionError:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return SchedulerXConnectionError(f"{action}: connection timed out ({endpoint})", sent=False)
    if isinstance(exc, aiohttp.ClientSSLError):
        return SchedulerXConnectionError(f"{action}: {TLS_FAILURE} ({endpoint})", sent=False)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return SchedulerXConnectionError(f"{action}: cannot connect ({endpoint})", sent=False)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return SchedulerXConnectionError(f"{action}: no complete reply within {timeout:g}s ({endpoint})")
    return SchedulerXConnectionError(f"{action}: connection lost before the reply ({endpoint})")
