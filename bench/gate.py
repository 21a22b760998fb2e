"""What the bridge's request gate and argument validation cost per call, timed in this process.

No server runs: the per-call steps of ``POST /servers/rich/tools/echo`` with ``{"text":
"hello"}`` are repeated here as ``bridge/endpoint/calls.py`` (``ToolCalls._gate``) and
``bridge/gateway/gateway.py`` (``Gateway._check_tool_call``) run them: headers read, API-key
check (open, as in the bench), media type and size checks, the body parsed with orjson, the
``callServerTool`` operation's compiled validators, the catalog lookup, the cached tool
validator and the echo tool's ``inputSchema`` check. Reading the body off the socket is left
out (it is I/O, not validation). The median over many batches is set against the bridge's
measured CPU per request, to show how much of it validation is.
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
from bridge.config import DEFAULT_MAX_BODY
from bridge.endpoint.http import Headers
from bridge.gateway.naming import qualify
from bridge.rest.auth import ApiKeyAuth
from bridge.schema import CompiledSchema
from bridge.spec import Spec
from bridge.validation import NO_BODY, RequestValidator

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


def _is_json(content_type: str) -> bool:
    # As bridge/endpoint/calls.py decides it.
    mimetype = content_type.partition(";")[0].strip().lower()
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _steps() -> dict[str, Callable[[], object]]:
    """The whole per-call sequence, and its three validation parts on their own."""
    op = RequestValidator(Spec.from_file(None))["callServerTool"]
    auth = ApiKeyAuth(())
    schema = _echo_input_schema()
    tools: dict[str, dict[str, Any]] = {TOOL: {"name": TOOL, "inputSchema": schema}}
    validators = {("tool", SERVER, TOOL): (schema, CompiledSchema(schema))}
    params = {"server": SERVER, "tool": TOOL}
    scope = {
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
        ]
    }
    parsed = orjson.loads(BODY)

    def check_tool(arguments: Any) -> None:
        definition = tools.get(TOOL)
        if definition is None:
            raise RuntimeError(f"no tool {TOOL}")
        source = definition.get("inputSchema")
        if source is not None:
            cached = validators.get(("tool", SERVER, TOOL))
            validator = cached[1] if cached is not None and cached[0] is source else CompiledSchema(source)
            validator.check(arguments, base="/body", what=f"invalid arguments for tool {qualify(SERVER, TOOL)!r}")

    def gate() -> None:
        headers = Headers(scope)
        if op.operation.secured:
            auth.check(headers, op.operation.scopes)
        length = headers.get("content-length", "")
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        body: Any = NO_BODY
        if (length and length != "0") or chunked:
            if not _is_json(headers.get("content-type", "")):
                raise RuntimeError("not JSON")
            if length.isdigit() and int(length) > DEFAULT_MAX_BODY:
                raise RuntimeError("too large")
            body = orjson.loads(BODY)
        op.check(params, {}, body)
        check_tool({} if body is NO_BODY else body)

    return {
        "total": gate,
        "orjson parse": lambda: orjson.loads(BODY),
        "operation check": lambda: op.check(params, {}, parsed),
        "tool inputSchema check": lambda: check_tool(parsed),
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
