"""IR → a typed TypeScript client on ``fetch``, with no runtime dependencies.

JSON Schema becomes TypeScript types here (enum/const → literal unions, oneOf/anyOf → unions,
allOf → intersections, ``$ref`` → named types); anything TypeScript cannot say stays ``unknown``.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping
from typing import Any

from generator.ir import Api, Operation
from generator.problems import Problems
from generator.render import Files, environment, stamp

__all__ = ["render_typescript", "ts_name", "ts_type"]

_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def ts_name(component: str) -> str:
    name = re.sub(r"[^0-9A-Za-z_$]", "_", component)
    return "_" + name if name[:1].isdigit() else name


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _key(name: str) -> str:
    return name if _IDENT.match(name) else _literal(name)


def ts_type(schema: Any, indent: str = "", prefix: str = "") -> str:
    """The TypeScript type for a JSON Schema."""
    if schema is True or not isinstance(schema, Mapping) or not schema:
        return "unknown"
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return prefix + ts_name(ref.rsplit("/", 1)[1])
    if "const" in schema:
        return _literal(schema["const"])
    if isinstance(schema.get("enum"), list):
        return " | ".join(_literal(v) for v in schema["enum"]) or "never"
    for key, joiner in (("oneOf", " | "), ("anyOf", " | "), ("allOf", " & ")):
        if isinstance(schema.get(key), list):
            parts = [ts_type(s, indent, prefix) for s in schema[key]]
            rest = {k: v for k, v in schema.items() if k not in (key, "discriminator")}
            base = ts_type(rest, indent, prefix) if {"type", "properties"} & set(rest) else None
            joined = joiner.join(f"({p})" for p in parts) or "unknown"
            return f"({base}) & ({joined})" if base else joined
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(ts_type({**schema, "type": k}, indent, prefix) for k in kind)
    if kind in ("string",):
        return "string"
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "boolean"
    if kind == "null":
        return "null"
    if kind == "array":
        return f"Array<{ts_type(schema.get('items', True), indent, prefix)}>"
    if kind == "object" or "properties" in schema:
        return _object(schema, indent, prefix)
    return "unknown"


def _object(schema: Mapping[str, Any], indent: str, prefix: str) -> str:
    required = set(schema.get("required") or [])
    inner = indent + "  "
    lines = []
    for name, sub in (schema.get("properties") or {}).items():
        doc = sub.get("description") if isinstance(sub, Mapping) else None
        if doc:
            lines.append(f"{inner}/** {' '.join(str(doc).split()).replace('*/', '* /')} */")
        optional = "" if name in required else "?"
        lines.append(f"{inner}{_key(name)}{optional}: {ts_type(sub, inner, prefix)};")
    extra = schema.get("additionalProperties", True)
    if extra is not False:
        value = "unknown" if lines or extra is True else ts_type(extra, inner, prefix)
        lines.append(f"{inner}[key: string]: {value};")
    if not lines:
        return "Record<string, never>"
    return "{\n" + "\n".join(lines) + f"\n{indent}}}"


#: The TypeScript type of a problem error's accessor, by the kind of member it reads.
_MEMBER_TYPES = {
    "strings": "string[]",
    "objects": "Array<Record<string, unknown>>",
    "object": "Record<string, unknown> | undefined",
    "string": "string | undefined",
    "integer": "number | undefined",
    "any": "unknown",
    "seconds": "number | undefined",
    "text": "string | undefined",
}


def _jsdoc(summary: str, details: str = "", indent: str = "") -> str:
    """A JSDoc comment: the summary line, then ``details`` wrapped as a paragraph."""
    summary, details = (" ".join(text.replace("*/", "* /").split()) for text in (summary, details))
    if not details:
        return f"/** {summary} */"
    lines = textwrap.wrap(details, 100 - len(indent) - 3, break_long_words=False, break_on_hyphens=False)
    body = "".join(f"\n{indent} * {line}" for line in lines)
    return f"/**\n{indent} * {summary}\n{indent} *{body}\n{indent} */"


def render_typescript(api: Api, package: str, problems: Problems) -> Files:
    if not api.errors.types:
        problems.warn("/components/schemas", "no x-problem-types catalogue: errors are told apart by status alone")
    env = environment("typescript")
    env.filters["tstype"] = ts_type
    env.filters["tsparam"] = lambda schema: ts_type(schema, "  ", "models.")
    env.filters["tsname"] = ts_name
    env.filters["json"] = _literal
    names = [ts_name(n) for n in api.schemas]
    if len(set(names)) != len(names):
        problems.error("/components/schemas", "two schema names map to the same TypeScript name")

    def path_expr(op: Operation) -> str:
        path = op.path
        for p in op.path_params:
            path = path.replace("{" + p.name + "}", "${encodeURIComponent(String(" + p.ts_name + "))}")
        return "`" + path + "`"

    def response_type(op: Operation) -> str:
        if op.text:
            return "string"
        if op.response_schema is None:
            return "unknown"
        return ts_type(op.response_schema, "  ", "models.")

    def body_type(op: Operation) -> str:
        return ts_type(op.body_schema, "  ", "models.") if op.body_schema is not None else "never"

    def output_type(op: Operation) -> str:
        for part in (op.response_schema or {}).get("allOf", []):
            typed = (part.get("properties") or {}).get("structuredContent")
            if typed:
                return ts_type(typed, "  ", "models.")
        return "Record<string, unknown>"

    context = {
        "api": api,
        "package": package,
        "title": api.title,
        "version": api.version,
        "stamp": stamp(api.sha256, "//"),
        "schemas": sorted(api.schemas.items()),
        "path_expr": path_expr,
        "response_type": response_type,
        "body_type": body_type,
        "output_type": output_type,
        "errors": api.errors,
        "tree": api.errors.tree(lambda member: f"`{member.ts_name}`"),
        "ts_member_type": _MEMBER_TYPES,
        "jsdoc": _jsdoc,
        "surface": {"listServers", "listTools", "callTool", "callServerTool", "readResource", "mcpRequest"}
        <= {op.operation_id for op in api.operations},
    }
    files: Files = {}
    for name in (
        "src/models.ts",
        "src/errors.ts",
        "src/client.ts",
        "src/webhooks.ts",
        "src/index.ts",
        "package.json",
        "tsconfig.json",
    ):
        files[f"{package}/{name}"] = env.get_template(name.replace("/", "_") + ".jinja").render(context)
    return files
