"""What the bridge sends an HTTP upstream on each request: its own token, and what it says of the caller.

One ``httpx2.Auth`` flow per connection, so every request the SDK makes (handshake, listings,
pings, calls, the event stream) passes it:

- OAuth 2.0 client credentials (``ClientCredentials``): the access token is fetched from the
  token endpoint, kept, and fetched again shortly before it expires (``AccessToken``); when the
  upstream answers 401 anyway (revoked, or its clock runs ahead), a new one is fetched once and
  the request sent once more. A 401 means the request was refused, not run, so a tool call never
  runs twice. A token endpoint that refuses or fails raises ``TokenUnavailable``, an httpx2
  transport error: the connection is dropped and retried with backoff like an unreachable
  upstream, and its reason is the server's ``lastError`` (503 to callers meanwhile).
- The caller, for requests made on its behalf: ``calling_as`` sets it for the duration of one
  request, and the SDK carries the context to the task that posts it. A ``subjectHeader`` gets
  the principal's subject; ``forwardCallerToken`` puts the caller's own bearer token in place of
  the bridge's. Requests the bridge makes for itself carry neither.

authlib's client for this is built on httpx, not httpx2, and the grant is one form POST, so it
is written here; tokens and secrets never reach a log line or an error message.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncGenerator, Generator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import quote

import httpx2

from bridge.config import ClientCredentials
from bridge.model import Principal

__all__ = ["TOKEN_TIMEOUT", "AccessToken", "TokenUnavailable", "UpstreamAuth", "calling_as"]

#: A token endpoint that does not answer within this is failing (the connection attempt retries).
TOKEN_TIMEOUT = 10.0
#: A token is renewed once less than this is left of it, so none expires on its way upstream.
RENEW_BEFORE = 60.0
#: ... or less than this share of its lifetime, for tokens that live only minutes.
RENEW_SHARE = 0.2
#: A token endpoint's error description is quoted up to this many characters.
DESCRIPTION_CHARS = 200

_CALLER: ContextVar[Principal | None] = ContextVar("upstream_caller", default=None)


@contextmanager
def calling_as(caller: Principal) -> Iterator[None]:
    """Requests sent upstream inside this block are made for ``caller``."""
    reset = _CALLER.set(caller)
    try:
        yield
    finally:
        _CALLER.reset(reset)


class TokenUnavailable(httpx2.TransportError):
    """No access token could be had from the token endpoint; the message says why, without secrets."""


class AccessToken:
    """One upstream's access token by the client credentials grant: kept, renewed before it expires.

    Lives as long as its server (a reconnect keeps a token still valid); one fetch at a time,
    so many calls needing a token at once wait for the same one.
    """

    def __init__(self, grant: ClientCredentials) -> None:
        self._grant = grant
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def current(self, http: httpx2.AsyncClient) -> str:
        """A token that is not about to expire, fetched if need be."""
        token = self._token
        if token is not None and time.monotonic() < self._renew_at:
            return token
        async with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                await self._fetch(http)
            assert self._token is not None
            return self._token

    async def renew(self, http: httpx2.AsyncClient, refused: str) -> str:
        """A new token after the upstream refused ``refused``, unless another request got one meanwhile."""
        async with self._lock:
            if self._token is None or self._token == refused:
                await self._fetch(http)
            assert self._token is not None
            return self._token

    async def _fetch(self, http: httpx2.AsyncClient) -> None:
        grant = self._grant
        form = {"grant_type": "client_credentials"}
        headers = {"Accept": "application/json"}
        if grant.client_auth == "basic":  # RFC 6749 §2.3.1: each part form-encoded, then Basic
            pair = f"{quote(grant.client_id, safe='')}:{quote(grant.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        else:
            form |= {"client_id": grant.client_id, "client_secret": grant.client_secret}
        for key in ("scope", "audience", "resource"):
            value = getattr(grant, key)
            if value is not None:
                form[key] = value
        asked = time.monotonic()  # lifetimes count from before the request: never too late
        try:
            response = await http.post(grant.token_url, data=form, headers=headers, timeout=TOKEN_TIMEOUT)
        except httpx2.TimeoutException:
            raise TokenUnavailable(
                f"the token endpoint {grant.token_url} did not answer within {TOKEN_TIMEOUT:g} s"
            ) from None
        except httpx2.TransportError as exc:
            raise TokenUnavailable(f"cannot reach the token endpoint {grant.token_url}: {exc}") from None
        token, lifetime = _read_token(response, grant.token_url)
        self._token = token
        if lifetime is None:  # no expiry given: kept until the upstream refuses it
            self._renew_at = float("inf")
        else:
            self._renew_at = asked + lifetime - min(RENEW_BEFORE, lifetime * RENEW_SHARE)


def _read_token(response: httpx2.Response, url: str) -> tuple[str, float | None]:
    """The access token and its lifetime in seconds, or ``TokenUnavailable`` saying what was wrong."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            said = body["error"][:DESCRIPTION_CHARS]
            description = body.get("error_description")
            if isinstance(description, str) and description:
                said += f" ({description[:DESCRIPTION_CHARS]})"
            raise TokenUnavailable(f"the token endpoint {url} refused the client credentials: {said}")
        raise TokenUnavailable(f"the token endpoint {url} answered HTTP {response.status_code}")
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str) or not body["access_token"]:
        raise TokenUnavailable(f"the token endpoint {url} answered without an access_token")
    kind = body.get("token_type")
    if not isinstance(kind, str) or kind.lower() != "bearer":
        raise TokenUnavailable(f"the token endpoint {url} answered a token that is not a bearer token")
    lifetime = body.get("expires_in")
    if lifetime is not None and (isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0):
        raise TokenUnavailable(f"the token endpoint {url} answered an expires_in that is not a positive number")
    return body["access_token"], None if lifetime is None else float(lifetime)


class UpstreamAuth(httpx2.Auth):
    """The flow every request to one upstream passes; see the module's notes.

    ``tokens`` is the client the token endpoint is asked with (one of its own: a token request
    must not pass this flow), given with ``token``.
    """

    def __init__(
        self,
        token: AccessToken | None,
        tokens: httpx2.AsyncClient | None,
        *,
        subject_header: str | None = None,
        forward_caller_token: bool = False,
    ) -> None:
        self._token = token
        self._tokens = tokens
        self._subject_header = subject_header
        self._forward = forward_caller_token

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("UpstreamAuth works with httpx2.AsyncClient only")

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        caller = _CALLER.get()
        if caller is not None:
            if self._subject_header is not None:
                request.headers[self._subject_header] = _header_value(caller.subject)
            if self._forward and caller.credential is not None:
                request.headers["Authorization"] = f"Bearer {caller.credential}"
                yield request
                return
        if self._token is None or self._tokens is None:
            yield request
            return
        token = await self._token.current(self._tokens)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {await self._token.renew(self._tokens, token)}"
            yield request


def _header_value(subject: str) -> str:
    """``subject`` as it is when it is visible ASCII, else percent-encoded (a header holds no CR, LF or UTF-8)."""
    if subject.isascii() and subject.isprintable():
        return subject
    return quote(subject, safe="")
