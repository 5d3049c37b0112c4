"""A reply's body within bounds: the largest read, and compressed bodies inflated no
further than that (a gzip bomb stops at the limit)."""

from __future__ import annotations

import zlib

from airflow_provider_schedulerx.exceptions import SchedulerXResponseError

__all__ = ["MAX_REPLY_BYTES", "decode_body", "reply_too_large"]

#: The largest reply read. A SchedulerX reply is at most a few hundred KB (200 log lines, a
#: page of 100 instances); anything larger is refused unread, compressed or not.
MAX_REPLY_BYTES = 2 * 1024 * 1024


def decode_body(body: bytes, content_encoding: str | None, *, action: str) -> bytes:
    """The reply's body as sent before compression, at most :data:`MAX_REPLY_BYTES` of it.

    :raises SchedulerXResponseError: an encoding the client did not ask for, a body that does
        not inflate, or one that inflates past the limit.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise SchedulerXResponseError(
            f"{action}: the reply is encoded as {encoding!r}, which was not asked for"
        )
    wbits = 31 if encoding != "deflate" else 15
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, MAX_REPLY_BYTES + 1)
    except zlib.error:
        raise SchedulerXResponseError(f"{action}: the reply's {encoding} body is corrupt") from None
    if len(data) > MAX_REPLY_BYTES or inflater.unconsumed_tail:
        raise reply_too_large(action)
    return data


def reply_too_large(action: str) -> SchedulerXResponseError:
    return SchedulerXResponseError(
        f"{action}: the reply is larger than {MAX_REPLY_BYTES // 1024} KiB, more than any "
        "SchedulerX reply; it was not read"
    )
