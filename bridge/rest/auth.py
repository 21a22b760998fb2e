"""API keys: ``Authorization: Bearer K`` or ``X-API-Key: K``, compared in constant time.

Keys have a scope: a plain key may call tools, read resources and render prompts; an admin key
may also register and remove servers. Keys never reach a log line or an error body; a refusal
says only what was missing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Protocol

from bridge.errors import Forbidden, Unauthorized

__all__ = ["ADMIN", "ApiKeyAuth"]

ADMIN = "admin"


class _Headers(Protocol):
    def get(self, key: str, default: str) -> str: ...


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _member(digest: bytes, known: tuple[bytes, ...]) -> bool:
    matched = False
    for candidate in known:  # no early exit: timing does not tell which key matched
        matched |= hmac.compare_digest(digest, candidate)
    return matched


class ApiKeyAuth:
    """Checks a request's credentials. With no keys at all, plain operations are open."""

    def __init__(self, keys: Iterable[str], admin_keys: Iterable[str] = ()) -> None:
        # Digests of equal length make every comparison take the same time, whatever the input.
        self._admin = tuple(_digest(k) for k in admin_keys if k)
        self._plain = tuple(_digest(k) for k in keys if k)

    @property
    def enabled(self) -> bool:
        return bool(self._plain or self._admin)

    @staticmethod
    def _presented(headers: _Headers) -> str | None:
        auth = headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        key = headers.get("X-API-Key", "").strip()
        return key or None

    def check(self, headers: _Headers, scopes: frozenset[str] = frozenset()) -> None:
        needs_admin = ADMIN in scopes
        if not needs_admin and not self.enabled:
            return
        if needs_admin and not self._admin:
            raise Forbidden("managing servers is disabled: the operator has configured no admin key")
        presented = self._presented(headers)
        if presented is None:
            raise Unauthorized("send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
        digest = _digest(presented)
        is_admin = _member(digest, self._admin)
        is_plain = _member(digest, self._plain)
        if not (is_admin or is_plain):
            raise Unauthorized("the API key is not valid")
        if needs_admin and not is_admin:
            raise Forbidden("this operation needs an admin key")
