"""Signing webhook requests: Standard Webhooks headers, and ``X-MCP-Signature`` for the guide's receiver.

A secret is ``whsec_`` and the base64 of 24 random bytes; its key is those bytes. A secret in
another form (an operator's own ``WEBHOOK_SECRET``) keys with its UTF-8 bytes. Each attempt is
signed anew with its own timestamp:

- ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, one per
  secret in force, space-separated (two while a rotated secret overlaps);
- ``X-MCP-Signature``: ``sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">``, one per secret,
  comma-separated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence

__all__ = ["SECRET_PREFIX", "key_of", "new_secret", "signature_headers"]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix Standard Webhooks gives secrets, not a secret
#: Bytes of randomness in a secret the bridge makes (Standard Webhooks asks for 24 to 64).
SECRET_BYTES = 24


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def key_of(secret: str) -> bytes:
    """The HMAC key a secret stands for."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def signature_headers(delivery_id: str, timestamp: int, body: bytes, keys: Sequence[bytes]) -> list[tuple[str, str]]:
    """The signing headers of one attempt, under each key in force (newest first)."""
    stamp = str(timestamp).encode()
    signed = delivery_id.encode() + b"." + stamp + b"." + body
    standard = " ".join("v1," + base64.b64encode(hmac.digest(key, signed, hashlib.sha256)).decode() for key in keys)
    guide = ", ".join("sha256=" + hmac.new(key, stamp + b"." + body, hashlib.sha256).hexdigest() for key in keys)
    return [
        ("webhook-id", delivery_id),
        ("webhook-timestamp", str(timestamp)),
        ("webhook-signature", standard),
        ("X-MCP-Signature", guide),
    ]
