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

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bridge.errors import BridgeError, NotFound, ToolFailed
from bridge.gateway.gateway import Gateway
from bridge.model import Principal, Relay
from bridge.schema import CompiledSchema
from bridge.telemetry import named_jsonrpc_error

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
    "completion/complete": {
        "type": "object",
        "required": ["ref", "argument"],
        "properties": {
            "ref": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["type", "name"],
                        "properties": {"type": {"const": "ref/prompt"}, "name": {"type": "string", "minLength": 1}},
                    },
                    {
                        "type": "object",
                        "required": ["type", "uri"],
                        "properties": {"type": {"const": "ref/resource"}, "uri": {"type": "string", "minLength": 1}},
                    },
                ]
            },
            "argument": {
                "type": "object",
                "required": ["name", "value"],
                "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
            },
            "context": {"type": "object", "properties": {"arguments": _STRING_MAP}},
        },
    },
}
_CHECKS = {method: CompiledSchema(schema) for method, schema in _PARAMS.items()}
_OWN_KEYS = ("server", "qualifiedName")


class JsonRpcDispatcher:
    """The gateway as MCP names it: single JSON-RPC requests, and the operations MCP clients reach.

    ``handle`` answers a plain request; the MCP endpoint calls the same ``listing``,
    ``call_tool``, ``read_resource``, ``get_prompt`` and ``complete``, with a relay to its client.
    """

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._methods: dict[str, Callable[[JSON, Principal, str | None, Relay | None], Awaitable[JSON]]] = {
            "ping": self._ping,
            "tools/list": self._tools_list,
            "tools/call": self._tools_call,
            "resources/list": self._resources_list,
            "resources/templates/list": self._templates_list,
            "resources/read": self._resources_read,
            "prompts/list": self._prompts_list,
            "prompts/get": self._prompts_get,
            "completion/complete": self._complete,
        }

    async def handle(self, request: Mapping[str, Any], principal: Principal, relay: Relay | None = None) -> JSON | None:
        """The response to one (already envelope-checked) request, or None for a notification.

        ``relay`` carries what a call sends back while it runs (progress) to a caller that has a
        channel for it (the WebSocket); a plain POST has none.
        """
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
            result = await handler(params, principal, None if request_id is None else str(request_id), relay)
        except BridgeError as exc:
            if "id" not in request:
                return None
            return {"jsonrpc": "2.0", "id": request_id, "error": named_jsonrpc_error(exc)}
        if "id" not in request:
            return None
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    # -- naming ------------------------------------------------------------------------------

    def _named(self, items: list[JSON]) -> list[JSON]:
        """With one server its own names; with several, the qualified ones (which never change)."""
        key = "name" if len(self.gateway.upstreams.names()) == 1 else "qualifiedName"
        return [{**{k: v for k, v in item.items() if k not in _OWN_KEYS}, "name": item[key]} for item in items]

    @staticmethod
    def _strip(items: list[JSON]) -> list[JSON]:
        return [{k: v for k, v in item.items() if k not in _OWN_KEYS} for item in items]

    def listing(self, kind: str, principal: Principal) -> list[JSON]:
        """Tools, prompts, resources or resourceTemplates as an MCP client sees them here."""
        if kind == "tools":
            return self._named(self.gateway.tools(principal=principal))
        if kind == "prompts":
            return self._named(self.gateway.prompts(principal=principal))
        return self._strip(self.gateway.resources(principal=principal)[kind])

    # -- operations --------------------------------------------------------------------------

    async def call_tool(
        self,
        name: str,
        arguments: JSON,
        principal: Principal,
        relay: Relay | None = None,
        request_id: str | None = None,
    ) -> JSON:
        server, tool = self.gateway.resolve_tool(name, principal)
        try:
            return await self.gateway.call_tool(
                server,
                tool,
                arguments,
                principal=principal,
                where="/params/arguments",
                relay=relay,
                request_id=request_id,
            )
        except ToolFailed as failed:
            return failed.result  # in MCP a tool's own failure is a result, not a protocol error

    async def read_resource(self, uri: str, principal: Principal, relay: Relay | None = None) -> JSON:
        server = self.gateway.resolve_resource(uri, principal)
        return await self.gateway.read_resource(server, uri, principal=principal, relay=relay)

    async def get_prompt(
        self, name: str, arguments: dict[str, str], principal: Principal, relay: Relay | None = None
    ) -> JSON:
        server, prompt = self.gateway.resolve_prompt(name, principal)
        return await self.gateway.get_prompt(
            server, prompt, arguments, principal=principal, where="/params/arguments", relay=relay
        )

    async def complete(
        self, ref: JSON, argument: Mapping[str, str], context: Mapping[str, str] | None, principal: Principal
    ) -> JSON:
        """Complete a prompt's argument (the prompt named as listed here) or a resource template's."""
        return await self.gateway.complete(ref, argument, context, principal=principal)

    # -- plain methods -----------------------------------------------------------------------

    async def _ping(self, _params: JSON, _principal: Principal, _request_id: str | None, _relay: Relay | None) -> JSON:
        return {}

    async def _tools_list(
        self, _params: JSON, principal: Principal, _request_id: str | None, _relay: Relay | None
    ) -> JSON:
        return {"tools": self.listing("tools", principal)}

    async def _tools_call(
        self, params: JSON, principal: Principal, request_id: str | None, relay: Relay | None
    ) -> JSON:
        arguments = params.get("arguments") or {}
        return await self.call_tool(params["name"], arguments, principal, relay, request_id=request_id)

    async def _resources_list(
        self, _params: JSON, principal: Principal, _request_id: str | None, _relay: Relay | None
    ) -> JSON:
        return {"resources": self.listing("resources", principal)}

    async def _templates_list(
        self, _params: JSON, principal: Principal, _request_id: str | None, _relay: Relay | None
    ) -> JSON:
        return {"resourceTemplates": self.listing("resourceTemplates", principal)}

    async def _resources_read(
        self, params: JSON, principal: Principal, _request_id: str | None, relay: Relay | None
    ) -> JSON:
        return await self.read_resource(params["uri"], principal, relay)

    async def _prompts_list(
        self, _params: JSON, principal: Principal, _request_id: str | None, _relay: Relay | None
    ) -> JSON:
        return {"prompts": self.listing("prompts", principal)}

    async def _prompts_get(
        self, params: JSON, principal: Principal, _request_id: str | None, relay: Relay | None
    ) -> JSON:
        return await self.get_prompt(params["name"], params.get("arguments") or {}, principal, relay)

    async def _complete(
        self, params: JSON, principal: Principal, _request_id: str | None, _relay: Relay | None
    ) -> JSON:
        argument = params["argument"]
        context = (params.get("context") or {}).get("arguments")
        return await self.complete(
            params["ref"], {"name": argument["name"], "value": argument["value"]}, context, principal
        )


class _MethodNotFound(NotFound):
    jsonrpc_code = METHOD_NOT_FOUND
