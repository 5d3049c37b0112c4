"""The ``requests`` transport adapter of :class:`~airflow_provider_schedulerx.client.SchedulerXClient`.

Imported when the first sync call is made, never when a DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

#: Connection pools an adapter remembers (a client calls one endpoint, and STS perhaps).
MAX_REMEMBERED_POOLS = 8


class SchedulerXAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` for a client that calls one endpoint with fixed settings.

    It finds the connection pool of an endpoint once, rather than on every call (a URL
    parse, two proxy lookups and a check of the CA bundle path each time), and its
    responses skip the cookie jar and the guess of their text encoding: SchedulerX sets no
    cookies, and the client reads replies as bytes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pools: dict[tuple[Any, ...], Any] = {}

    def get_connection_with_tls_context(
        self,
        request: PreparedRequest,
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

    def build_response(self, req: PreparedRequest, resp: Any) -> Response:
        response = Response()
        response.status_code = resp.status
        response.headers = CaseInsensitiveDict(resp.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url or ""
        response.request = req
        response.connection = self  # type: ignore[attr-defined]
        return response
