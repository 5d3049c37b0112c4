"""Keeping secrets out of the request lines urllib3 logs at DEBUG level.

A signed V1 URL carries its signature (and an STS token) in the query, and any URL carries
the call's parameters, URL-encoded: a secret templated into ``InstanceParameters`` shows
there in a form that a log masker matching the plain value does not recognise. The filter
installed here redacts the signing values outright and passes every other query value,
decoded, through :func:`set_redactor`'s function (Airflow's secrets masker, set by the hook).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from urllib.parse import quote, unquote

__all__ = ["install_url_redaction", "redact_url", "set_redactor"]

_SIGNING_KEYS = frozenset({"Signature", "SecurityToken", "OIDCToken"})
_QUERY_ITEM = re.compile(r"([?&])([^=&\s\"]+)=([^&\s\"]*)")

_redactor: Callable[[str], object] | None = None


def set_redactor(redactor: Callable[[str], object] | None) -> None:
    """Pass every logged query value through ``redactor`` (a text in, a text out)."""
    global _redactor
    _redactor = redactor


def redact_url(url: str) -> str:
    """``url`` with its signing values replaced by ``***`` and its other query values
    redacted as the redactor set with :func:`set_redactor` redacts them."""
    redactor = _redactor

    def redact_item(match: re.Match[str]) -> str:
        separator, key, value = match.groups()
        if key in _SIGNING_KEYS:
            return f"{separator}{key}=***"
        if redactor is not None and value:
            plain = unquote(value)
            redacted = str(redactor(plain))
            if redacted != plain:
                return f"{separator}{key}={quote(redacted, safe='*')}"
        return match.group(0)

    return _QUERY_ITEM.sub(redact_item, url)


class _QueryFilter(logging.Filter):
    """Redacts the query of the request lines urllib3 logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(arg, str) and "=" in arg for arg in record.args):
            record.args = tuple(redact_url(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


_install_lock = threading.Lock()
_installed = False


def install_url_redaction() -> None:
    """Redact the query strings of urllib3's debug log (once per process)."""
    global _installed
    with _install_lock:
        if not _installed:
            logging.getLogger("urllib3.connectionpool").addFilter(_QueryFilter())
            _installed = True
