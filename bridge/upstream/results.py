"""Tool results checked against their ``outputSchema`` with schemas compiled once, in native code.

The SDK's ``ClientSession`` checks every successful ``CallToolResult`` against the tool's
declared ``outputSchema`` with python-jsonschema. Measured on the echo tool that check is a
quarter of the session's CPU per call. The bridge already lists every tool and compiles schemas
with jsonschema-rs, so it does this check itself, with the SDK's rules and messages: a tool that
declares an output schema must return ``structuredContent`` that conforms, and ``format`` is an
annotation, as in the SDK. A tool the bridge has not listed, or whose schema does not compile,
is left to the SDK's own check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import mcp_types as types
from mcp.client.session import ClientSession

from bridge.schema import CompiledSchema, SchemaCompileError

__all__ = ["OutputChecks"]

Check = Callable[[str, types.CallToolResult], Awaitable[None]]


class OutputChecks:
    """The compiled ``outputSchema`` of each tool one upstream lists (``None``: it declares none)."""

    def __init__(self) -> None:
        self._by_tool: dict[str, CompiledSchema | None] = {}

    def update(self, tools: Mapping[str, Mapping[str, Any]]) -> None:
        """Compile the schemas of a fresh listing; unchanged schemas keep their compiled form."""
        previous = self._by_tool
        checks: dict[str, CompiledSchema | None] = {}
        for name, tool in tools.items():
            schema = tool.get("outputSchema")
            if not isinstance(schema, dict):
                checks[name] = None
                continue
            known = previous.get(name)
            if known is not None and known.schema == schema:
                checks[name] = known
                continue
            try:
                checks[name] = CompiledSchema(schema, formats=False)
            except SchemaCompileError:
                continue  # the SDK's check reports the broken schema on each call
        self._by_tool = checks

    def install(self, session: ClientSession) -> None:
        """Check ``session``'s tool results here; what is not listed here still goes to the SDK."""
        fallback: Check = session.validate_tool_result

        async def validate_tool_result(name: str, result: types.CallToolResult) -> None:
            if name not in self._by_tool:
                await fallback(name, result)
                return
            self.check(name, result)

        # The SDK's one seam for this check: ``call_tool`` calls it on the session for every result.
        session.validate_tool_result = validate_tool_result  # type: ignore[method-assign]

    def check(self, name: str, result: types.CallToolResult) -> None:
        """Raise ``RuntimeError`` (as the SDK does) when the result breaks the tool's output schema."""
        schema = self._by_tool.get(name)
        if schema is None:
            return
        content = result.structured_content
        if content is None and "structured_content" not in result.model_fields_set:
            raise RuntimeError(f"Tool {name} has an output schema but did not return structured content")
        if not schema.is_valid(content):
            problems = schema.errors(content)
            detail = f"{problems[0].message} at {problems[0].pointer or '/'}" if problems else "does not conform"
            raise RuntimeError(f"Invalid structured content returned by tool {name}: {detail}")
