"""The one wire form of an event, shared by the stream, the WebSocket, webhooks and the log.

::

    {"id": "01JF…", "type": "tool.call.finished", "time": "2026-12-05T23:50:01.123Z",
     "server": "demo", "data": {"callId": …, "tool": "echo", "subject": "key:3f…", "requestId": …,
                                "durationMs": 2.1, "outcome": "ok", "isError": false},
     "event": "tool_executed", "tool": "echo", "timestamp": "2026-12-05T23:50:01.123Z",
     "params": {…}, "result": {…}}

``id``, ``type``, ``time``, ``server`` and ``data`` are on every event. A call's ``params`` and
``result`` ride at the top level, and only when asked for (by the operator, or by a subscriber
allowed to see them), cut to a size with a marker in place of what was cut. A finished call
also carries ``event: "tool_executed"``, ``tool`` and ``timestamp``: the names the integration
guide's webhook receiver reads. ``bridge/openapi.yaml`` describes each type (``Event``).

An event is encoded once: ``WireEvent`` holds its document with and without the payload and
their JSON bytes, made when first asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from bridge.errors import FieldError, RequestInvalid
from bridge.events import (
    CallEvent,
    CallFailed,
    CallFinished,
    CallInputRequired,
    CallProgress,
    CallStarted,
    CatalogChanged,
    Event,
    ResourceUpdated,
    ServerRegistered,
    ServerRemoved,
    ServerStateChanged,
)

__all__ = ["EVENT_TYPES", "LEGACY_TYPES", "EventFilter", "WireEvent", "capped", "rfc3339", "to_wire"]

#: Every event type on the wire, by name.
EVENT_TYPES: Mapping[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        CallStarted,
        CallProgress,
        CallFinished,
        CallFailed,
        CallInputRequired,
        ServerStateChanged,
        CatalogChanged,
        ResourceUpdated,
        ServerRegistered,
        ServerRemoved,
    )
}
#: The integration guide's names for our types, accepted in filters and sent as ``event``.
LEGACY_TYPES: Mapping[str, str] = {"tool_executed": CallFinished.kind}
_LEGACY_NAME = {v: k for k, v in LEGACY_TYPES.items()}
#: Characters of a call's params or result kept, by default, when they are included.
PAYLOAD_CHARS = 16_384
#: What marks a place where something was cut.
CUT = "…[cut]"


class _Rfc3339:
    """Seconds since the epoch as RFC 3339 in UTC, to the millisecond (``2026-12-05T23:50:01.123Z``);
    the last one made is kept, since events come in bursts within one millisecond."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = (-1, "")

    def __call__(self, at: float) -> str:
        ms = int(at * 1000)
        last = self._last  # one reference, read and replaced whole: safe from any thread
        if ms != last[0]:
            text = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            self._last = (ms, text)
            return text
        return last[1]


rfc3339 = _Rfc3339()


def capped(value: Any, limit: int) -> Any:
    """``value`` if its JSON is at most ``limit`` characters, else a copy cut to about that size.

    Long strings end in ``…[cut N characters]``; objects and arrays that ran out of room end
    with a member ``"…"`` or an item saying how many more were cut. The shape stays JSON of the
    same types, so a consumer can still read what was kept.
    """
    if len(orjson.dumps(value)) <= limit:
        return value
    return _Cutter(limit).cut(value)


class _Cutter:
    def __init__(self, budget: int) -> None:
        self.budget = budget

    def cut(self, value: Any) -> Any:
        if isinstance(value, str):
            if len(value) + 2 <= self.budget:
                self.budget -= len(value) + 2
                return value
            keep = max(self.budget - 2, 0)
            self.budget = 0
            return f"{value[:keep]}{CUT[:-1]} {len(value) - keep} characters]"
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if self.budget <= 0:
                    out["…"] = f"[cut {len(value) - len(out)} more members]"
                    break
                self.budget -= len(key) + 4
                out[key] = self.cut(item)
            return out
        if isinstance(value, list | tuple):
            items: list[Any] = []
            for item in value:
                if self.budget <= 0:
                    items.append(f"{CUT[:-1]} {len(value) - len(items)} more items]")
                    break
                self.budget -= 1
                items.append(self.cut(item))
            return items
        self.budget -= len(orjson.dumps(value))
        return value


class WireEvent:
    """One event as the wire carries it: its document with and without a call's params and result."""

    __slots__ = (
        "_bare",
        "_bare_json",
        "_full",
        "_full_json",
        "_memo",
        "has_payload",
        "id",
        "server",
        "subject",
        "type",
    )

    def __init__(self, document: dict[str, Any], *, subject: str | None = None) -> None:
        self.id: str = document["id"]
        self.type: str = document["type"]
        self.server: str | None = document.get("server")
        #: Whose call it was (call events), to let a caller see the payload of its own calls.
        self.subject = subject
        self.has_payload = "params" in document or "result" in document
        self._full = document
        self._bare: dict[str, Any] | None = None if self.has_payload else document
        self._full_json: bytes | None = None
        self._bare_json: bytes | None = None
        self._memo: dict[object, bytes] | None = None

    def memo(self, key: object, make: Callable[[], bytes]) -> bytes:
        """What ``make`` encodes from this event, made once per ``key`` however many subscribers
        send it (an SSE frame is the same bytes for each of a hundred streams)."""
        if self._memo is None:
            self._memo = {}
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = make()
        return found

    @classmethod
    def from_json(cls, text: str | bytes) -> WireEvent:
        """An event read back from the log."""
        document = orjson.loads(text)
        data = document.get("data") or {}
        wire = cls(document, subject=data.get("subject"))
        if isinstance(text, bytes):
            wire._full_json = text
        return wire

    def document(self, payload: bool) -> dict[str, Any]:
        if payload or not self.has_payload:
            return self._full
        if self._bare is None:
            self._bare = {k: v for k, v in self._full.items() if k not in ("params", "result")}
        return self._bare

    def json(self, payload: bool) -> bytes:
        if payload or not self.has_payload:
            if self._full_json is None:
                self._full_json = orjson.dumps(self._full)
            return self._full_json
        if self._bare_json is None:
            self._bare_json = orjson.dumps(self.document(False))
        return self._bare_json


def to_wire(event: Event, *, payload: bool, payload_chars: int = PAYLOAD_CHARS) -> WireEvent:
    """``event`` on the wire; with ``payload``, a call's params and result are included (cut to
    ``payload_chars`` each)."""
    time = rfc3339(event.at)
    document: dict[str, Any] = {
        "id": event.id,
        "type": event.kind,
        "time": time,
        "server": event.server,
        "data": _data(event),
    }
    subject = None
    if isinstance(event, CallEvent):
        subject = event.subject
        if isinstance(event, CallFinished):
            document["event"] = _LEGACY_NAME[event.kind]
            document["tool"] = event.tool
            document["timestamp"] = time
        if payload:
            arguments = getattr(event, "arguments", None)
            if arguments is not None:
                document["params"] = capped(arguments, payload_chars)
            if isinstance(event, CallFinished):
                document["result"] = capped(event.result, payload_chars)
    return WireEvent(document, subject=subject)


def _data(event: Event) -> dict[str, Any]:
    if isinstance(event, CallEvent):
        data: dict[str, Any] = {"callId": event.call_id, "tool": event.tool, "subject": event.subject}
        if event.request_id is not None:
            data["requestId"] = event.request_id
        if isinstance(event, CallProgress):
            data["progress"] = event.progress
            if event.total is not None:
                data["total"] = event.total
            if event.message is not None:
                data["message"] = event.message
        elif isinstance(event, CallFinished):
            data["durationMs"] = round(event.duration * 1000, 3)
            data["outcome"] = "tool_error" if event.is_error else "ok"
            data["isError"] = event.is_error
        elif isinstance(event, CallInputRequired):
            data["questions"] = [dict(q) for q in event.questions]
        elif isinstance(event, CallFailed):
            data["durationMs"] = round(event.duration * 1000, 3)
            data["outcome"] = "failed"
            data["problem"] = dict(event.problem)
        return data
    if isinstance(event, ServerStateChanged):
        return {"state": event.state, "lastError": event.last_error}
    if isinstance(event, CatalogChanged):
        return {
            "added": {k: list(v) for k, v in event.added.items()},
            "removed": {k: list(v) for k, v in event.removed.items()},
        }
    if isinstance(event, ResourceUpdated):
        return {"uri": event.uri}
    if isinstance(event, ServerRegistered):
        return {"transport": event.transport}
    if isinstance(event, ServerRemoved):
        return {}
    raise TypeError(f"no wire form for {type(event).__name__}")


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a subscriber wants: types (exact names or a group such as ``tool.call`` or
    ``server``; None for all) and servers (None for all)."""

    types: frozenset[str] | None = None
    servers: frozenset[str] | None = None

    @classmethod
    def parse(
        cls, types: Iterable[str] = (), servers: Iterable[str] = (), *, where: str = "/query", key: str = "type"
    ) -> EventFilter:
        """A filter from the names a caller gave; 400 with a pointer (``{where}/{key}/N``) for a type
        that matches none.

        A value may list several names separated by commas. ``*`` means every type.
        """
        wanted: set[str] = set()
        errors: list[FieldError] = []
        for index, name in enumerate(_split(types)):
            name = LEGACY_TYPES.get(name, name)
            if name == "*":
                return cls(None, _servers(servers))
            if not any(t == name or t.startswith(name + ".") for t in EVENT_TYPES):
                known = ", ".join(EVENT_TYPES)
                errors.append(FieldError(f"{where}/{key}/{index}", f"{name!r} is no event type nor group ({known})"))
            wanted.add(name)
        if errors:
            raise RequestInvalid(f"{errors[0].pointer}: {errors[0].message}", errors)
        return cls(frozenset(wanted) or None, _servers(servers))

    def kinds(self) -> set[type[Event]]:
        """The event classes this filter may let through."""
        return {cls for name, cls in EVENT_TYPES.items() if self._type_matches(name)}

    def _type_matches(self, type_: str) -> bool:
        if self.types is None or type_ in self.types:
            return True
        return any(type_.startswith(group + ".") for group in self.types)

    def matches(self, event: WireEvent) -> bool:
        if self.servers is not None and event.server not in self.servers:
            return False
        return self._type_matches(event.type)

    def to_dict(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        if self.types is not None:
            found["types"] = sorted(self.types)
        if self.servers is not None:
            found["servers"] = sorted(self.servers)
        return found


def _split(values: Iterable[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _servers(servers: Iterable[str]) -> frozenset[str] | None:
    names = _split(servers)
    return frozenset(names) if names else None
