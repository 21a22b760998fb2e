"""API keys given to the bridge at start (``--api-key``, ``--admin-key`` and the environment),
compared in constant time.

A plain key may call tools (destructive ones too), read resources and render prompts (scopes
``use`` and ``destructive``); an admin key may also register and remove servers and manage keys
(``admin``). Keys never reach a log line or an error body; a
principal is named by its key's fingerprint, and a refusal says only what was missing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from bridge.gate.credentials import Authenticator
from bridge.model import ADMIN, DESTRUCTIVE, USE, Principal

__all__ = ["ApiKeyAuthenticator", "StaticKeys"]


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class StaticKeys:
    """The keys given at start: a credential source (``bridge.gate.credentials``)."""

    def __init__(self, keys: Iterable[str], admin_keys: Iterable[str] = ()) -> None:
        # Digests of equal length make every comparison take the same time, whatever the input.
        known = [(_digest(k), frozenset({USE, DESTRUCTIVE})) for k in keys if k]
        known += [(_digest(k), frozenset({USE, DESTRUCTIVE, ADMIN})) for k in admin_keys if k]
        self._known = tuple(known)
        self.may_admin = any(ADMIN in scopes for _, scopes in self._known)
        #: Each known key's principal, made on its first use (it never changes): asked on every request.
        self._principals: dict[bytes, Principal] = {}

    @property
    def enabled(self) -> bool:
        return bool(self._known)

    def principal_for(self, credential: str) -> Principal | None:
        digest = _digest(credential)
        scopes: frozenset[str] = frozenset()
        for candidate, granted in self._known:  # no early exit: timing does not tell which key matched
            if hmac.compare_digest(digest, candidate):
                scopes = scopes | granted
        if not scopes:
            return None
        principal = self._principals.get(digest)  # a known key's digest: looked up after the comparisons
        if principal is None:
            principal = self._principals[digest] = Principal(subject="key:" + digest.hex()[:12], scopes=scopes)
        return principal


class ApiKeyAuthenticator(Authenticator):
    """An authenticator with the start-up keys as its one source."""

    def __init__(self, keys: Iterable[str], admin_keys: Iterable[str] = ()) -> None:
        super().__init__([StaticKeys(keys, admin_keys)])
