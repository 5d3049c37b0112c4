"""A hostile HTTP server of the tests' own: it answers every request the way it is told to
(redirect elsewhere, drip, stay silent, send a huge or compressed-bomb body, or a malformed
or mismatched SchedulerX reply), and a second server that records whatever reaches it, so
that a test can show that a redirect target received nothing."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GIB = 1024**3


def gzip_bomb(size: int = GIB) -> bytes:
    """``size`` zero bytes, gzip-compressed (about a thousandth of the size)."""
    buffer = io.BytesIO()
    chunk = bytes(16 * 1024 * 1024)
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as compressed:
        for _ in range(size // len(chunk)):
            compressed.write(chunk)
    return buffer.getvalue()


def reply_of_instance(detail: dict[str, Any]) -> bytes:
    body = {"Code": 200, "Success": True, "RequestId": "HOSTILE", "Data": {"JobInstanceDetail": detail}}
    return json.dumps(body).encode()


def instance_detail(**changes: Any) -> dict[str, Any]:
    detail = {
        "InstanceId": 2,
        "JobId": 1,
        "Status": 3,
        "StartTime": "2026-12-01 10:00:00",
        "ScheduleTime": "2026-12-01 10:00:00",
        "DataTime": "2026-12-01 10:00:00",
        "EndTime": "",
        "Result": "",
    }
    return {**detail, **changes}


@dataclass
class Recorder:
    """A server that records every byte sent to it and answers nothing useful."""

    received: list[bytes] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(65536)
        if data:
            self.received.append(data)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        await writer.drain()
        writer.close()


class HostileServer:
    """Serves ``behaviour`` (set by the test) on a loopback port in a thread of its own."""

    def __init__(self) -> None:
        self.behaviour: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any] = self.silent
        self.recorder = Recorder()
        self.requests = 0
        self.first_request_at: float | None = None  # time.monotonic()
        self.last_closed_at: float | None = None  # when a connection last ended
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="hostile-server")
        self.port = 0

    # -- running ------------------------------------------------------------------------

    def __enter__(self) -> HostileServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        recorder = loop.run_until_complete(asyncio.start_server(self.recorder.handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.recorder.port = recorder.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        for listening in (server, recorder):
            listening.close()
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests += 1
        if self.first_request_at is None:
            self.first_request_at = time.monotonic()
        try:
            await _read_request(reader)
            await self.behaviour(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self.last_closed_at = time.monotonic()

    # -- behaviours ---------------------------------------------------------------------

    @staticmethod
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Says nothing, until the client hangs up."""
        await asyncio.wait_for(reader.read(), 3600)

    def redirect(self, status: int = 307) -> Callable[..., Any]:
        async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            location = f"http://127.0.0.1:{self.recorder.port}/"
            body = json.dumps(
                {"Code": 200, "Success": True, "Data": {"JobInstanceDetail": instance_detail(Status=4)}}
            )
            writer.write(
                f"HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
            )
            await writer.drain()

        return behaviour

    @staticmethod
    def drip(body: bytes = b"", per_second: int = 1) -> Callable[..., Any]:
        """The whole reply, status line included, a byte at a time."""

        async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            content = body or reply_of_instance(instance_detail(Status=4))
            reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            reply += f"Content-Length: {len(content)}\r\n\r\n".encode() + content
            for byte in reply:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(1 / per_second)

        return behaviour

    @staticmethod
    def huge(size: int = GIB, announced: bool = True) -> Callable[..., Any]:
        async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            head += f"Content-Length: {size}\r\n\r\n" if announced else "Transfer-Encoding: chunked\r\n\r\n"
            writer.write(head.encode())
            chunk = b" " * (1024 * 1024)
            for _ in range(size // len(chunk)):
                writer.write(chunk if announced else b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()

        return behaviour

    @staticmethod
    def compressed(body: bytes, encoding: str = "gzip") -> Callable[..., Any]:
        async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: {encoding}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()

        return behaviour

    @staticmethod
    def answer(body: bytes, status: int = 200, content_type: str = "application/json") -> Callable[..., Any]:
        async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            await writer.drain()

        return behaviour


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":", 1)[1]))
