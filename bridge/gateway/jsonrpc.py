"""Plain JSON-RPC over the gateway: the ``POST /mcp`` of a REST client that sends one request.

A caller posts ``{"jsonrpc": "2.0", "method": "tools/call", "params": {...}, "id": 1}`` with no
MCP headers and no handshake, and gets one ``MCPResponse`` back. Tool errors stay results
(``isError: true``), as MCP has them; every other failure becomes a JSON-RPC error whose
``data`` is the same problem object the REST API would have answered.

Naming: with one server, tools and prompts keep the server's own names. With several, the list
shows qualified names (``server.tool``), which never change as servers come and go; calls
accept a bare name while it is unambiguous.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bridge.errors import BridgeError, FieldError, NotFound, RequestInvalid, ToolFailed
from bridge.gateway.gateway import Gateway
from bridge.schema import CompiledSchema

__all__ = ["METHOD_NOT_FOUND", "JsonRpcDispatcher"]

JSON = dict[str, Any]
METHOD_NOT_FOUND = -32601

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_PARAMS: Mapping[str, Mapping[str, Any]] = {
    "tools/call": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1}, "arguments": {"type": "object"}},
    },
    "resources/read": {
        "type": "object",
        "required": ["uri"],
        "properties": {"uri": {"type": "string", "minLength": 1}},
    },
    "prompts/get": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1}, "arguments": _STRING_MAP},
    },
}
_CHECKS = {method: CompiledSchema(schema) for method, schema in _PARAMS.items()}
_OWN_KEYS = ("server", "qualifiedName")


class JsonRpcDispatcher:
    """Answers single JSON-RPC requests from the gateway's operations."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._methods: dict[str, Callable[[JSON], JSON]] = {
            "ping": lambda _p: {},
            "tools/list": self._tools_list,
            "tools/call": self._tools_call,
            "resources/list": lambda _p: {"resources": self._strip(self.gateway.resources()["resources"])},
            "resources/templates/list": lambda _p: {
                "resourceTemplates": self._strip(self.gateway.resources()["resourceTemplates"])
            },
            "resources/read": self._resources_read,
            "prompts/list": self._prompts_list,
            "prompts/get": self._prompts_get,
        }

    def handle(self, request: Mapping[str, Any]) -> JSON | None:
        """The response to one (already envelope-checked) request, or None for a notification."""
        request_id = request.get("id")
        method = request["method"]
        params = request.get("params") or {}
        try:
            handler = self._methods.get(method)
            if handler is None:
                raise _MethodNotFound(f"method {method!r} is not supported by the plain JSON-RPC endpoint")
            check = _CHECKS.get(method)
            if check is not None:
                check.check(params, base="/params", what=f"invalid params for {method}")
            result = handler(params)
        except BridgeError as exc:
            if "id" not in request:
                return None
            return {"jsonrpc": "2.0", "id": request_id, "error": _error(exc)}
        if "id" not in request:
            return None
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    # -- naming ------------------------------------------------------------------------------

    def _single(self) -> bool:
        return len(self.gateway.upstreams.names()) == 1

    def _named(self, items: list[JSON]) -> list[JSON]:
        single = self._single()
        return [
            {**{k: v for k, v in item.items() if k not in _OWN_KEYS}, "name": item["name"]}
            if single
            else {**{k: v for k, v in item.items() if k not in _OWN_KEYS}, "name": item["qualifiedName"]}
            for item in items
        ]

    @staticmethod
    def _strip(items: list[JSON]) -> list[JSON]:
        return [{k: v for k, v in item.items() if k not in _OWN_KEYS} for item in items]

    def listing(self, kind: str) -> list[JSON]:
        """Tools, prompts, resources or resourceTemplates as an MCP client sees them here."""
        if kind == "tools":
            return self._named(self.gateway.tools())
        if kind == "prompts":
            return self._named(self.gateway.prompts())
        return self._strip(self.gateway.resources()[kind])

    # -- methods -----------------------------------------------------------------------------

    def _tools_list(self, _params: JSON) -> JSON:
        return {"tools": self._named(self.gateway.tools())}

    def _tools_call(self, params: JSON) -> JSON:
        server, tool = self.gateway.resolve_tool(params["name"])
        try:
            return self.gateway.call_tool(server, tool, params.get("arguments") or {}, where="/params/arguments")
        except ToolFailed as failed:
            return failed.result  # in MCP a tool's own failure is a result, not a protocol error

    def _resources_read(self, params: JSON) -> JSON:
        server = self.gateway.resolve_resource(params["uri"])
        return self.gateway.read_resource(server, params["uri"])

    def _prompts_list(self, _params: JSON) -> JSON:
        return {"prompts": self._named(self.gateway.prompts())}

    def _prompts_get(self, params: JSON) -> JSON:
        server, prompt = self.gateway.resolve_prompt(params["name"])
        return self.gateway.get_prompt(server, prompt, params.get("arguments") or {}, where="/params/arguments")


class _MethodNotFound(NotFound):
    jsonrpc_code = METHOD_NOT_FOUND


def _error(exc: BridgeError) -> JSON:
    error: JSON = {"code": exc.jsonrpc_code, "message": exc.detail, "data": exc.to_problem()}
    if isinstance(exc, RequestInvalid) and not exc.errors:
        error["data"]["errors"] = [FieldError("/params", exc.detail).to_dict()]
    return error
