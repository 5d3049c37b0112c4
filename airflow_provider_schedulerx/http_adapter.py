"""The ``requests`` transport adapter of :class:`~airflow_provider_schedulerx.client.SchedulerXClient`.

Imported when the first sync call is made, never when a DAG file is parsed.
"""

from __future__ import annotations

from typing import Any

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers


class SchedulerXAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose responses skip the cookie jar.

    SchedulerX sets no cookies, and searching every reply's headers for them through
    ``http.cookiejar`` is one of the larger costs ``requests`` adds to a call.
    """

    def build_response(self, req: PreparedRequest, resp: Any) -> Response:
        response = Response()
        response.status_code = resp.status
        response.headers = CaseInsensitiveDict(resp.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url or ""
        response.request = req
        response.connection = self  # type: ignore[attr-defined]
        return response
