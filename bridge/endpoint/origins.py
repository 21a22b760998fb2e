"""Which browser pages may reach the bridge, and the CORS answers that let an allowed one read it.

A page of another site can make a user's browser send requests to a bridge it can reach (one on
the user's loopback, say). Two checks stop that, on every HTTP request before any route:

- ``Host`` (DNS rebinding): a bridge bound to a loopback address answers only to loopback names
  (``127.0.0.1``, ``[::1]``, ``localhost``) and the operator's ``--allowed-host`` names. A page on
  ``evil.example`` whose name was re-pointed at 127.0.0.1 sends ``Host: evil.example``, even
  for same-origin GETs, which carry no ``Origin``. A bridge bound to another interface sits
  behind names only its operator knows, so there ``Host`` is not checked.
- ``Origin``: a request carrying one comes from a page; it is let in only from the bridge's own
  origin (the scheme and ``Host`` it was reached by) or an operator's ``--allowed-origin``.

Anything else is 403 problem+json. CORS is off unless ``--allowed-origin`` is given: only then
do answers to those origins carry ``Access-Control-Allow-Origin`` (named exactly, never ``*``)
and preflights get 204. Credentials are headers (``Authorization``, ``X-API-Key``) the page
sets itself, never cookies, so ``Access-Control-Allow-Credentials`` is never sent. A request
without ``Origin`` and with a good ``Host`` costs one pass over its header list.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, MutableMapping
from typing import Any, Final

from bridge.errors import ForeignOrigin

from .http import Headers, Scope, Send

__all__ = ["ALLOWED_HEADERS", "ALLOWED_METHODS", "PREFLIGHT_MAX_AGE", "Origins", "is_preflight"]

#: Methods a page of an allowed origin may use: those of the REST API and /mcp.
ALLOWED_METHODS: Final = "GET, POST, PUT, PATCH, DELETE"
#: Request headers it may set: credentials, content negotiation, MCP's and the API's own.
ALLOWED_HEADERS: Final = (
    "authorization, x-api-key, content-type, accept, prefer, x-request-id, idempotency-key, last-event-id, "
    "mcp-protocol-version, mcp-session-id, mcp-method, mcp-name"
)
#: Response headers it may read besides the CORS-safelisted ones.
EXPOSED_HEADERS: Final = (
    b"location, retry-after, ratelimit, ratelimit-policy, www-authenticate, preference-applied, "
    b"mcp-session-id, mcp-protocol-version"
)
#: Seconds a browser may reuse a preflight's answer: long enough to spare round trips, short
#: enough that removing an origin takes effect soon.
PREFLIGHT_MAX_AGE: Final = b"600"
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost."})


class Origins:
    """The Host and Origin policy of one bridge, checked before any route."""

    def __init__(
        self, allowed_origins: Iterable[str] = (), bind_host: str = "127.0.0.1", allowed_hosts: Iterable[str] = ()
    ) -> None:
        self._allowed = frozenset(_normal(o) for o in allowed_origins)
        self._hosts = frozenset(h.strip().lower() for h in allowed_hosts)
        self._check_host = _is_loopback(bind_host)
        self._good_hosts: set[bytes] = set()  # Host values seen and found good: checked once each

    def check(self, headers: Headers, secure: bool = False) -> str | None:
        """The origin of an allowed page of another site (it gets CORS headers), else None; 403 if refused."""
        host = headers.get("host", "")
        if host and self._check_host:
            self._require_host(host.encode("latin-1"))
        origin = headers.get("origin", "")
        if not origin:
            return None
        if host and _normal(origin) == f"{'https' if secure else 'http'}://{host}".lower():
            return None
        if _normal(origin) in self._allowed:
            return origin
        raise ForeignOrigin(
            f"pages from the origin {origin!r} may not use this bridge; the operator can allow it (--allowed-origin)"
        )

    def needs_check(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether a request with these headers (as parsed) carries ``Origin`` or a ``Host`` not yet
        found good: one pass, no decoding."""
        for key, value in headers:
            if key == b"origin" or (key == b"host" and self._check_host and value not in self._good_hosts):
                return True
        return False

    def needs_check_of(self, headers: Headers) -> bool:
        """``needs_check`` for headers already read into one value per name (the caller makes sure
        no name came twice: a second ``Host`` would not be seen here)."""
        if "origin" in headers:
            return True
        host = headers.get("host", "")
        return bool(host) and not self.knows_host(host.encode("latin-1"))

    def knows_host(self, host: bytes) -> bool:
        """Whether a request's ``Host`` of this value needs no check: found good before, or none are checked."""
        return not self._check_host or host in self._good_hosts

    def _require_host(self, host: bytes) -> None:
        if host in self._good_hosts:
            return
        name = _hostname(host.decode("latin-1"))
        if name in self._hosts or name in _LOOPBACK_NAMES or name.endswith(".localhost") or _is_loopback(name):
            if len(self._good_hosts) < 64:  # a caller cannot grow this past a few names
                self._good_hosts.add(host)
            return
        raise ForeignOrigin(
            f"this bridge does not answer to the name {name[:100]!r}; the operator can allow it (--allowed-host)"
        )

    def cors_send(self, send: Send, origin: str) -> Send:
        """``send`` that adds the CORS headers for ``origin`` (an allowed one) to the response."""
        added = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-expose-headers", EXPOSED_HEADERS),
            (b"vary", b"origin"),
        ]

        async def with_cors(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        return with_cors

    @staticmethod
    async def preflight(send: Send, origin: str) -> None:
        """204 to an allowed origin's preflight: what it may send, and for how long it may remember."""
        headers = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
            (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
            (b"access-control-max-age", PREFLIGHT_MAX_AGE),
            (b"vary", b"origin, access-control-request-method, access-control-request-headers"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def is_preflight(scope: Scope, headers: Headers) -> bool:
    return scope["method"] == "OPTIONS" and bool(headers.get("access-control-request-method", ""))


def _hostname(host: str) -> str:
    """``host`` of a ``Host`` header without its port (``[::1]:8000`` → ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _is_loopback(name: str) -> bool:
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _normal(origin: str) -> str:
    return origin.strip().rstrip("/").lower()
