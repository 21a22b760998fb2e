"""What the bridge learns from an authorization server over HTTP: its metadata, found by issuer.

OpenID Connect discovery (``/.well-known/openid-configuration``) and RFC 8414
(``/.well-known/oauth-authorization-server``, inserted before the issuer's path) are tried in
that order; the document must name the issuer it was asked for (RFC 8414 §3.3), or a server
could hand out another's keys. Every fetch is bounded by ``FETCH_TIMEOUT``: these run while a
request waits (a key the bridge has not seen), so they must be short.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

__all__ = ["FETCH_TIMEOUT", "AuthorizationServer", "MetadataError", "fetch_json"]

#: Seconds any one fetch from the authorization server may take (connect and read each).
FETCH_TIMEOUT = 3.0
#: Bytes of a metadata, key set or introspection answer read at most: they are a few KiB.
MAX_DOCUMENT = 1024 * 1024


class MetadataError(Exception):
    """The authorization server could not be asked, or answered something unusable."""


def fetch_json(session: requests.Session, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    """A JSON object from ``url``; ``MetadataError`` for anything else (no redirect is followed)."""
    try:
        response = session.request(method, url, timeout=FETCH_TIMEOUT, allow_redirects=False, stream=True, **kwargs)
        with response:
            raw = response.raw.read(MAX_DOCUMENT + 1, decode_content=True)
            if response.status_code != 200:
                raise MetadataError(f"{url} answered HTTP {response.status_code}")
    except requests.RequestException as exc:
        raise MetadataError(f"{url} could not be reached: {type(exc).__name__}") from exc
    if len(raw) > MAX_DOCUMENT:
        raise MetadataError(f"{url} answered more than {MAX_DOCUMENT} bytes")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MetadataError(f"{url} did not answer JSON") from exc
    if not isinstance(document, dict):
        raise MetadataError(f"{url} did not answer a JSON object")
    return document


class AuthorizationServer:
    """An issuer's metadata document, as discovered."""

    def __init__(self, issuer: str, document: dict[str, Any]) -> None:
        self.issuer = issuer
        self.document = document

    @classmethod
    def discover(cls, issuer: str, session: requests.Session) -> AuthorizationServer:
        errors: list[str] = []
        for url in _metadata_urls(issuer):
            try:
                document = fetch_json(session, "GET", url)
            except MetadataError as exc:
                errors.append(str(exc))
                continue
            if document.get("issuer") != issuer:
                raise MetadataError(f"{url} names the issuer {document.get('issuer')!r}, not {issuer!r}")
            return cls(issuer, document)
        raise MetadataError(f"no metadata for the issuer {issuer}: {'; '.join(errors)}")

    def endpoint(self, name: str) -> str | None:
        value = self.document.get(name)
        return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def _metadata_urls(issuer: str) -> list[str]:
    parts = urlsplit(issuer)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    return [
        f"{origin}{path}/.well-known/openid-configuration",
        f"{origin}/.well-known/oauth-authorization-server{path}",
    ]
