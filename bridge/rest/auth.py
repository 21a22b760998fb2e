"""API keys: ``Authorization: Bearer K`` or ``X-API-Key: K``, compared in constant time.

Keys never reach a log line or an error body; a refusal says only what was missing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Protocol

from bridge.errors import Unauthorized

__all__ = ["ApiKeyAuth"]


class _Headers(Protocol):
    def get(self, key: str, default: str) -> str: ...


class ApiKeyAuth:
    """Checks a request's credentials against the configured keys. No keys: everything passes."""

    def __init__(self, keys: Iterable[str]) -> None:
        # Digests of equal length make every comparison take the same time, whatever the input.
        self._digests = tuple(hashlib.sha256(k.encode()).digest() for k in keys if k)

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    @staticmethod
    def _presented(headers: _Headers) -> str | None:
        auth = headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        key = headers.get("X-API-Key", "").strip()
        return key or None

    def check(self, headers: _Headers) -> None:
        if not self._digests:
            return
        presented = self._presented(headers)
        if presented is None:
            raise Unauthorized("send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
        digest = hashlib.sha256(presented.encode()).digest()
        matched = False
        for known in self._digests:  # no early exit: timing does not tell which key matched
            matched |= hmac.compare_digest(digest, known)
        if not matched:
            raise Unauthorized("the API key is not valid")
