"""Tool results checked against their ``outputSchema`` with schemas compiled once, in native code.

The SDK's ``ClientSession`` checks every successful ``CallToolResult`` against the tool's
declared ``outputSchema`` with python-jsonschema; measured on the echo tool, that check was a
sixth of the session's CPU per call (cProfile) and 7% of the bridge's samples (py-spy). The
bridge lists every tool anyway, so it does this check itself with jsonschema-rs, a tool's schema
compiled on its first result and kept while the listing keeps it, with the SDK's rules and
messages: a tool that declares an output schema must return ``structuredContent`` that
conforms, and ``format`` is an annotation, as in the SDK. A tool the bridge has not listed, or
whose schema does not compile, is left to the SDK's own check. A lean request's result, a plain
dict, is checked here too (``check_plain``), with the same rules and messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import mcp_types as types
from mcp.client.session import ClientSession

from bridge.schema import CompiledSchema, SchemaCompileError

__all__ = ["OutputChecks"]

Check = Callable[[str, types.CallToolResult], Awaitable[None]]
Schema = Mapping[str, Any]


class OutputChecks:
    """The ``outputSchema`` of each tool one upstream lists, compiled when first needed."""

    def __init__(self) -> None:
        #: Every listed tool's output schema (``None``: it declares none).
        self._listed: dict[str, Schema | None] = {}
        #: The schemas compiled so far; ``None`` for one that does not compile.
        self._compiled: dict[str, CompiledSchema | None] = {}

    def update(self, tools: Mapping[str, Mapping[str, Any]]) -> None:
        """Take a fresh listing; a compiled schema the listing did not change is kept."""
        listed: dict[str, Schema | None] = {}
        for name, tool in tools.items():
            schema = tool.get("outputSchema")
            listed[name] = schema if isinstance(schema, dict) else None
        previous = self._listed
        self._compiled = {n: c for n, c in self._compiled.items() if listed.get(n) == previous.get(n)}
        self._listed = listed

    def install(self, session: ClientSession) -> None:
        """Check ``session``'s tool results here; what cannot be checked here still goes to the SDK."""
        fallback: Check = session.validate_tool_result

        async def validate_tool_result(name: str, result: types.CallToolResult) -> None:
            if name not in self._listed:
                await fallback(name, result)
                return
            schema = self._listed[name]
            if schema is None:
                return
            compiled = self._compile(name, schema)
            if compiled is None:
                await fallback(name, result)  # the SDK reports the broken schema
                return
            present = result.structured_content is not None or "structured_content" in result.model_fields_set
            _check(name, compiled, present, result.structured_content)

        # The SDK's one seam for this check: ``call_tool`` calls it on the session for every result.
        session.validate_tool_result = validate_tool_result  # type: ignore[method-assign]

    def check_plain(self, name: str, result: Mapping[str, Any]) -> bool:
        """Hold a tool's plain result (not an error) to its output schema; False when only the SDK can.

        That is when the bridge has not listed the tool, or its schema does not compile.
        """
        if name not in self._listed:
            return False
        schema = self._listed[name]
        if schema is None:
            return True
        compiled = self._compile(name, schema)
        if compiled is None:
            return False
        _check(name, compiled, "structuredContent" in result, result.get("structuredContent"))
        return True

    def _compile(self, name: str, schema: Schema) -> CompiledSchema | None:
        if name in self._compiled:
            return self._compiled[name]
        try:
            compiled: CompiledSchema | None = CompiledSchema(schema, formats=False)
        except SchemaCompileError:
            compiled = None
        self._compiled[name] = compiled
        return compiled


def _check(name: str, schema: CompiledSchema, present: bool, content: Any) -> None:
    """Raise ``RuntimeError`` (as the SDK does) when the result breaks the tool's output schema."""
    if not present:
        raise RuntimeError(f"Tool {name} has an output schema but did not return structured content")
    if not schema.is_valid(content):
        problems = schema.errors(content)
        detail = f"{problems[0].message} at {problems[0].pointer or '/'}" if problems else "does not conform"
        raise RuntimeError(f"Invalid structured content returned by tool {name}: {detail}")
