"""The one gate every request passes before the gateway sees it, whatever edge it came in by.

Credentials → principal (and the operation's scopes), media type, size, the body parsed once
with orjson, then every parameter and the body checked against the operation's validators,
compiled once from the spec. The gate knows no framework: an edge hands it headers, then the
raw body it read within the limit the gate gave, then the path and query parameters. Flask,
the tool-call route and ``/mcp`` (plain JSON-RPC and MCP clients) all use it; a test holds
their answers identical.

With ``--rate-limit`` the gate also holds the callers' rate (``rate``): an edge charges each
request it admitted to its caller, from a worker thread or from the loop as it runs on
(``bridge.limits``). Without one, ``rate`` is None and no edge does anything more.

The tool-call edges also honour ``Idempotency-Key`` through ``idempotency`` (``bridge.gate.idempotency``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from bridge.errors import FieldError, Forbidden, PayloadTooLarge, RequestInvalid, UnsupportedMediaType
from bridge.gate.credentials import Authenticator, Headers
from bridge.gate.idempotency import Idempotency
from bridge.limits import CallerRate
from bridge.model import ADMIN, USE, Principal
from bridge.validation import NO_BODY, OperationValidator, RequestValidator, is_json_media_type

__all__ = ["NO_BODY", "Admission", "Gate", "parse_json"]

#: What every secured operation needs at least: API keys always hold it; an access token may not.
USE_SCOPE = frozenset({USE})


def parse_json(raw: bytes, where: str = "/body") -> Any:
    """``raw`` as JSON, or 400 pointing at ``where``."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestInvalid(
            f"the body is not valid JSON: {exc}", [FieldError(where, f"not valid JSON: {exc}")]
        ) from exc


@dataclass(frozen=True, slots=True)
class Admission:
    """A request the gate let in so far: who sent it, and whether its body is to be read."""

    principal: Principal
    operation: OperationValidator
    #: The edge reads the body (at most ``Gate.max_body`` bytes) only when this is true.
    reads_body: bool

    def check(self, path: dict[str, str], query: dict[str, str], raw: bytes | None) -> Any:
        """The parsed and validated body (``NO_BODY`` when there was none); 400 with pointers otherwise."""
        body = parse_json(raw) if self.reads_body and raw is not None else NO_BODY
        self.operation.check(path, query, body)
        return body


class Gate:
    """Admits requests for the operations of one spec."""

    def __init__(
        self,
        authenticator: Authenticator,
        validator: RequestValidator,
        max_body: int,
        rate: CallerRate | None = None,
        idempotency: Idempotency | None = None,
    ) -> None:
        self.authenticator = authenticator
        self.validator = validator
        self.max_body = max_body
        #: Each caller's rate, charged by the edges for every request they admit; None: no rate set.
        self.rate = rate
        #: Callers' Idempotency-Keys on tool calls (``bridge.gate.idempotency``); None: the header is ignored.
        self.idempotency = idempotency

    def operation(self, operation_id: str) -> OperationValidator | None:
        return self.validator.operations.get(operation_id)

    def principal(self, headers: Headers, scopes: frozenset[str] = USE_SCOPE) -> Principal:
        """Who sent a request needing ``scopes``: 401 without valid credentials, 403 without the scopes."""
        if ADMIN in scopes and not self.authenticator.admin_enabled:
            raise Forbidden(
                "admin operations are disabled: no admin key is configured and no token can hold the admin scope"
            )
        principal = self.authenticator.authenticate(headers)
        if scopes and not principal.has_scopes(scopes):
            detail = (
                "this operation needs an admin key"
                if ADMIN in scopes
                else f"this operation needs the scopes {', '.join(sorted(scopes))}"
            )
            resource = self.authenticator.resource
            if resource is None:
                refusal = Forbidden(detail)
            else:
                refusal = Forbidden(detail, scope=resource.scope_for(scopes), resource_metadata=resource.metadata_url)
            refusal.subject = principal.subject
            raise refusal
        return principal

    def caller(self, operation: OperationValidator, headers: Headers) -> Principal:
        """Who sends a request of ``operation``, and whether it may (``admit``'s first step): 401, 403."""
        spec = operation.operation
        return self.principal(headers, spec.scopes or USE_SCOPE) if spec.secured else Principal.anonymous()

    def admit(self, operation: OperationValidator, headers: Headers) -> Admission:
        """Credentials, media type and declared size; the body itself follows through ``Admission.check``."""
        principal = self.caller(operation, headers)
        reads_body = False
        if operation.accepts_body and _has_body(headers):
            media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
            if not is_json_media_type(media_type):
                raise UnsupportedMediaType(f"send the body as application/json (got {media_type or 'no Content-Type'})")
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > self.max_body:
                raise PayloadTooLarge(f"the body is {length} bytes; the limit is {self.max_body}")
            reads_body = True
        return Admission(principal, operation, reads_body)


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length", "")
    return (bool(length) and length != "0") or headers.get("transfer-encoding", "").lower() == "chunked"
