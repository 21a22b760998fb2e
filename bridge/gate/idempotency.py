"""Idempotency-Key on tool calls (draft-ietf-httpapi-idempotency-key-header): a retry runs nothing twice.

A caller sends a key it made up with a call; the first answer is kept (``bridge.store.idempotency``)
and given again, marked ``Idempotent-Replayed: true``, to every later request with that key and
the same fingerprint (method, path and the parsed body as canonical JSON, SHA-256). The same key
with another request is 422 (``IdempotencyKeyReused``); while the first is still being answered,
409 with ``Retry-After`` (``IdempotencyKeyInFlight``). Keys are per caller (the principal's
subject) and kept ``ttl`` seconds (24 h by default), then swept.

Which answers are kept: those of a tool that ran (2xx, and 422 ``ToolFailed``: the tool reported
an error, and running it again would do its work again). Refusals made before the tool ran (400,
403, 404, 409, 429) and upstream failures (5xx) are not kept, and the key is free again, so a
retry runs; the draft leaves this to the resource, and a 503 or a timeout is exactly what a
client retries on.

Crashes: a key being answered is held in memory only, so one lost in a crash is free again after
the restart and a retry runs. An answer to keep is committed before it is sent (the edge waits
for the store's writer), so an answer a caller could have seen is always found after a restart.
The hold is released after that commit, so no duplicate slips between the two.

Edges (the tool-call route on the loop, Flask) use ``Idempotency.claim`` (never blocks), then
``Claim.earlier`` (reads the store: from a worker thread on the loop), then ``Claim.keep`` and
``Claim.release``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from bridge.errors import FieldError, IdempotencyKeyInFlight, IdempotencyKeyReused, RequestInvalid, ToolFailed
from bridge.store.database import Transaction
from bridge.store.idempotency import IdempotencyStore, KeptAnswer
from bridge.store.writer import Done, StoreWriter

__all__ = [
    "COMMIT_WAIT",
    "DEFAULT_TTL",
    "HEADER",
    "REPLAYED",
    "Answer",
    "Claim",
    "Idempotency",
    "fingerprint",
    "keeps",
    "not_kept",
    "parse_key",
]

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
#: Marks a replayed answer, as payment APIs that popularised keys do.
REPLAYED = "Idempotent-Replayed"
#: A day: long enough for any client's retries, as the draft's examples and Stripe keep them.
DEFAULT_TTL = 24 * 3600.0
#: Longest key taken: a UUID is 36; 255 leaves room for a client's own prefixes.
MAX_KEY_LENGTH = 255
#: Seconds a caller is told to wait before asking again for a key still being answered.
RETRY_AFTER = 1
#: Seconds an answer waits for its commit before it is sent anyway: a stuck disk must not hold callers.
COMMIT_WAIT = 10.0
#: Expired answers are swept at most this often (seconds), by the writes that keep new ones.
SWEEP_EVERY = 60.0
POINTER = "/headers/Idempotency-Key"
#: Headers not kept with an answer: about the connection, or recomputed when it is replayed.
_NOT_KEPT = frozenset({"content-length", "connection", "date", "server", "transfer-encoding", REPLAYED.lower()})
#: The draft's value is a Structured Field String; a bare token (the older, common spelling) is taken too.
_SF_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_UNESCAPE = re.compile(r"\\([\"\\])")


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer as it is kept and replayed: status, headers that matter, body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @classmethod
    def of(cls, status: int, headers: Sequence[tuple[str, str]], body: bytes) -> Answer:
        """``status``, ``headers`` (those worth keeping) and ``body``."""
        return cls(status, tuple((k, v) for k, v in headers if k.lower() not in _NOT_KEPT), body)

    def replayed(self) -> tuple[tuple[str, str], ...]:
        """The headers to send with it again."""
        return (*self.headers, (REPLAYED, "true"))


def parse_key(values: Sequence[str]) -> str:
    """The key in the request's ``Idempotency-Key`` field lines; 400 pointing at the header otherwise."""
    if len(values) != 1:
        raise _bad_key("send one Idempotency-Key header, not several")
    value = values[0].strip(" \t")
    quoted = _SF_STRING.fullmatch(value)
    if quoted is not None:
        key = _UNESCAPE.sub(r"\1", quoted.group(1))
    elif _TOKEN.fullmatch(value):
        key = value
    else:
        raise _bad_key(
            "the Idempotency-Key is neither a quoted string of printable ASCII (RFC 8941) nor a token (RFC 9110)"
        )
    if not key:
        raise _bad_key("the Idempotency-Key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise _bad_key(f"the Idempotency-Key is {len(key)} characters long; at most {MAX_KEY_LENGTH} are taken")
    return key


def _bad_key(message: str) -> RequestInvalid:
    return RequestInvalid(message, [FieldError(POINTER, message)])


def fingerprint(method: str, path: str, body: Any) -> str:
    """What makes two requests the same: method, path and the body as canonical JSON, hashed."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(
        b"%s %s\n%s" % (method.encode(), path.encode("utf-8", "surrogateescape"), canonical)
    ).hexdigest()


def keeps(status: int, error: BaseException | None) -> bool:
    """Whether an answer is kept for its key: the tool ran (2xx), or ran and reported an error."""
    if error is None:
        return 200 <= status < 300
    return isinstance(error, ToolFailed)


class Idempotency:
    """Every caller's keys: those being answered (here) and the answers kept (in the store)."""

    def __init__(
        self,
        store: IdempotencyStore,
        writer: StoreWriter,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self._writer = writer
        self._clock = clock
        self._lock = threading.Lock()
        #: (subject, key) → fingerprint of the request being answered for it.
        self._held: dict[tuple[str, str], str] = {}
        self._swept = 0.0

    def claim(self, subject: str, key: str, print_: str) -> Claim:
        """Hold ``subject``'s ``key`` for the request ``print_``; 409 (or 422) while another holds it."""
        held = (subject, key)
        with self._lock:
            running = self._held.get(held)
            if running is None:
                self._held[held] = print_
                return Claim(self, subject, key, print_)
        if running != print_:
            raise _reused()
        raise IdempotencyKeyInFlight(
            "the first request with this Idempotency-Key is still being answered; send it again shortly",
            retry_after=RETRY_AFTER,
        )

    def _release(self, subject: str, key: str) -> None:
        with self._lock:
            self._held.pop((subject, key), None)

    def _keep(self, subject: str, key: str, answer: KeptAnswer, done: Done) -> None:
        now = self._clock()
        sweep = now - self._swept >= min(self.ttl, SWEEP_EVERY)
        if sweep:
            self._swept = now

        def write(tx: Transaction) -> None:
            if sweep:
                IdempotencyStore.sweep(tx, now)
            IdempotencyStore.keep(tx, subject, key, answer, now)

        self._writer.submit(write, done)


class Claim:
    """A key held while the first request with it is answered; ``release()`` it in every case."""

    __slots__ = ("_keys", "fingerprint", "key", "subject")

    def __init__(self, keys: Idempotency, subject: str, key: str, print_: str) -> None:
        self._keys = keys
        self.subject = subject
        self.key = key
        self.fingerprint = print_

    def earlier(self) -> Answer | None:
        """The answer kept for this key, if any (422 when it answered another request). Reads the
        store: call it from a worker thread, not the loop."""
        kept = self._keys.store.find(self.subject, self.key, self._keys._clock())
        if kept is None:
            return None
        if kept.fingerprint != self.fingerprint:
            raise _reused()
        return Answer(kept.status, kept.headers, kept.body.encode())

    def keep(self, answer: Answer, done: Done) -> None:
        """Keep ``answer`` for the key; ``done`` hears when it is committed (on the writer's thread).
        The edge sends the answer after that, then releases the claim."""
        kept = KeptAnswer(
            fingerprint=self.fingerprint,
            status=answer.status,
            headers=answer.headers,
            body=answer.body.decode("utf-8", "replace"),
            expires_at=self._keys._clock() + self._keys.ttl,
        )
        self._keys._keep(self.subject, self.key, kept, done)

    def keep_and_wait(self, answer: Answer) -> None:
        """``keep`` from a worker thread, returning once the answer is committed (or could not be)."""
        written = threading.Event()
        failures: list[BaseException] = []

        def done(failure: BaseException | None) -> None:  # on the writer's thread
            if failure is not None:
                failures.append(failure)
            written.set()

        self.keep(answer, done)
        if not written.wait(COMMIT_WAIT):
            failures.append(TimeoutError(f"not committed within {COMMIT_WAIT:g} s"))
        if failures:
            not_kept(failures[0])

    def release(self) -> None:
        """Let the key go (again: harmless); a later request with it finds the kept answer, or runs."""
        self._keys._release(self.subject, self.key)


def not_kept(failure: BaseException) -> None:
    """An answer that could not be kept is still sent: the tool ran. A retry may run it again."""
    log.warning("an answer for an Idempotency-Key could not be kept: %s", failure)


def _reused() -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        "this Idempotency-Key was sent with another request (another tool or other arguments); "
        "use a new key for a new request"
    )
