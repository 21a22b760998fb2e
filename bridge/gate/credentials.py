"""How an edge hands a request's credentials to the gate, and how the gate turns them into a principal."""

from __future__ import annotations

from typing import Protocol

from bridge.model import Principal

__all__ = ["Authenticator", "Headers"]


class Headers(Protocol):
    """A request's headers, looked up by lower-case name."""

    def get(self, key: str, default: str) -> str: ...


class Authenticator(Protocol):
    """Credentials → principal; raises ``Unauthorized`` for missing or invalid ones."""

    @property
    def admin_enabled(self) -> bool:
        """Whether any principal may ever hold the ``admin`` scope (else admin operations are off)."""
        ...

    def authenticate(self, headers: Headers) -> Principal: ...
