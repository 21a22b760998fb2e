"""Spec → intermediate representation: the operations and schemas every target renders.

Templates see only these objects, never the raw document. Everything a target needs is decided
here once: identifiers, which parameters go where, what the body and the answer are, and which
exception each error answer becomes (``generator.catalogue``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from generator.error_classes import Errors, read_error_classes
from generator.names import camel, snake
from generator.problems import Problems

__all__ = ["Api", "Errors", "Operation", "Param", "build_ir", "camel", "snake"]

_METHODS = ("get", "put", "post", "delete", "patch")
_TOOL_PATH = re.compile(r"^/servers/([^/{}]+)/tools/([^/{}]+)$")
_PROMPT_PATH = re.compile(r"^/servers/([^/{}]+)/prompts/([^/{}]+)$")


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    location: Literal["path", "query"]
    required: bool
    schema: Mapping[str, Any]
    py_name: str
    ts_name: str


@dataclass(frozen=True, slots=True)
class Operation:
    operation_id: str
    method: str
    path: str
    summary: str
    description: str
    tags: tuple[str, ...]
    params: tuple[Param, ...]
    body_schema: Mapping[str, Any] | None
    body_required: bool
    body_ref: str | None
    response_schema: Mapping[str, Any] | None
    response_ref: str | None
    #: "tool" and "prompt" operations are the live spec's per-target ones.
    kind: Literal["static", "tool", "prompt"]
    target: tuple[str, str] | None
    py_name: str
    ts_name: str
    #: Lean forms of the 200 answer a client may ask for with a ``Prefer`` header, by the
    #: ``Preference-Applied`` value that announces each (``return=structured`` → its schema); from
    #: the response's ``x-preference-applied``. ``response_schema`` is then the whole answer.
    answers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: The success answer is a ``text/event-stream``: clients read it as messages as they arrive,
    #: reconnecting with ``Last-Event-ID``, instead of one JSON value.
    streams: bool = False
    #: The success answer is plain text (``text/plain``, such as Prometheus' exposition format):
    #: clients hand it back as a string.
    text: bool = False
    #: The operation takes an ``Idempotency-Key`` header (the bridge's tool calls): a client sends
    #: one of its own on every attempt of a call it may retry, unless ``repeatable``.
    idempotency_key: bool = False
    #: Running it twice does no harm (a tool annotated ``readOnlyHint`` or ``idempotentHint``:
    #: the live spec's ``x-mcp-idempotent``), so a retry needs no key.
    repeatable: bool = False

    @property
    def path_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.location == "path")

    @property
    def query_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.location == "query")


@dataclass(frozen=True, slots=True)
class Api:
    title: str
    version: str
    sha256: str
    operations: tuple[Operation, ...]
    schemas: Mapping[str, Any]
    #: The exception classes of the clients, from the spec's problem-type catalogue.
    errors: Errors
    document: Mapping[str, Any] = field(repr=False)

    @property
    def static(self) -> tuple[Operation, ...]:
        return tuple(o for o in self.operations if o.kind == "static")

    @property
    def tools(self) -> tuple[Operation, ...]:
        return tuple(o for o in self.operations if o.kind == "tool")

    @property
    def prompts(self) -> tuple[Operation, ...]:
        return tuple(o for o in self.operations if o.kind == "prompt")


def _resolve(document: Mapping[str, Any], node: Any, where: str, problems: Problems) -> Any:
    for _ in range(16):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            return node
        ref = node["$ref"]
        if not ref.startswith("#/"):
            problems.error(where, f"only local references are supported, got {ref!r}")
            return {}
        target: Any = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                problems.error(where, f"reference {ref!r} does not resolve")
                return {}
            target = target[part]
        node = target
    problems.error(where, "reference chain too long")
    return {}


def _ref_name(schema: Any) -> str | None:
    if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        ref = schema["$ref"]
        if ref.startswith("#/components/schemas/") and ref.count("/") == 3:
            return str(ref.rsplit("/", 1)[1])
    return None


def _success_media(document: Mapping[str, Any], op: Mapping[str, Any], where: str, problems: Problems) -> set[str]:
    """The media types of the success answer (``200``), without their parameters."""
    response = (op.get("responses") or {}).get("200")
    if response is None:
        return set()
    content = (_resolve(document, response, f"{where}/responses/200", problems) or {}).get("content") or {}
    return {media.split(";")[0].strip() for media in content}


def _streams(media: set[str]) -> bool:
    """Whether the success answer is an event stream (``text/event-stream`` and no JSON form)."""
    return "text/event-stream" in media and "application/json" not in media


def _text(media: set[str]) -> bool:
    """Whether the success answer is plain text (``text/plain`` and no JSON form)."""
    return "text/plain" in media and "application/json" not in media


def _json_response(
    document: Mapping[str, Any], op: Mapping[str, Any], where: str, problems: Problems
) -> tuple[Any, dict[str, Any]]:
    """The success answer's schema and its lean forms (see ``Operation.answers``)."""
    responses = op.get("responses") or {}
    for code in ("200", "201"):
        if code in responses:
            response = _resolve(document, responses[code], f"{where}/responses/{code}", problems)
            content = (response or {}).get("content") or {}
            media = content.get("application/json")
            schema = media.get("schema") if media else None
            lean = (response or {}).get("x-preference-applied")
            if lean is None:
                return schema, {}
            return _whole_answer(schema, lean, f"{where}/responses/{code}", problems)
    return None, {}


def _whole_answer(schema: Any, lean: Any, where: str, problems: Problems) -> tuple[Any, dict[str, Any]]:
    """Of an ``anyOf`` answer, the one alternative no ``x-preference-applied`` entry names."""
    alternatives = schema.get("anyOf") if isinstance(schema, dict) else None
    if not isinstance(lean, dict) or not isinstance(alternatives, list):
        problems.error(where, "x-preference-applied needs a map of values to schemas and an anyOf answer")
        return schema, {}
    whole = [a for a in alternatives if a not in lean.values()]
    if len(whole) != 1 or any(s not in alternatives for s in lean.values()):
        problems.error(where, "x-preference-applied must name every anyOf alternative but the whole answer")
        return schema, {}
    return whole[0], dict(lean)


def build_ir(document: Mapping[str, Any], raw: bytes, problems: Problems) -> Api:
    """Read every operation of ``document``; what cannot be generated lands in ``problems``."""
    operations: list[Operation] = []
    seen_ids: dict[str, str] = {}
    seen_py: dict[str, str] = {}
    for path, item in sorted((document.get("paths") or {}).items()):
        item_where = "/paths/" + path.replace("~", "~0").replace("/", "~1")
        item = _resolve(document, item, item_where, problems)
        for method in _METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            where = f"{item_where}/{method}"
            op_id = op.get("operationId")
            if not isinstance(op_id, str) or not op_id:
                problems.error(where, "operation has no operationId; every generated method needs one")
                continue
            if op_id in seen_ids:
                problems.error(where, f"operationId {op_id!r} is also used at {seen_ids[op_id]}")
                continue
            seen_ids[op_id] = where
            response_schema, answers = _json_response(document, op, where, problems)
            media = _success_media(document, op, where, problems)
            params: dict[str, Param] = {}
            keyed = False
            for index, raw_param in enumerate([*item.get("parameters", []), *op.get("parameters", [])]):
                param = _resolve(document, raw_param, f"{where}/parameters/{index}", problems)
                location = param.get("in")
                if location == "header" and answers and str(param.get("name", "")).lower() == "prefer":
                    continue  # how a client asks for the lean answers: ``Operation.answers``
                if location == "header" and str(param.get("name", "")).lower() == "idempotency-key":
                    keyed = True  # sent by the client itself: ``Operation.idempotency_key``
                    continue
                if location in ("header", "cookie"):
                    problems.warn(f"{where}/parameters/{index}", f"{location} parameters are left to the caller")
                    continue
                if location not in ("path", "query"):
                    problems.error(f"{where}/parameters/{index}", f"unknown parameter location {location!r}")
                    continue
                params[param["name"]] = Param(
                    name=param["name"],
                    location=location,
                    required=bool(param.get("required", location == "path")),
                    schema=param.get("schema") or {},
                    py_name=snake(param["name"]),
                    ts_name=camel(param["name"]),
                )
            body = (
                _resolve(document, op["requestBody"], f"{where}/requestBody", problems) if "requestBody" in op else None
            )
            body_schema = ((body or {}).get("content") or {}).get("application/json", {}).get("schema")
            if body is not None and body_schema is None:
                problems.error(f"{where}/requestBody", "only application/json request bodies can be generated")
            kind: Literal["static", "tool", "prompt"] = "static"
            target = None
            if not any(p.location == "path" for p in params.values()):
                if match := _TOOL_PATH.match(path):
                    kind, target = "tool", (match.group(1), match.group(2))
                elif match := _PROMPT_PATH.match(path):
                    kind, target = "prompt", (match.group(1), match.group(2))
            py_name = snake(op_id)
            if py_name in seen_py:
                # Two ids that differ only in case or punctuation: keep both, apart by a digest.
                py_name += "_" + hashlib.sha256(op_id.encode()).hexdigest()[:6]
            seen_py[py_name] = op_id
            operations.append(
                Operation(
                    operation_id=op_id,
                    method=method.upper(),
                    path=path,
                    summary=str(op.get("summary") or ""),
                    description=str(op.get("description") or ""),
                    tags=tuple(op.get("tags") or ()),
                    params=tuple(sorted(params.values(), key=lambda p: (not p.required, p.location, p.name))),
                    body_schema=body_schema,
                    body_required=bool((body or {}).get("required", False)),
                    body_ref=_ref_name(body_schema),
                    response_schema=response_schema,
                    response_ref=_ref_name(response_schema),
                    kind=kind,
                    target=target,
                    py_name=py_name,
                    ts_name=camel(py_name),
                    answers=answers,
                    streams=_streams(media),
                    text=_text(media),
                    idempotency_key=keyed,
                    repeatable=op.get("x-mcp-idempotent") is True,
                )
            )
    info = document.get("info") or {}
    schemas = (document.get("components") or {}).get("schemas") or {}
    return Api(
        title=str(info.get("title") or "API"),
        version=str(info.get("version") or "0"),
        sha256=hashlib.sha256(raw).hexdigest(),
        operations=tuple(sorted(operations, key=lambda o: o.operation_id)),
        schemas=schemas,
        errors=read_error_classes(schemas, problems),
        document=document,
    )
