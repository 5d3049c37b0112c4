"""Alibaba Cloud request signing for RPC-style APIs, as pure functions.

Two schemes: V3 (``ACS3-HMAC-SHA256``, signed headers, the default of Alibaba's current
SDKs) and V1 (``HMAC-SHA1``, signature in the query). Nothing here reads a clock, draws a
nonce or touches the network: callers pass the timestamp and nonce in, so that every
function can be checked against Alibaba's published vectors, and the emulator can verify a
request with the same code a client signs it with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote

__all__ = [
    "EMPTY_PAYLOAD_SHA256",
    "TIMESTAMP_FORMAT",
    "V3_ALGORITHM",
    "V3Signer",
    "canonical_query",
    "percent_encode",
    "sha256_hex",
    "sign_v1",
    "sign_v3",
    "sign_v3_canonical",
    "v1_string_to_sign",
    "v3_authorization",
    "v3_canonical_request",
    "v3_signed_headers",
]

V3_ALGORITHM = "ACS3-HMAC-SHA256"
#: How Alibaba Cloud writes a UTC time: a request's timestamp, an STS credential's expiration.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
V1_SIGNATURE_METHOD = "HMAC-SHA1"
EMPTY_PAYLOAD_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# RFC 3986 unreserved characters stay as they are; everything else, '/' included, is
# percent-encoded in UTF-8 with upper-case hex ('*' -> %2A, ' ' -> %20, '~' kept).
_UNRESERVED = "-_.~"
_NOTHING_TO_ENCODE = re.compile(r"[A-Za-z0-9_.~-]*")

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def percent_encode(value: str) -> str:
    """Encode one query key or value the way Alibaba Cloud's signatures expect."""
    if _NOTHING_TO_ENCODE.fullmatch(value):  # most names, ids and dates
        return value
    return quote(value, safe=_UNRESERVED)


def canonical_query(params: Mapping[str, str]) -> str:
    """The canonical query string: keys sorted, keys and values encoded, ``k=v`` joined by
    ``&``; an empty value is written ``k=``."""
    return "&".join([f"{percent_encode(key)}={percent_encode(params[key])}" for key in sorted(params)])


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data`` (the ``x-acs-content-sha256`` of a body)."""
    if not data:
        return EMPTY_PAYLOAD_SHA256
    return hashlib.sha256(data).hexdigest()


def _signable_headers(headers: Headers) -> dict[str, str]:
    """Lower-cased ``host``, ``content-type`` and ``x-acs-*`` headers, sorted by name; values
    of one name are trimmed, sorted and joined with ``,``."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    grouped: dict[str, list[str]] = {}
    for name, value in items:
        lowered = name.lower()
        if lowered == "host" or lowered == "content-type" or lowered.startswith("x-acs-"):
            grouped.setdefault(lowered, []).append(str(value).strip())
    return {
        name: values[0] if len(values) == 1 else ",".join(sorted(values))
        for name, values in sorted(grouped.items())
    }


def _v3_canonical_request(
    method: str, path: str, query: str, signable: Mapping[str, str], payload_sha256: str
) -> str:
    canonical_headers = "".join([f"{name}:{value}\n" for name, value in signable.items()])
    return "\n".join(
        (method.upper(), path or "/", query, canonical_headers, ";".join(signable), payload_sha256)
    )


def v3_signed_headers(headers: Headers) -> str:
    """The ``SignedHeaders`` list of a V3 signature: the signable header names, sorted,
    joined by ``;``."""
    return ";".join(_signable_headers(headers))


def v3_canonical_request(
    method: str,
    path: str,
    params: Mapping[str, str],
    headers: Headers,
    payload_sha256: str,
) -> str:
    """The V3 canonical request:
    ``METHOD\\nPATH\\nQUERY\\nNAME:VALUE\\n...\\nSIGNED_HEADERS\\nPAYLOAD_SHA256``."""
    return _v3_canonical_request(
        method, path, canonical_query(params), _signable_headers(headers), payload_sha256
    )


def v3_authorization(access_key_id: str, signed_headers: str, canonical_request: str, secret: str) -> str:
    """The ``Authorization`` header value for a canonical request."""
    string_to_sign = f"{V3_ALGORITHM}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"
    signature = hmac.digest(secret.encode(), string_to_sign.encode(), "sha256").hex()
    return f"{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"


def sign_v3(
    method: str,
    path: str,
    params: Mapping[str, str],
    headers: Headers,
    payload_sha256: str,
    access_key_id: str,
    secret: str,
) -> str:
    """Sign a request with ACS3-HMAC-SHA256 and return its ``Authorization`` header.

    ``headers`` must already hold every header to be signed (``host``, ``x-acs-action``,
    ``x-acs-version``, ``x-acs-date``, ``x-acs-signature-nonce``,
    ``x-acs-content-sha256`` and, with an STS token, ``x-acs-security-token``).
    """
    return sign_v3_canonical(
        method, path, canonical_query(params), headers, payload_sha256, access_key_id, secret
    )


def sign_v3_canonical(
    method: str,
    path: str,
    query: str,
    headers: Headers,
    payload_sha256: str,
    access_key_id: str,
    secret: str,
) -> str:
    """:func:`sign_v3` of a query already in canonical form (:func:`canonical_query`), for
    a caller that puts the same string in its URL."""
    signable = _signable_headers(headers)
    canonical_request = _v3_canonical_request(method, path, query, signable, payload_sha256)
    return v3_authorization(access_key_id, ";".join(signable), canonical_request, secret)


class V3Signer:
    """Signs requests that differ only in the values of a few headers (a timestamp, a
    nonce) with ACS3-HMAC-SHA256: the canonical request around those values is laid out
    once, so that signing one more request is a hash and an HMAC. ``repr`` leaves out the
    secret.

    :param headers: the headers every request has (those not signed are ignored).
    :param varying: the names of the signed headers whose values :meth:`authorization`
        takes, in that order.
    """

    __slots__ = ("_authorization_prefix", "_canonical_request", "_secret", "_varying")

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        varying: Sequence[str],
        payload_sha256: str,
        access_key_id: str,
        secret: str,
    ) -> None:
        self._varying = [name.lower() for name in varying]
        # Placeholders that no header value can hold stand for the varying values while
        # the fixed text is sorted and joined; then the rest is escaped for str.format.
        signable = _signable_headers(
            {**headers, **{name: f"\0{index}\0" for index, name in enumerate(varying)}}
        )
        names = ";".join(signable)
        canonical = _v3_canonical_request(method, path, query, signable, payload_sha256)
        canonical = canonical.replace("{", "{{").replace("}", "}}")
        for index in range(len(varying)):
            canonical = canonical.replace(f"\0{index}\0", f"{{{index}}}")
        self._canonical_request = canonical
        self._authorization_prefix = (
            f"{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={names},Signature="
        )
        self._secret = secret.encode()

    def authorization(self, *values: str) -> str:
        """The ``Authorization`` header of the request whose varying headers have ``values``."""
        canonical_request = self._canonical_request.format(*[value.strip() for value in values])
        string_to_sign = f"{V3_ALGORITHM}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"
        return self._authorization_prefix + hmac.digest(self._secret, string_to_sign.encode(), "sha256").hex()

    def __repr__(self) -> str:
        return f"V3Signer({', '.join(self._varying)})"


def v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """The V1 string to sign: ``METHOD&%2F&`` followed by the encoded canonical query."""
    return f"{method.upper()}&%2F&{percent_encode(canonical_query(params))}"


def sign_v1(method: str, params: Mapping[str, str], secret: str) -> str:
    """Sign a request with HMAC-SHA1 and return the ``Signature`` query value (Base64).

    ``params`` are all query parameters but ``Signature`` itself: ``AccessKeyId``,
    ``SignatureNonce``, ``Timestamp``, ``SecurityToken`` and the rest are all signed.
    """
    digest = hmac.digest(f"{secret}&".encode(), v1_string_to_sign(method, params).encode(), "sha1")
    return base64.b64encode(digest).decode()
