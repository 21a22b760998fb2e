"""Which request this is, wherever the bridge is working on it: its id and its W3C trace context.

The HTTP edge (``bridge.endpoint.observe``) makes one ``RequestContext`` per request: the caller's
``X-Request-Id`` when it is short and of safe characters, else a new one; the caller's
``traceparent`` (W3C Trace Context) when it is well formed, else a new trace. It rides in a
contextvar, which asyncio tasks and a2wsgi's worker threads (Flask) inherit, so log lines
(``bridge.telemetry.logs``), problem bodies and the upstream request's ``_meta`` name the request
without any layer passing it along. The upstream sees the trace continued: the caller's trace id
with this request's own span id as the parent. An MCP request may name itself in its ``_meta``
instead (``continue_request``), where the MCP SDK's clients put the trace they continue.
"""

from __future__ import annotations

import itertools
import random
import re
from contextvars import ContextVar
from typing import Any, Final

from bridge.errors import jsonrpc_error

__all__ = [
    "MAX_REQUEST_ID",
    "REQUEST_ID_HEADER",
    "REQUEST_ID_META",
    "TRACEPARENT",
    "RequestContext",
    "continue_request",
    "current",
    "current_request_id",
    "named_jsonrpc_error",
    "request_id_of",
    "with_request_id",
]

REQUEST_ID_HEADER: Final = "x-request-id"
TRACEPARENT: Final = "traceparent"
#: The upstream request's ``_meta`` key for the request id (prefixed, as MCP asks of names that are not its own).
REQUEST_ID_META: Final = "mcp-rest-bridge/requestId"
#: The longest caller's id kept (the audit log's bound too): longer ones are replaced, not cut.
MAX_REQUEST_ID: Final = 128
#: What a caller's id may hold: enough for UUIDs, ULIDs and base64, nothing to forge a log line or header with.
_SAFE_ID = re.compile(rf"[A-Za-z0-9._:+/=@-]{{1,{MAX_REQUEST_ID}}}")
#: ``version-traceid-parentid-flags``; version ``ff`` is invalid, and later versions may append fields.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16
#: Ids must be unique, not secret (W3C Trace Context asks for random, not unguessable, ids): the
#: fast generator, seeded from the OS once, rather than a system call per request.
_random_bits = random.Random().getrandbits  # noqa: S311 (unique, not secret: see above)
#: The ids of answers made in the HTTP protocol, which come by the thousand a second: one count
#: from a random start (a third of a draw's cost), unique in the process and, by the start, across
#: processes; 32 hex digits as the others (it cannot reach 2**128).
_quick_ids = itertools.count(_random_bits(126))


class RequestContext:
    """One request's id and trace context, and what the metrics need to know of it."""

    __slots__ = ("named", "request_id", "sampled", "span_id", "trace_id", "traced", "upstream_seconds")

    def __init__(
        self, request_id: str, trace_id: str, span_id: str, sampled: bool, named: bool = True, traced: bool = True
    ) -> None:
        self.request_id = request_id
        self.trace_id = trace_id
        #: This request's own span: the parent the upstream request names.
        self.span_id = span_id
        self.sampled = sampled
        #: Whether the id is the caller's (not made here); whether the trace is the caller's, or an
        #: exported span's: what the request's own ``_meta`` may still say otherwise (``continue_from``).
        self.named = named
        self.traced = traced
        #: Time spent waiting on upstreams for this request (the bridge's own time is the rest).
        self.upstream_seconds = 0.0

    @classmethod
    def begin(cls, request_id: str | None, traceparent: str | None) -> RequestContext:
        """A request's context from its headers' values (``None`` when absent)."""
        drawn = f"{_random_bits(192):048x}"  # one draw: a new trace id (and request id), and this request's span id
        new_trace, span_id = drawn[:32], drawn[32:]
        if request_id is None or _SAFE_ID.fullmatch(request_id) is None:
            request_id, named = new_trace, False
        else:
            named = True
        parent = _parse_traceparent(traceparent) if traceparent else None
        if parent is None:
            return cls(request_id, new_trace, span_id, False, named, False)
        trace_id, sampled = parent
        return cls(request_id, trace_id, span_id, sampled, named)

    def continue_from(self, meta: object) -> None:
        """Take what an MCP request's own ``_meta`` says of it where its header fields said nothing:
        a W3C ``traceparent`` (where the MCP SDK's clients put the trace they continue) and the
        request id a bridge in front names its request by (``REQUEST_ID_META``). Invalid values are
        ignored, as in a header. The context is changed in place: the answer's ``X-Request-Id``,
        log lines and the upstream's ``_meta`` all read it."""
        if type(meta) is not dict:
            return
        if not self.traced and (value := meta.get(TRACEPARENT)) is not None and type(value) is str:
            parent = _parse_traceparent(value)
            if parent is not None:
                self.trace_id, self.sampled = parent
                self.traced = True
        if (
            not self.named
            and (value := meta.get(REQUEST_ID_META)) is not None
            and type(value) is str
            and _SAFE_ID.fullmatch(value)
        ):
            self.request_id = value
            self.named = True

    @property
    def traceparent(self) -> str:
        """The ``traceparent`` an upstream request carries: this trace, with this request as parent."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def meta(self) -> dict[str, str]:
        """What an upstream request's ``_meta`` carries of this request."""
        return {TRACEPARENT: self.traceparent, REQUEST_ID_META: self.request_id}

    def header_fields(self) -> bytes:
        """The same as an upstream HTTP request's header fields (``traceparent``, ``X-Request-Id``),
        written: what reads HTTP (another bridge, a traced server, a proxy's log) continues this
        request without reading its body. Both values are safe in a header: the id is checked
        (``_SAFE_ID``), the trace context made here."""
        return f"{TRACEPARENT}: {self.traceparent}\r\n{REQUEST_ID_HEADER}: {self.request_id}\r\n".encode()


def request_id_of(given: bytes | None) -> bytes:
    """The ``X-Request-Id`` an answer carries for a request that sent ``given`` (None: none): its own
    when safe, else a new one. For answers made before any context is (the polls the HTTP protocol
    answers): no trace is begun for them."""
    if given is not None and _SAFE_ID.fullmatch(given.decode("latin-1")) is not None:
        return given
    return b"%032x" % next(_quick_ids)


def _parse_traceparent(value: str) -> tuple[str, bool] | None:
    """(trace id, sampled) from a ``traceparent`` header, or None when it is not a valid one."""
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return trace_id, bool(int(flags, 16) & 1)


#: The request being served in this task or thread; None outside one (start-up, background work).
current: ContextVar[RequestContext | None] = ContextVar("bridge_request", default=None)


def continue_request(params: object) -> None:
    """The request being served here continued from its JSON-RPC ``params``' ``_meta``, where its
    header fields named no id or trace (``RequestContext.continue_from``)."""
    if (
        type(params) is dict
        and type(meta := params.get("_meta")) is dict
        and (TRACEPARENT in meta or REQUEST_ID_META in meta)
    ):
        context = current.get()
        if context is not None:
            context.continue_from(meta)


def current_request_id() -> str | None:
    """The id of the request being served here, if any."""
    context = current.get()
    return None if context is None else context.request_id


def named_jsonrpc_error(exc: BaseException) -> dict[str, Any]:
    """``jsonrpc_error(exc)``, its problem (``data``) naming the request being served, as a
    problem+json answer does (``with_request_id``)."""
    error = jsonrpc_error(exc)
    with_request_id(error["data"])
    return error


def with_request_id(problem: dict[str, Any]) -> dict[str, Any]:
    """``problem`` with the ``requestId`` member: the id of the request it answers, the one its
    ``X-Request-Id`` header carries. Outside a request (telemetry off, or work of the bridge's
    own) there is none, and the problem is left as it is."""
    context = current.get()
    if context is not None:
        problem["requestId"] = context.request_id
    return problem
