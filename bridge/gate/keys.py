"""API keys: ``Authorization: Bearer K`` or ``X-API-Key: K``, compared in constant time.

A key stands for a principal: a plain key may call tools, read resources and render prompts
(scope ``use``); an admin key may also register and remove servers (``admin``). With no keys
configured at all, every caller is the anonymous principal, which may use but not manage.
Keys never reach a log line or an error body; a principal is named by its key's fingerprint,
and a refusal says only what was missing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from bridge.errors import Unauthorized
from bridge.gate.credentials import Headers
from bridge.model import ADMIN, USE, Principal

__all__ = ["ApiKeyAuthenticator", "presented_credential"]


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def presented_credential(headers: Headers) -> str | None:
    """The bearer token or ``X-API-Key`` a request carries, if any."""
    auth = headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    key = headers.get("x-api-key", "").strip()
    return key or None


class ApiKeyAuthenticator:
    """Turns a request's API key into its principal."""

    def __init__(self, keys: Iterable[str], admin_keys: Iterable[str] = ()) -> None:
        # Digests of equal length make every comparison take the same time, whatever the input.
        known = [(_digest(k), frozenset({USE})) for k in keys if k]
        known += [(_digest(k), frozenset({USE, ADMIN})) for k in admin_keys if k]
        self._known = tuple(known)
        #: Keys that may manage servers exist at all (else admin operations are simply off).
        self.admin_enabled = any(ADMIN in scopes for _, scopes in self._known)

    @property
    def enabled(self) -> bool:
        return bool(self._known)

    def authenticate(self, headers: Headers) -> Principal:
        if not self._known:
            return Principal.anonymous()
        presented = presented_credential(headers)
        if presented is None:
            raise Unauthorized("send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
        digest = _digest(presented)
        scopes: frozenset[str] = frozenset()
        for candidate, granted in self._known:  # no early exit: timing does not tell which key matched
            if hmac.compare_digest(digest, candidate):
                scopes = scopes | granted
        if not scopes:
            raise Unauthorized("the API key is not valid")
        return Principal(subject="key:" + digest.hex()[:12], scopes=scopes)
