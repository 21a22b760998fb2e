"""Translation at the SDK boundary: SDK results into JSON dicts, SDK failures into BridgeErrors.

A failure that is not a caller's (a connection attempt, a ping, a catalog refresh) becomes one
line of text instead (``describe``), kept as the server's ``last_error`` and logged.

The table of JSON-RPC error codes lives here and only here; a test checks that every branch
maps to the status the REST contract promises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import httpx2
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import CONNECTION_CLOSED, INVALID_PARAMS, METHOD_NOT_FOUND, MISSING_REQUIRED_CLIENT_CAPABILITY
from pydantic import BaseModel, ValidationError

from bridge.errors import (
    BridgeError,
    InputRequired,
    NotFound,
    RequestInvalid,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = ["RESOURCE_NOT_FOUND", "describe", "is_connection_loss", "to_bridge_error", "to_json"]

#: MCP's code for an unknown resource URI (not part of JSON-RPC itself).
RESOURCE_NOT_FOUND = -32002

_LOST = (
    OSError,
    EOFError,
    httpx2.TransportError,
    anyio.ClosedResourceError,
    anyio.BrokenResourceError,
    anyio.EndOfStream,
)


def to_json(value: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """An SDK model in its wire shape (camelCase, no unset optionals)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dict(value)


def is_connection_loss(exc: BaseException) -> bool:
    """True when the failure means the session itself is gone, not just this request."""
    if isinstance(exc, TimeoutError):  # an OSError subclass, but only this request ran late
        return False
    if isinstance(exc, MCPError):
        return exc.code == CONNECTION_CLOSED and "closed" in exc.message.lower()
    if isinstance(exc, BaseExceptionGroup):
        return any(is_connection_loss(e) for e in exc.exceptions)
    return isinstance(exc, _LOST)


def _looks_unknown(message: str) -> bool:
    lowered = message.lower()
    return "unknown" in lowered or "not found" in lowered


def to_bridge_error(exc: BaseException, *, server: str, timeout: float) -> BridgeError:
    """The BridgeError a caller sees for ``exc`` raised while talking to ``server``."""
    if isinstance(exc, BridgeError):
        return exc
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"server {server!r} did not answer within {timeout:g} s", server=server)
    if is_connection_loss(exc):
        return UpstreamUnavailable(f"lost the connection to server {server!r}: {exc}", server=server)
    if isinstance(exc, MCPError):
        if exc.code == METHOD_NOT_FOUND or exc.code == RESOURCE_NOT_FOUND:
            return NotFound(f"server {server!r}: {exc.message}")
        if exc.code == MISSING_REQUIRED_CLIENT_CAPABILITY:
            data = exc.data if isinstance(exc.data, dict) else {}
            required = data.get("requiredCapabilities")
            return InputRequired(
                f"server {server!r} needs to ask its caller something this caller cannot answer (a REST caller"
                " can: call the tool with 'Prefer: respond-async' and answer at POST /calls/{id}/input; an MCP"
                f" client on /mcp that declares the capability can): {exc.message}",
                required if isinstance(required, dict) else None,
            )
        if exc.code == INVALID_PARAMS:
            if _looks_unknown(exc.message):
                return NotFound(f"server {server!r}: {exc.message}")
            return RequestInvalid(f"server {server!r} rejected the arguments: {exc.message}")
        return UpstreamError(f"server {server!r} answered an error: {exc.message}", server=server, code=exc.code)
    if isinstance(exc, ValidationError | RuntimeError):
        return UpstreamError(f"server {server!r} sent an invalid result: {exc}", server=server)
    return UpstreamError(f"server {server!r} failed: {type(exc).__name__}: {exc}", server=server)


def describe(exc: BaseException) -> str:
    """``exc`` in one line; each failure of a group, joined."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    return str(exc) or type(exc).__name__
