"""The SDK-to-HTTP translation table is complete: each failure kind maps to its promised status."""

import anyio
import httpx2
import pytest
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, ValidationError

from bridge.errors import BridgeError, NotFound
from bridge.upstream.translate import describe, is_connection_loss, to_bridge_error


def _validation_error() -> ValidationError:
    class M(BaseModel):
        x: int

    try:
        M.model_validate({"x": "no"})
    except ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("exc", "status", "slug"),
    [
        (TimeoutError(), 504, "upstream-timeout"),
        (MCPError(-32000, "Connection closed"), 503, "upstream-unavailable"),
        (anyio.ClosedResourceError(), 503, "upstream-unavailable"),
        (anyio.BrokenResourceError(), 503, "upstream-unavailable"),
        (httpx2.ConnectError("refused"), 503, "upstream-unavailable"),
        (BrokenPipeError(), 503, "upstream-unavailable"),
        (MCPError(-32601, "Method not found"), 404, "not-found"),
        (MCPError(-32002, "Resource not found"), 404, "not-found"),
        (MCPError(-32602, "Unknown tool: x"), 404, "not-found"),
        (MCPError(-32602, "Invalid arguments: a must be int"), 400, "invalid-request"),
        (MCPError(-32603, "boom"), 502, "upstream-error"),
        (MCPError(-32000, "server says no"), 502, "upstream-error"),
        (_validation_error(), 502, "upstream-error"),
        (RuntimeError("Invalid structured content"), 502, "upstream-error"),
        (ValueError("odd"), 502, "upstream-error"),
    ],
)
def test_sdk_failure_maps_to_the_promised_status(exc: BaseException, status: int, slug: str) -> None:
    error = to_bridge_error(exc, server="s", timeout=1.5)
    assert (error.status, error.type.rsplit("/", 1)[1]) == (status, slug)


def test_bridge_errors_pass_through_unchanged() -> None:
    original = NotFound("x")
    assert to_bridge_error(original, server="s", timeout=1) is original


def test_a_timeout_is_not_a_lost_connection() -> None:
    assert not is_connection_loss(TimeoutError())


def test_connection_loss_is_seen_inside_exception_groups() -> None:
    assert is_connection_loss(ExceptionGroup("g", [anyio.BrokenResourceError()]))
    assert not is_connection_loss(ExceptionGroup("g", [ValueError()]))


def test_unavailable_carries_retry_after_and_every_error_is_in_the_tree() -> None:
    error = to_bridge_error(BrokenPipeError(), server="s", timeout=1)
    assert isinstance(error, BridgeError)
    assert error.headers() == {"Retry-After": "1"}


def test_the_bridges_missing_capability_code_is_the_sdks() -> None:
    from mcp_types.jsonrpc import MISSING_REQUIRED_CLIENT_CAPABILITY

    from bridge.model import MISSING_CAPABILITY

    assert MISSING_CAPABILITY == MISSING_REQUIRED_CLIENT_CAPABILITY


def test_a_failure_is_described_in_one_line_and_a_group_by_each_of_its_failures() -> None:
    assert describe(OSError("no route")) == "no route"
    assert describe(TimeoutError()) == "TimeoutError"
    assert describe(ExceptionGroup("g", [ValueError("bad"), anyio.EndOfStream()])) == "bad; EndOfStream"
