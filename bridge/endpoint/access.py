"""Who may open the event stream and the WebSocket: the one gate, plus what browsers need.

A browser's ``EventSource`` cannot set headers and its ``WebSocket`` can offer only
subprotocols, so besides the gate's ``Authorization``/``X-API-Key`` headers these edges take

- a *ticket*: ``POST /mcp/stream/tickets`` (with a key, as every request) hands out a random
  token bound to the caller's principal, good once and for ``TICKET_TTL`` seconds; the page
  then opens ``/mcp/stream?ticket=…`` or ``/ws?ticket=…``. A ticket in a URL is as good as
  spent once used, so a copy in a proxy's log is worth nothing; the bridge itself logs paths
  without their query strings;
- on the WebSocket only, the key offered as a subprotocol (``mcp-bridge.key.<key>``) beside
  ``mcp-bridge``, which is the one the bridge selects, so the key is never echoed back.

A WebSocket handshake that carries ``Origin`` comes from a browser page: it is let in only as
every HTTP request is (``bridge.endpoint.origins``), so another site's page cannot ride on a
user's ticket or reach a bridge on the user's loopback.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bridge.errors import Unauthorized
from bridge.gate import Gate
from bridge.gate.credentials import presented_credential
from bridge.model import USE, Principal

from .http import Headers
from .origins import Origins

__all__ = ["KEY_PROTOCOL", "PROTOCOL", "TICKET_TTL", "EventAccess", "Tickets"]

#: Seconds a ticket stays good: time for a page to open its stream, too short to be worth stealing.
TICKET_TTL = 60.0
#: Tickets outstanding at once; the oldest go first past this, so a caller cannot grow memory.
MAX_TICKETS = 10_000
#: The subprotocol the bridge's WebSocket speaks (JSON-RPC 2.0 text frames).
PROTOCOL = "mcp-bridge"
#: A browser offers its key as this prefix plus the key, beside ``PROTOCOL``.
KEY_PROTOCOL = PROTOCOL + ".key."
#: A browser may offer a ticket the same way instead of in the query string.
TICKET_PROTOCOL = PROTOCOL + ".ticket."
_USE = frozenset({USE})


class Tickets:
    """Single-use tickets that stand for a principal for a short while."""

    def __init__(self, ttl: float = TICKET_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._issued: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def issue(self, principal: Principal) -> str:
        now = self._clock()
        while self._issued:  # issued in order, so the expired ones are at the front
            oldest, (_, expires) = next(iter(self._issued.items()))
            if expires > now and len(self._issued) < MAX_TICKETS:
                break
            del self._issued[oldest]
        ticket = secrets.token_urlsafe(32)
        self._issued[ticket] = (principal, now + self.ttl)
        return ticket

    def redeem(self, ticket: str) -> Principal:
        """The principal ``ticket`` stands for; the ticket is spent. 401 if unknown, spent or expired."""
        found = self._issued.pop(ticket, None)
        if found is None or found[1] <= self._clock():
            raise Unauthorized("the ticket is not valid: it is unknown, used already or expired; ask for a new one")
        return found[0]

    def __len__(self) -> int:
        return len(self._issued)


class _KeyHeaders:
    """A key offered another way, shown to the gate as the header it reads."""

    __slots__ = ("_key",)

    def __init__(self, key: str) -> None:
        self._key = key

    def get(self, key: str, default: str) -> str:
        return self._key if key == "x-api-key" else default


@dataclass(frozen=True, slots=True)
class Offer:
    """What a WebSocket client offered among its subprotocols: a key, a ticket, and ours by name."""

    key: str | None = None
    ticket: str | None = None
    speaks: bool = False

    @classmethod
    def parse(cls, subprotocols: Iterable[str]) -> Offer:
        key = ticket = None
        speaks = False
        for offered in subprotocols:
            if offered == PROTOCOL:
                speaks = True
            elif offered.startswith(KEY_PROTOCOL):
                key = offered[len(KEY_PROTOCOL) :]
            elif offered.startswith(TICKET_PROTOCOL):
                ticket = offered[len(TICKET_PROTOCOL) :]
        return cls(key, ticket, speaks)


class EventAccess:
    """Admits callers of ``/mcp/stream``, its tickets, and ``/ws``."""

    def __init__(self, gate: Gate, origins: Origins | None = None, tickets: Tickets | None = None) -> None:
        self.gate = gate
        self.origins = origins or Origins()
        self.tickets = tickets or Tickets()

    def check_origin(self, headers: Headers, secure: bool = False) -> None:
        """403 for a page of another origin, or a name the bridge does not answer to."""
        self.origins.check(headers, secure)

    def principal(self, headers: Headers, ticket: str | None = None, offer: Offer | None = None) -> Principal:
        """Who is calling with scope ``use``: by key header, else ticket, else a key offered as a subprotocol."""
        if presented_credential(headers) is None:
            ticket = ticket or (offer.ticket if offer else None)
            if ticket:
                return self.tickets.redeem(ticket)
            if offer is not None and offer.key:
                return self.gate.principal(_KeyHeaders(offer.key), _USE)
        return self.gate.principal(headers, _USE)

    async def charge(self, principal: Principal) -> None:
        """Count the request against its caller's rate (``--rate-limit``), if one is set: 429 past it."""
        if self.gate.rate is not None:
            await self.gate.rate.acharge(principal)
