"""What the bridge's request gate and argument validation cost per call, timed in this process.

No server runs: the per-call steps of ``POST /servers/rich/tools/echo`` with ``{"text":
"hello"}`` run here through the bridge's own code, as ``bridge/endpoint/calls.py`` runs them:
the gate (``bridge.gate``: headers read, credentials to a principal (open, as in the bench),
media type and size checks, the body parsed with orjson, the ``callServerTool`` operation's
compiled validators), then ``Gateway.check_tool_call`` (the catalog lookup, the cached tool
validator and the echo tool's ``inputSchema`` check) over in-memory upstreams holding the rich
server's real echo tool. Reading the body off the socket is left out (it is I/O, not
validation). The median over many batches is set against the bridge's measured CPU per
request, to show how much of it validation is.
"""

from __future__ import annotations

import asyncio
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
from mcp import Client

from bench.targets import RICH
from bridge.config import DEFAULT_MAX_BODY, ServerConfig
from bridge.endpoint.http import Headers
from bridge.events import InProcessBus
from bridge.gate import ApiKeyAuthenticator, Gate
from bridge.gateway import Gateway
from bridge.gateway.registry import ServerRegistry
from bridge.model import Catalog, Principal
from bridge.spec import Spec
from bridge.store import MemoryRegistrationStore
from bridge.upstream.memory import MemoryServer, MemoryUpstreams
from bridge.validation import RequestValidator

__all__ = ["measure_gate"]

#: Calls per timed batch (long enough that the clock's own cost is noise), and batches.
BATCH = 2000
BATCHES = 41
SERVER, TOOL, BODY = "rich", "echo", b'{"text": "hello"}'


def _echo_input_schema() -> dict[str, Any]:
    """The echo tool's ``inputSchema`` as the rich server lists it (the SDK client, in memory)."""
    loaded = importlib.util.spec_from_file_location("rich_server", RICH)
    if loaded is None or loaded.loader is None:
        raise RuntimeError(f"cannot load {RICH}")
    module = importlib.util.module_from_spec(loaded)
    sys.modules[loaded.name] = module  # pydantic resolves the tools' postponed annotations through it
    loaded.loader.exec_module(module)

    async def listed() -> dict[str, Any]:
        async with Client(module.build(SERVER), cache=None) as client:
            tools = (await client.list_tools()).tools
        tool = next(t for t in tools if t.name == TOOL)
        return tool.model_dump(mode="json", by_alias=True, exclude_none=True)["inputSchema"]  # type: ignore[no-any-return]

    return asyncio.run(listed())


def _steps() -> dict[str, Callable[[], object]]:
    """The whole per-call sequence, and its three validation parts on their own."""
    gate = Gate(ApiKeyAuthenticator(()), RequestValidator(Spec.from_file(None)), DEFAULT_MAX_BODY)
    op = gate.validator["callServerTool"]
    tool = {"name": TOOL, "inputSchema": _echo_input_schema()}
    upstreams = MemoryUpstreams({SERVER: MemoryServer(Catalog(tools={TOOL: tool}))})
    registry = ServerRegistry(upstreams, MemoryRegistrationStore(), allow_stdio=False, connect_timeout=5)
    gateway = Gateway(upstreams, registry, InProcessBus())
    gateway.run(gateway.start([ServerConfig(SERVER, "streamable-http", url="http://127.0.0.1:1/mcp")]))
    params = {"server": SERVER, "tool": TOOL}
    scope = {
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
        ]
    }
    parsed = orjson.loads(BODY)
    anyone = Principal.anonymous()

    def total() -> None:
        admission = gate.admit(op, Headers(scope))
        body = admission.check(params, {}, BODY)
        gateway.check_tool_call(SERVER, TOOL, body, "/body", admission.principal)

    return {
        "total": total,
        "orjson parse": lambda: orjson.loads(BODY),
        "operation check": lambda: op.check(params, {}, parsed),
        "tool inputSchema check": lambda: gateway.check_tool_call(SERVER, TOOL, parsed, "/body", anyone),
    }


def _median_us(step: Callable[[], object]) -> float:
    per_call = []
    for _ in range(BATCHES):
        began = time.perf_counter()
        for _ in range(BATCH):
            step()
        per_call.append((time.perf_counter() - began) / BATCH)
    return statistics.median(per_call) * 1e6


def measure_gate() -> dict[str, Any]:
    """Median µs per call of the whole gate and of each validation step (``{"failed": why}`` if it cannot run)."""
    try:
        steps = _steps()
    except Exception as exc:  # the bench reports it and carries on; the main table stands without it
        return {"failed": f"{type(exc).__name__}: {exc}"}
    return {"us": {name: _median_us(step) for name, step in steps.items()}, "batch": BATCH, "batches": BATCHES}
