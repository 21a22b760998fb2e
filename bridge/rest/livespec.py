"""The live OpenAPI document: the static contract plus one typed operation per tool and prompt.

Each tool becomes ``POST /servers/{server}/tools/{tool}`` with the tool's ``inputSchema`` as its
request body and, when it has one, its ``outputSchema`` as the type of ``structuredContent``, in
the whole result and in the lean ``Prefer: return=structured`` answer. Each takes an
``Idempotency-Key`` and says, as ``x-mcp-idempotent``, whether calling it twice is harmless
(annotated ``readOnlyHint`` or ``idempotentHint``), so a generated client knows when a retry
needs a key of its own.
Schemas are carried over whole; only their internal ``$ref``s move, because an OpenAPI document
resolves ``#/...`` against its own root: a tool's ``$defs`` become components named after the
tool, and its references are pointed there. The document is rebuilt when a catalog changes and
served with an ``ETag`` so clients can poll cheaply.

A caller limited to some servers and tools (an allowlisted key, or one without the scope for
destructive tools) is served a document with only the operations it may call, so a client
generated with its key has only those methods. Such documents are cached per allowlist beside
the one everybody else shares, which is served exactly as before.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
from collections.abc import Iterable
from typing import Any

import orjson

from bridge.gateway import Gateway
from bridge.model import DESTRUCTIVE, Principal
from bridge.spec import Spec

__all__ = ["LiveSpec", "build_live_document", "operation_id", "repeatable"]

JSON = dict[str, Any]
_PROBLEMS = ("400", "401", "403", "404", "413", "415", "502", "503", "504")
#: Documents for restricted callers kept at once; past this many allowlists the cache starts over.
MAX_VIEWS = 64


def _identifier(text: str) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", text) if w]
    return "_".join(words) or "x"


def operation_id(kind: str, server: str, name: str) -> str:
    """A stable operationId that is a valid Python and TypeScript identifier, e.g. ``call_demo_process_data``."""
    return f"{kind}_{_identifier(server)}_{_identifier(name)}"


def _component_name(op_id: str, suffix: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in op_id.split("_")) + suffix


def _relocate(schema: Any, component: str, defs_prefix: str, found: dict[str, Any]) -> Any:
    """Copy ``schema`` with ``#``-references pointed at components; its ``$defs`` land in ``found``."""

    def target(ref: str) -> str:
        if ref == "#":
            return f"#/components/schemas/{component}"
        for keyword in ("#/$defs/", "#/definitions/"):
            if ref.startswith(keyword):
                name = ref[len(keyword) :].split("/", 1)
                rest = "/" + name[1] if len(name) > 1 else ""
                return f"#/components/schemas/{defs_prefix}{name[0]}{rest}"
        if ref.startswith("#/"):
            return f"#/components/schemas/{component}{ref[1:]}"
        return ref  # absolute or relative URIs are left to the reader

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                if key in ("$defs", "definitions") and isinstance(value, dict):
                    for name, sub in value.items():
                        found[f"{defs_prefix}{name}"] = walk(sub)
                    continue
                if key == "$ref" and isinstance(value, str):
                    out[key] = target(value)
                elif key == "discriminator" and isinstance(value, dict) and isinstance(value.get("mapping"), dict):
                    # OpenAPI's discriminator maps values to references too.
                    mapping = {k: target(v) if isinstance(v, str) else v for k, v in value["mapping"].items()}
                    out[key] = {**value, "mapping": mapping}
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(schema)


def _problems(extra: Iterable[tuple[str, str]] = ()) -> JSON:
    responses: JSON = {code: {"$ref": f"#/components/responses/{_RESPONSE[code]}"} for code in _PROBLEMS}
    for code, ref in extra:
        responses[code] = {"$ref": f"#/components/responses/{ref}"}
    return responses


_RESPONSE = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "403": "Forbidden",
    "404": "NotFound",
    "413": "PayloadTooLarge",
    "415": "UnsupportedMediaType",
    "422": "UnprocessableContent",
    "502": "BadGateway",
    "503": "ServiceUnavailable",
    "504": "GatewayTimeout",
}


_ANSWER = (
    "The tool's result: whole, or with `Prefer: return=structured` only its `structuredContent` (typed by its"
    " `outputSchema` when it has one), with `Prefer: return=content` only its content blocks; `Preference-Applied`"
    " tells which."
)


def _tool_operation(tool: JSON, schemas: JSON) -> tuple[str, JSON]:
    server, name = tool["server"], tool["name"]
    op_id = operation_id("call", server, name)
    base = _component_name(op_id, "")
    input_name = base + "Input"
    schemas[input_name] = _relocate(tool.get("inputSchema") or {"type": "object"}, input_name, base + "_", schemas)
    whole: JSON = {"$ref": "#/components/schemas/ToolResult"}
    structured: JSON = {"$ref": "#/components/schemas/StructuredContent"}
    if isinstance(tool.get("outputSchema"), dict):
        output_name = base + "Output"
        schemas[output_name] = _relocate(tool["outputSchema"], output_name, base + "_", schemas)
        output = {"$ref": f"#/components/schemas/{output_name}"}
        whole = {
            "allOf": [
                {"$ref": "#/components/schemas/ToolResult"},
                {"type": "object", "properties": {"structuredContent": output}},
            ]
        }
        structured = {"allOf": [output, {"$ref": "#/components/schemas/StructuredContent"}]}
    content: JSON = {"$ref": "#/components/schemas/ContentBlocks"}
    operation: JSON = {
        "operationId": op_id,
        "tags": ["tools", f"server:{server}"],
        "summary": tool.get("title") or tool.get("annotations", {}).get("title") or f"Call {server}.{name}",
        "parameters": [{"$ref": "#/components/parameters/prefer"}, {"$ref": "#/components/parameters/idempotencyKey"}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{input_name}"}}},
        },
        "responses": {
            "200": {
                "description": _ANSWER,
                "headers": {"Preference-Applied": {"$ref": "#/components/headers/PreferenceApplied"}},
                "content": {"application/json": {"schema": {"anyOf": [whole, structured, content]}}},
                "x-preference-applied": {"return=structured": structured, "return=content": content},
            },
            **_problems([("409", "ToolCallConflict"), ("422", "ToolCallUnprocessable")]),
        },
        "x-mcp-idempotent": repeatable(tool),
    }
    if tool.get("description"):
        operation["description"] = tool["description"]
    if tool.get("annotations"):
        operation["x-mcp-annotations"] = tool["annotations"]
    return f"/servers/{server}/tools/{name}", operation


def repeatable(tool: JSON) -> bool:
    """Whether a second call of ``tool`` changes nothing more than the first (its annotations say so)."""
    annotations = tool.get("annotations") or {}
    return annotations.get("readOnlyHint") is True or annotations.get("idempotentHint") is True


def _prompt_operation(prompt: JSON, schemas: JSON) -> tuple[str, JSON]:
    server, name = prompt["server"], prompt["name"]
    op_id = operation_id("prompt", server, name)
    arguments = [a for a in prompt.get("arguments") or [] if isinstance(a.get("name"), str)]
    body_name = _component_name(op_id, "Arguments")
    schemas[body_name] = {
        "type": "object",
        "properties": {
            a["name"]: {"type": "string", **({"description": a["description"]} if a.get("description") else {})}
            for a in arguments
        },
        "required": [a["name"] for a in arguments if a.get("required")],
        "additionalProperties": False,
    }
    operation: JSON = {
        "operationId": op_id,
        "tags": ["prompts", f"server:{server}"],
        "summary": prompt.get("title") or f"Render {server}.{name}",
        "requestBody": {
            "required": any(a.get("required") for a in arguments),
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body_name}"}}},
        },
        "responses": {
            "200": {"$ref": "#/components/responses/PromptResult"},
            **_problems([("422", "UnprocessableContent")]),
        },
    }
    if prompt.get("description"):
        operation["description"] = prompt["description"]
    return f"/servers/{server}/prompts/{name}", operation


def build_live_document(static: JSON, tools: list[JSON], prompts: list[JSON]) -> JSON:
    """The static document with an operation per tool and prompt (static paths keep precedence)."""
    document = copy.deepcopy(static)
    paths: JSON = document.setdefault("paths", {})
    schemas: JSON = document.setdefault("components", {}).setdefault("schemas", {})
    taken = {op.get("operationId") for item in paths.values() for op in item.values() if isinstance(op, dict)}
    for build, entries in ((_tool_operation, tools), (_prompt_operation, prompts)):
        for entry in sorted(entries, key=lambda e: (e["server"], e["name"])):
            extra: JSON = {}
            path, operation = build(entry, extra)
            if path in paths or operation["operationId"] in taken:
                # Two names that differ only in punctuation: keep both, distinguished by a hash.
                digest = hashlib.sha256(f"{entry['server']}\0{entry['name']}".encode()).hexdigest()[:8]
                operation["operationId"] += "_" + digest
            taken.add(operation["operationId"])
            schemas.update(extra)
            paths.setdefault(path, {})["post"] = operation
    return document


class LiveSpec:
    """The live document, rebuilt only when the gateway's catalogs change; one per allowlist."""

    def __init__(self, spec: Spec, gateway: Gateway) -> None:
        self._spec = spec
        self._gateway = gateway
        self._lock = threading.Lock()
        self._cached: tuple[int, bytes, str] | None = None
        self._views: dict[tuple[object, ...], tuple[int, bytes, str]] = {}

    def render(self, principal: Principal | None = None) -> tuple[bytes, str]:
        """The document ``principal`` may see (None: everything), as JSON bytes and its strong ETag (unquoted)."""
        version = self._gateway.catalog_version
        if principal is not None and not self._gateway.sees_everything(principal):
            return self._view(principal, version)
        cached = self._cached
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        with self._lock:
            self._cached = self._build(version, None)
            return self._cached[1], self._cached[2]

    def _view(self, principal: Principal, version: int) -> tuple[bytes, str]:
        view = (principal.servers, principal.tools, DESTRUCTIVE in principal.scopes)
        cached = self._views.get(view)
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        with self._lock:
            built = self._build(version, principal)
            if len(self._views) >= MAX_VIEWS:
                self._views.clear()
            self._views[view] = built
        return built[1], built[2]

    def _build(self, version: int, principal: Principal | None) -> tuple[int, bytes, str]:
        tools = self._gateway.tools(principal=principal)
        prompts = self._gateway.prompts(principal=principal)
        body = orjson.dumps(build_live_document(self._spec.document, tools, prompts))
        return version, body, hashlib.sha256(body).hexdigest()[:32]
