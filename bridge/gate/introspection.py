"""Opaque access tokens, asked about at the authorization server (RFC 7662 token introspection).

The answer for a token is kept for as long as it says the token lives (``exp``), and no longer
than ``MAX_TTL``, so a busy caller costs the authorization server one request per token; a
token found inactive is remembered for ``INACTIVE_TTL``. At most ``MAX_ENTRIES`` answers are
kept, the oldest dropped first. Tokens are kept by their SHA-256, never as they are.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import requests

from bridge.gate.metadata import fetch_json

__all__ = ["INACTIVE_TTL", "MAX_ENTRIES", "MAX_TTL", "Introspection"]

#: Longest an answer is trusted: a revoked token stops working within this many seconds.
MAX_TTL = 300.0
#: How long a token found inactive stays refused without asking again.
INACTIVE_TTL = 30.0
#: Answers kept at once; past it the oldest go.
MAX_ENTRIES = 10_000


class Introspection:
    """Asks ``url`` about tokens, as the client ``client_id``/``client_secret``; answers are cached."""

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        session: requests.Session,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self._auth = (client_id, client_secret)
        self._session = session
        self._clock = clock
        self._answers: OrderedDict[bytes, tuple[dict[str, Any], float]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, token: str) -> dict[str, Any] | None:
        """The answer for ``token`` while it is kept, else None (``claims`` would ask)."""
        cached = self._answers.get(hashlib.sha256(token.encode()).digest())
        return cached[0] if cached is not None and cached[1] > self._clock() else None

    def claims(self, token: str) -> dict[str, Any]:
        """The introspection answer for ``token`` (``active`` false when it is not valid);
        ``MetadataError`` when the server could not say."""
        found = self.cached(token)
        if found is not None:
            return found
        digest = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        answer = fetch_json(
            self._session,
            "POST",
            self.url,
            data={"token": token, "token_type_hint": "access_token"},
            auth=self._auth,
            headers={"Accept": "application/json"},
        )
        if answer.get("active") is True:
            exp = answer.get("exp")
            until = min(now + MAX_TTL, float(exp)) if isinstance(exp, int | float) else now + MAX_TTL
        else:
            answer = {"active": False}
            until = now + INACTIVE_TTL
        with self._lock:
            self._answers[digest] = (answer, until)
            self._answers.move_to_end(digest)
            while len(self._answers) > MAX_ENTRIES:
                self._answers.popitem(last=False)
        return answer

    def __len__(self) -> int:
        return len(self._answers)
