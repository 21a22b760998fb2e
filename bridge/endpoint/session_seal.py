"""Handshake-era session ids that carry their session: sealed, so any instance holding the key can revive it.

A 2025-era MCP client opens a session with ``initialize`` and sends its id on every request
after. Behind a load balancer those requests reach instances that never saw the handshake. So
the id itself carries what the handshake settled (the client's requested protocol version,
capabilities and identity) and who opened it (the principal's subject), as a JWE (RFC 7516,
compact form, ``dir`` with A256GCM: encrypted and authenticated in one, by joserfc): an instance
that does not know a session opens its id and revives it as it was, and no instance needs to
ask another or a shared store. Nothing in an id can be read or altered without the key.

The key comes from the operator's secret (``--session-secret-file``, the same on every instance),
stretched with HKDF-SHA256; without one each process makes its own, and its sessions are its
own, as before.
"""

from __future__ import annotations

import os
from typing import Final

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from bridge.model import JSON

__all__ = ["MIN_SECRET_BYTES", "SessionSeal"]

#: The shortest operator secret taken: 32 bytes (of any text), as for the other secrets.
MIN_SECRET_BYTES: Final = 32
_HEADER: Final = {"alg": "dir", "enc": "A256GCM"}
_ALGORITHMS: Final = ["dir", "A256GCM"]
_INFO: Final = b"mcp-bridge handshake-era session ids v1"
#: Longer ids are not ours (ours are a few hundred characters): refused before any decryption.
_MAX_ID: Final = 8192


class SessionSeal:
    """Seals a session's state into its id, and opens ids sealed with the same key."""

    def __init__(self, secret: bytes | None = None) -> None:
        if secret is None:
            raw = os.urandom(32)
        else:
            if len(secret) < MIN_SECRET_BYTES:
                raise ValueError(f"the session secret must be at least {MIN_SECRET_BYTES} bytes")
            raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)
        self._key = OctKey.import_key(raw)

    def seal(self, state: JSON) -> str:
        """An id holding ``state``; each call a new one (the nonce is random), in visible ASCII."""
        return jwe.encrypt_compact(_HEADER, orjson.dumps(state), self._key, algorithms=_ALGORITHMS)

    def open(self, session_id: str) -> JSON | None:
        """The state ``session_id`` holds; None for an id this key did not seal (or one tampered with)."""
        if len(session_id) > _MAX_ID or session_id.count(".") != 4:
            return None
        try:
            opened = jwe.decrypt_compact(session_id, self._key, algorithms=_ALGORITHMS)
            state = orjson.loads(opened.plaintext or b"")
        except (JoseError, ValueError):
            return None
        return state if isinstance(state, dict) else None
