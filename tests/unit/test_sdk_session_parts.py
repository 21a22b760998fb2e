"""The SDK's private parts the session ledger (``bridge.endpoint.mcp_sessions``) stands on.

The SDK offers no public way to look a session up by id, to choose the id a new session gets,
to hear that a client ended one, or to open one that did its handshake elsewhere. The ledger
does these through its session manager's table and two of its methods, and builds a revived
session from the transport, connection and runner the manager itself uses. Each is checked
here on a running manager, so an SDK release that renames or reshapes one fails with its name,
not as a puzzling failure of the sessions-across-instances tests.
"""

from __future__ import annotations

import inspect

import anyio
import pytest
from mcp.server.connection import Connection
from mcp.server.lowlevel import Server
from mcp.server.runner import serve_connection
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _parameters(function: object) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]  # type: ignore[arg-type]


def test_the_signatures_the_ledger_calls() -> None:
    assert _parameters(StreamableHTTPSessionManager._admit_session) == ["requestor"]
    assert _parameters(StreamableHTTPSessionManager._discard_session) == ["session_id", "transport"]
    transport = set(_parameters(StreamableHTTPServerTransport.__init__))
    assert {
        "mcp_session_id",
        "is_json_response_enabled",
        "event_store",
        "security_settings",
        "retry_interval",
        "idle_timeout",
    } <= transport
    assert {"session_id", "protocol_version_hint"} <= set(_parameters(Connection.for_loop))
    assert {"connection", "lifespan_state"} <= set(_parameters(serve_connection))
    assert "inline_methods" in _parameters(JSONRPCDispatcher.__init__)


async def test_a_running_manager_keeps_its_sessions_where_the_ledger_looks() -> None:
    server: Server[object] = Server("parts")
    server.streamable_http_app()  # makes the manager, as the gateway's /mcp app does
    manager = server.session_manager
    assert isinstance(manager, StreamableHTTPSessionManager)
    for setting in ("json_response", "event_store", "security_settings", "retry_interval", "max_sessions"):
        assert hasattr(manager, setting), setting
    assert manager.session_idle_timeout is not None

    async with manager.run():
        assert manager._task_group is not None  # a revived session's server task runs in it
        assert hasattr(manager, "_lifespan_state")

        transport = manager._admit_session(None)
        assert isinstance(transport, StreamableHTTPServerTransport)
        made = transport.mcp_session_id
        assert made is not None
        assert manager._server_instances[made] is transport  # the table the ledger renames and reads
        assert made not in manager._session_owners  # no requestor, no owner entry

        # The ledger gives a session the sealed id it wants by renaming it in the table.
        transport.mcp_session_id = "m1.wanted"
        manager._server_instances["m1.wanted"] = manager._server_instances.pop(made)

        assert transport.is_terminated is False
        await transport.terminate()  # what a client's DELETE does, before the manager discards it
        assert transport.is_terminated is True
        await manager._discard_session("m1.wanted", transport)
        assert "m1.wanted" not in manager._server_instances


async def test_a_connected_transport_has_the_idle_scope_the_ledger_extends() -> None:
    transport = StreamableHTTPServerTransport(mcp_session_id="m1.idle", idle_timeout=5.0)
    assert transport.idle_scope is None
    async with transport.connect():
        scope = transport.idle_scope
        assert isinstance(scope, anyio.CancelScope)  # ``SessionLedger.hold`` moves its deadline
