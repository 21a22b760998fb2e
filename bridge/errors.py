"""The bridge's one error tree; every failure a caller can see is one of these.

Each class knows its HTTP status, its RFC 9457 problem ``type`` and its JSON-RPC code. They are
rendered once per protocol: as problem+json by ``BridgeError.to_problem`` (every HTTP edge), as
a JSON-RPC error object by ``jsonrpc_error`` (plain ``POST /mcp``, MCP clients, the stdio proxy),
so the same failure carries the same code on every edge. Errors from the MCP SDK, from HTTP and
from the OS are translated into this tree where they enter (``bridge.upstream``), with
``raise ... from exc``.

::

    BridgeError
    ├── RequestInvalid            400  body, query or path broke the spec or a tool's inputSchema
    ├── Unauthorized              401  missing or unknown API key, or an access token that is not valid
    ├── Forbidden                 403  the key or token lacks the scope
    │   └── ForeignOrigin         403  a page of another origin, or a Host the bridge does not answer to
    ├── NotFound                  404  unknown server, tool, prompt, resource or route
    ├── RequestTimeout            408  the request's headers did not arrive in time
    ├── Ambiguous                 409  a bare name matches several servers' tools
    ├── IdempotencyKeyInFlight    409  a request with this Idempotency-Key is still being answered
    ├── AlreadyExists             409  a server of that name exists, or cannot be changed here
    ├── NotWaitingForInput        409  answers sent to an async call that asks nothing now
    ├── CallCancelled             409  an async call its caller cancelled (its stored problem)
    ├── PayloadTooLarge           413
    ├── UnsupportedMediaType      415
    ├── TooManyCalls              429  a /ws connection has its limit of calls in flight
    ├── RateLimited               429  a caller, server or tool is past one of the operator's limits
    │   └── AsyncCallLimit        429  a caller, or the bridge, has its limit of async calls running
    ├── HeadersTooLarge           431  the request line and headers are over the limits
    ├── ToolFailed                422  the tool ran and reported ``isError: true``
    ├── IdempotencyKeyReused      422  an Idempotency-Key sent again with another request
    ├── Unprocessable             422  understood, but cannot be done (a server that is not reachable)
    │   └── InputRequired         422  the tool asks its caller something: call it asynchronously
    ├── ResultTooLarge            507  an async call's result is over the cap on stored results
    ├── CallCutOff                503  a call was running when its bridge stopped (past the shutdown grace)
    └── UpstreamError             502  the upstream answered, but not with something usable
        ├── UpstreamUnavailable   503  the upstream is down or (re)connecting
        └── UpstreamTimeout       504  the upstream did not answer in time
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_BASE = "https://mcp-rest-bridge.dev/problems/"
#: What a caller is told about a bug in the bridge; the traceback goes to the log, never to the caller.
UNEXPECTED = "the bridge failed unexpectedly; the error is in its log"
#: What a caller is told when the store fails its request; what failed goes to the log (it names the database).
STORE_UNAVAILABLE = "the bridge cannot use its store (the database of its keys, calls and events) now; retry shortly"

__all__ = [
    "AlreadyExists",
    "Ambiguous",
    "AsyncCallLimit",
    "BridgeError",
    "CallCancelled",
    "CallCutOff",
    "FieldError",
    "Forbidden",
    "ForeignOrigin",
    "HeadersTooLarge",
    "IdempotencyKeyInFlight",
    "IdempotencyKeyReused",
    "InputRequired",
    "NotFound",
    "NotWaitingForInput",
    "PayloadTooLarge",
    "RateLimited",
    "RequestInvalid",
    "RequestTimeout",
    "ResultTooLarge",
    "StoreUnavailable",
    "ToolFailed",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMediaType",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "bearer_challenge",
    "jsonrpc_error",
    "jsonrpc_error_from_problem",
]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One validation problem: where (a JSON pointer into the request) and why."""

    pointer: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "message": self.message}


class BridgeError(Exception):
    """Root of every error the bridge reports to a caller."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"
    #: JSON-RPC error code used when the same failure is answered on ``POST /mcp``.
    jsonrpc_code: ClassVar[int] = -32603
    #: Who was refused, when known (a 403 to an authenticated caller): for the audit log, never rendered.
    subject: str | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def extensions(self) -> dict[str, Any]:
        """Members added to the problem body beyond type/title/status/detail."""
        return {}

    def headers(self) -> dict[str, str]:
        return {}

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extensions())
        return body


class RequestInvalid(BridgeError):
    status = 400
    slug = "invalid-request"
    title = "Request is invalid"
    jsonrpc_code = -32602

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []

    def extensions(self) -> dict[str, Any]:
        return {"errors": [e.to_dict() for e in self.errors]}


class MessageNotJson(RequestInvalid):
    """A JSON-RPC message (a WebSocket frame) that is not JSON at all: JSON-RPC's parse error."""

    slug = "parse-error"
    title = "The message is not valid JSON"
    jsonrpc_code = -32700


class NotJsonRpc(RequestInvalid):
    """A message that is JSON but not a JSON-RPC 2.0 request the bridge can take: JSON-RPC's invalid request."""

    slug = "not-json-rpc"
    title = "The message is not a valid JSON-RPC 2.0 request"
    jsonrpc_code = -32600


class HeadersTooLarge(BridgeError):
    """The request line and headers are over the bridge's limits: too many bytes or too many fields."""

    status = 431
    slug = "headers-too-large"
    title = "Request headers too large"


class RequestTimeout(BridgeError):
    """The request's line and headers did not arrive in time (a slow or stalled client)."""

    status = 408
    slug = "request-timeout"
    title = "The request was not received in time"


class TooManyCalls(BridgeError):
    """More calls in flight than a connection may have; sent again once answers arrive, it is taken."""

    status = 429
    slug = "too-many-calls"
    title = "Too many calls in flight"
    jsonrpc_code = -32003


class RateLimited(BridgeError):
    """Past a limit the operator set: a rate (requests in a window) or a number of calls in flight.

    Rendered with ``Retry-After`` and the IETF ``RateLimit-Policy`` / ``RateLimit`` fields
    (draft-ietf-httpapi-ratelimit-headers) naming the policy that was exceeded; the body names it
    too (``violated-policies``, as the draft's quota-exceeded problem does) with ``retryAfterSeconds``,
    for JSON-RPC callers, who see no headers.
    """

    status = 429
    slug = "rate-limited"
    title = "Too many requests"
    jsonrpc_code = -32003  # as too-many-calls: the caller is to slow down

    def __init__(self, detail: str, *, policy: str, quota: int, window: int | None, retry_after: int) -> None:
        super().__init__(detail)
        self.policy = policy
        self.quota = quota
        #: Seconds the quota is counted over; None for calls in flight (``concurrent-requests``).
        self.window = window
        self.retry_after = max(1, retry_after)

    def extensions(self) -> dict[str, Any]:
        return {"violated-policies": [self.policy], "retryAfterSeconds": self.retry_after}

    def headers(self) -> dict[str, str]:
        name = f'"{self.policy}"'
        if self.window is None:
            policy = f'{name};q={self.quota};qu="concurrent-requests"'
            current = f"{name};r=0"
        else:
            policy = f"{name};q={self.quota};w={self.window}"
            current = f"{name};r=0;t={self.retry_after}"
        return {"Retry-After": str(self.retry_after), "RateLimit-Policy": policy, "RateLimit": current}


class AsyncCallLimit(RateLimited):
    """A caller (policy ``caller-async-calls``) or the bridge (``async-calls``) has as many
    asynchronous calls running as it may; rendered as every other limit on calls in flight."""

    slug = "async-call-limit"
    title = "Too many asynchronous calls running"

    def __init__(self, detail: str, *, policy: str, quota: int, retry_after: int = 1) -> None:
        super().__init__(detail, policy=policy, quota=quota, window=None, retry_after=retry_after)


def bearer_challenge(**params: str | None) -> str:
    """A ``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3) with the given parameters, in order.

    Values are quoted strings; a character RFC 6750 does not allow in them (a quote, a
    backslash, a control character) becomes a space, so a detail cannot break the header.
    """
    shown = [f'{name}="{_QUOTABLE.sub(" ", value)}"' for name, value in params.items() if value is not None]
    return "Bearer " + ", ".join(shown) if shown else "Bearer"


_QUOTABLE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class Unauthorized(BridgeError):
    """No credential, or one the bridge does not accept.

    On a bridge that takes OAuth 2.0 access tokens the challenge says where its protected
    resource metadata is (RFC 9728), so a client can find the authorization server, and for a
    token that was refused, ``error="invalid_token"`` (RFC 6750); without OAuth it names the realm.
    """

    status = 401
    slug = "unauthorized"
    title = "Missing or invalid API key"
    jsonrpc_code = -32001

    def __init__(self, detail: str, *, error: str | None = None, resource_metadata: str | None = None) -> None:
        super().__init__(detail)
        self.error = error
        self.resource_metadata = resource_metadata

    def pointing_to(self, resource_metadata: str) -> Unauthorized:
        """The same refusal, its challenge naming the resource metadata at ``resource_metadata``."""
        return Unauthorized(self.detail, error=self.error, resource_metadata=resource_metadata)

    def headers(self) -> dict[str, str]:
        if self.error is None and self.resource_metadata is None:
            return {"WWW-Authenticate": 'Bearer realm="mcp-rest-bridge"'}
        description = self.detail if self.error is not None else None
        challenge = bearer_challenge(
            error=self.error, error_description=description, resource_metadata=self.resource_metadata
        )
        return {"WWW-Authenticate": challenge}


class Forbidden(BridgeError):
    """The caller is known but may not do this; with OAuth, a challenge naming the scope it lacks."""

    status = 403
    slug = "forbidden"
    title = "The API key lacks the scope for this operation"
    jsonrpc_code = -32001

    def __init__(self, detail: str, *, scope: str | None = None, resource_metadata: str | None = None) -> None:
        super().__init__(detail)
        self.scope = scope
        self.resource_metadata = resource_metadata

    def headers(self) -> dict[str, str]:
        if self.scope is None:
            return {}
        challenge = bearer_challenge(
            error="insufficient_scope", scope=self.scope, resource_metadata=self.resource_metadata
        )
        return {"WWW-Authenticate": challenge}


class ForeignOrigin(Forbidden):
    """A browser page of another origin, or a request for a name the bridge does not answer to (DNS rebinding)."""

    slug = "foreign-origin"
    title = "Not allowed from this origin or host name"


class NotFound(BridgeError):
    status = 404
    slug = "not-found"
    title = "Not found"
    jsonrpc_code = -32602


class Ambiguous(BridgeError):
    status = 409
    slug = "ambiguous-name"
    title = "The name matches more than one server"
    jsonrpc_code = -32602

    def __init__(self, detail: str, candidates: list[str]) -> None:
        super().__init__(detail)
        self.candidates = candidates

    def extensions(self) -> dict[str, Any]:
        return {"candidates": self.candidates}


class IdempotencyKeyInFlight(BridgeError):
    """The first request sent with this Idempotency-Key is still running: try again shortly, and
    get its answer (draft-ietf-httpapi-idempotency-key-header, 409)."""

    status = 409
    slug = "idempotency-key-in-flight"
    title = "A request with this Idempotency-Key is still being answered"
    jsonrpc_code = -32003  # as rate-limited: the caller is to wait and send it again

    def __init__(self, detail: str, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class IdempotencyKeyReused(BridgeError):
    """An Idempotency-Key already used for another request (another tool, other arguments); the
    draft's 422. The first request's answer stays kept for its key."""

    status = 422
    slug = "idempotency-key-reused"
    title = "The Idempotency-Key was used for another request"
    jsonrpc_code = -32602


class AlreadyExists(BridgeError):
    status = 409
    slug = "already-exists"
    title = "Already exists"
    jsonrpc_code = -32602


class Unprocessable(BridgeError):
    status = 422
    slug = "unprocessable"
    title = "The request cannot be carried out"
    jsonrpc_code = -32602


class InputRequired(Unprocessable):
    """The tool needs to ask its caller something (elicitation, sampling) this caller cannot answer:
    a synchronous REST call, or an MCP client that did not declare the capability (the upstream's
    -32021, whose ``requiredCapabilities`` an MCP caller is answered with)."""

    slug = "input-required"
    title = "The tool needs input from its caller"
    jsonrpc_code = -32021  # MCP's "missing required client capability"

    def __init__(self, detail: str, required: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.required = required


class NotWaitingForInput(BridgeError):
    status = 409
    slug = "not-waiting-for-input"
    title = "The call is not waiting for input"


class CallCancelled(BridgeError):
    """What a cancelled asynchronous call ended with: its caller cancelled it."""

    status = 409
    slug = "call-cancelled"
    title = "The call was cancelled"
    jsonrpc_code = -32800  # JSON-RPC's "request cancelled"


class ResultTooLarge(BridgeError):
    """An asynchronous call's result is bigger than the bridge keeps (``--call-max-result``).

    507 Insufficient Storage (RFC 4918 §11.5): the call ran, but its result cannot be stored.
    """

    status = 507
    slug = "result-too-large"
    title = "The call's result is too large to keep"


class CallCutOff(BridgeError):
    """A call was running when its bridge stopped (an asynchronous one, or a request still running at
    the end of the shutdown grace); how it ended upstream is unknown."""

    status = 503
    slug = "call-cut-off"
    title = "The call was cut off when the bridge stopped"
    jsonrpc_code = -32000


class StoreUnavailable(BridgeError):
    """The bridge's store (its database: keys, calls, events, registrations) cannot be used now.

    What the edges answer when the store fails a request (``bridge.store.StoreError``: a database
    server down, no free connection in time, a SQLite file locked past its busy timeout); what
    failed is in the log, never in the answer (it names the database).
    """

    status = 503
    slug = "store-unavailable"
    title = "The bridge's store is unavailable"
    jsonrpc_code = -32000

    def __init__(self, detail: str = STORE_UNAVAILABLE, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class PayloadTooLarge(BridgeError):
    status = 413
    slug = "payload-too-large"
    title = "Request body is too large"
    jsonrpc_code = -32600


class UnsupportedMediaType(BridgeError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"
    jsonrpc_code = -32600


class ToolFailed(BridgeError):
    """The tool ran and said it failed; its content is kept whole in the problem."""

    status = 422
    slug = "tool-error"
    title = "The tool reported an error"

    def __init__(self, detail: str, result: dict[str, Any]) -> None:
        super().__init__(detail)
        self.result = result

    def extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"content": self.result.get("content", [])}
        if "structuredContent" in self.result:
            ext["structuredContent"] = self.result["structuredContent"]
        return ext


class UpstreamError(BridgeError):
    """The upstream answered with an error or with something that is not valid MCP."""

    status = 502
    slug = "upstream-error"
    title = "The upstream MCP server failed"
    jsonrpc_code = -32603

    def __init__(self, detail: str, *, server: str, code: int | None = None) -> None:
        super().__init__(detail)
        self.server = server
        self.code = code

    def extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"server": self.server}
        if self.code is not None:
            ext["upstreamCode"] = self.code
        return ext


class UpstreamUnavailable(UpstreamError):
    status = 503
    slug = "upstream-unavailable"
    title = "The upstream MCP server is unavailable"
    jsonrpc_code = -32000

    def __init__(self, detail: str, *, server: str, retry_after: int = 1) -> None:
        super().__init__(detail, server=server)
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class UpstreamTimeout(UpstreamError):
    status = 504
    slug = "upstream-timeout"
    title = "The upstream MCP server did not answer in time"
    jsonrpc_code = -32000


def jsonrpc_error(exc: BaseException) -> dict[str, Any]:
    """The JSON-RPC error object for ``exc``: its code, its detail, and its problem as ``data``
    (``bridge.telemetry.named_jsonrpc_error`` names the request being served in it).

    Anything outside the tree is a bug in the bridge: internal error, no internals shown.
    """
    error = exc if isinstance(exc, BridgeError) else BridgeError(UNEXPECTED)
    problem = error.to_problem()
    if isinstance(error, RequestInvalid) and not error.errors:
        problem["errors"] = [FieldError("/params", error.detail).to_dict()]
    elif isinstance(error, InputRequired) and error.required is not None:
        problem["requiredCapabilities"] = error.required  # where an MCP client looks for what it lacks
    return {"code": error.jsonrpc_code, "message": error.detail, "data": problem}


def _by_slug(cls: type[BridgeError]) -> dict[str, type[BridgeError]]:
    found = {cls.slug: cls}
    for sub in cls.__subclasses__():
        found.update(_by_slug(sub))
    return found


def jsonrpc_error_from_problem(status: int, problem: Any) -> dict[str, Any]:
    """The JSON-RPC error a bridge's problem+json answer stands for (the stdio proxy relays these).

    The code is the one the bridge itself gives the problem's ``type`` on ``/mcp``; a problem
    from something else is judged by its status.
    """
    body = problem if isinstance(problem, dict) else {}
    slug = str(body.get("type", "")).removeprefix(PROBLEM_BASE)
    known = _by_slug(BridgeError).get(slug)
    if known is not None:
        code = known.jsonrpc_code
    else:
        code = RequestInvalid.jsonrpc_code if status < 500 else BridgeError.jsonrpc_code
    detail = str(body.get("detail") or body.get("title") or f"HTTP {status}")
    return {"code": code, "message": detail, "data": body} if body else {"code": code, "message": detail}
