"""Handshake-era session ids that carry their session: sealed, so any instance holding the key can revive it.

A 2025-era MCP client opens a session with ``initialize`` and sends its id on every request
after. Behind a load balancer those requests reach instances that never saw the handshake. So
the id itself carries what the handshake settled (the client's requested protocol version,
capabilities and identity) and who opened it (the principal's subject), as a JWE (RFC 7516,
compact form, ``dir`` with A256GCM: encrypted and authenticated in one, by joserfc; the id is
``m1.`` and its nonce, ciphertext and tag in hex, the header being the same for every id, so
nothing in an id looks like a token to a log scrubber): an instance
that does not know a session opens its id and revives it as it was, and no instance needs to
ask another or a shared store. Nothing in an id can be read or altered without the key.

The key comes from the operator's secret (``--session-secret-file``, the same on every instance),
stretched with HKDF-SHA256; without one each process makes its own, and its sessions are its
own, as before.
"""

from __future__ import annotations

import os
from base64 import urlsafe_b64decode, urlsafe_b64encode
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
#: What an id begins with: this format, version 1.
_PREFIX: Final = "m1."


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
        #: The JWE's protected header (and its empty encrypted key): the same for every id, so left out of them.
        self._head = self._compact(b"").rsplit(".", 3)[0] + "."

    def seal(self, state: JSON) -> str:
        """An id holding ``state``; each call a new one (the nonce is random), in visible ASCII."""
        token = self._compact(orjson.dumps(state))
        if not token.startswith(self._head):  # joserfc wrote another header: a bug, never an id
            raise RuntimeError("the session id's JWE header changed")
        parts = token[len(self._head) :].split(".")
        return _PREFIX + ".".join(urlsafe_b64decode(part + "=" * (-len(part) % 4)).hex() for part in parts)

    def open(self, session_id: str) -> JSON | None:
        """The state ``session_id`` holds; None for an id this key did not seal (or one tampered with)."""
        if len(session_id) > _MAX_ID or not session_id.startswith(_PREFIX) or session_id.count(".") != 3:
            return None
        try:
            parts = [urlsafe_b64encode(bytes.fromhex(part)).rstrip(b"=").decode() for part in session_id[3:].split(".")]
            opened = jwe.decrypt_compact(self._head + ".".join(parts), self._key, algorithms=_ALGORITHMS)
            state = orjson.loads(opened.plaintext or b"")
        except (JoseError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def _compact(self, plaintext: bytes) -> str:
        return jwe.encrypt_compact(_HEADER, plaintext, self._key, algorithms=_ALGORITHMS)
