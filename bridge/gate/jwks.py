"""An issuer's signing keys (a JWKS), cached, and fetched again when a token names a key not seen yet.

Issuers rotate keys by publishing the new one beside the old, then signing with it: a token
whose ``kid`` is unknown makes the set fetched again, at most once per ``REFRESH_INTERVAL``, so
a flood of tokens with made-up ``kid``s costs the issuer one request per interval and the
bridge no more than a dictionary lookup each. Each key is imported once (joserfc), when first
used; one that names its own ``alg`` serves that algorithm only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key

from bridge.gate.metadata import MetadataError, fetch_json

__all__ = ["REFRESH_INTERVAL", "KeySet"]

log = logging.getLogger(__name__)

#: Seconds between fetches of the key set on unknown ``kid``s.
REFRESH_INTERVAL = 10.0


class KeySet:
    """The keys at ``url``; ``key(kid, alg)`` answers one or None."""

    def __init__(self, url: str, session: requests.Session, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._session = session
        self._clock = clock
        self._jwks: dict[str | None, dict[str, Any]] = {}
        self._built: dict[tuple[str | None, str], Key | None] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        #: Bumped whenever the set changes, so what was checked against the old set can be forgotten.
        self.version = 0

    def load(self) -> None:
        """Fetch the set now (at start: the first token should not wait for it); ``MetadataError`` on failure."""
        with self._lock:
            self._fetch()

    def key(self, kid: str | None, alg: str) -> Key | None:
        if (kid, alg) in self._built:
            return self._built[(kid, alg)]
        if kid not in self._jwks:
            self._refresh()
        jwk = self._jwks.get(kid)
        if jwk is None:
            return None
        built = _build(jwk, alg)
        self._built[(kid, alg)] = built
        return built

    def must_fetch(self, kid: str | None) -> bool:
        """Whether ``key(kid, …)`` would fetch the set now (an unknown ``kid``, and the interval is over)."""
        if kid in self._jwks:
            return False
        return self._fetched_at is None or self._clock() - self._fetched_at >= REFRESH_INTERVAL

    def _refresh(self) -> None:
        with self._lock:
            now = self._clock()
            if self._fetched_at is not None and now - self._fetched_at < REFRESH_INTERVAL:
                return
            try:
                self._fetch()
            except MetadataError as exc:
                self._fetched_at = now  # a failed fetch also waits out the interval
                log.warning("the signing keys could not be fetched again: %s", exc)

    def _fetch(self) -> None:
        self._fetched_at = self._clock()
        document = fetch_json(self._session, "GET", self.url)
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise MetadataError(f"{self.url} is not a JWK set (no 'keys' list)")
        usable = {}
        for jwk in keys:
            if isinstance(jwk, dict) and jwk.get("use", "sig") == "sig" and isinstance(jwk.get("kid", ""), str):
                usable[jwk.get("kid")] = jwk
        if usable != self._jwks:
            self._jwks = usable
            self._built = {}
            self.version += 1
            log.info("signing keys from %s: %s", self.url, ", ".join(sorted(str(k) for k in usable)) or "none")


def _build(jwk: dict[str, Any], alg: str) -> Key | None:
    """``jwk`` as a key for ``alg``, or None when it cannot be (its own ``alg`` differs, or it is not a key).

    Whether its type fits the algorithm is checked where it is used (joserfc refuses an RSA key
    for ES256, or any public key for HMAC)."""
    if jwk.get("alg", alg) != alg:
        return None
    try:
        return JWKRegistry.import_key(jwk)
    except (JoseError, ValueError, KeyError, TypeError):
        return None
