"""What a JSON Schema is, for the Go target: ``$ref``, nullability and the combinators seen through.

A schema reads as one ``Shape``: a reference to a component, a primitive, a string enum, an array,
a map, a struct (``allOf`` of objects flattened into one) or a union (``oneOf``/``anyOf`` of
several kinds, or a list of types). ``null`` among the options makes it nullable instead of a
variant. Anything else is ``any``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = ["ANY", "NONE", "PREFIX", "STRING", "GoType", "Kind", "Match", "Shape", "Shapes"]

#: How a type behaves when optional: ``text`` is omitted when empty, ``scalar`` and ``struct`` become
#: pointers, ``nilable`` (slices, maps, interfaces) is nil when absent.
Kind = Literal["text", "scalar", "struct", "nilable"]
PREFIX = "#/components/schemas/"
#: How a union's decoder tells a value is of a variant: its JSON kind, the members it needs, and
#: the (member, string) pairs it holds (member "" is the value itself).
Match = tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class GoType:
    expr: str
    kind: Kind

    def optional(self) -> str:
        """The type of an optional parameter or body: nil when absent."""
        return self.expr if self.kind == "nilable" else "*" + self.expr


ANY = GoType("interface{}", "nilable")
STRING = GoType("string", "text")
_PRIMITIVES = {
    "string": STRING,
    "integer": GoType("int64", "scalar"),
    "number": GoType("float64", "scalar"),
    "boolean": GoType("bool", "scalar"),
}

_JSON_KINDS = {"string": "string", "int64": "integer", "float64": "number", "bool": "boolean"}


@dataclass(frozen=True, slots=True)
class Shape:
    """What a schema is, once ``$ref``, nullability and the combinators are seen through."""

    form: Literal["ref", "any", "primitive", "enum", "array", "map", "struct", "union"]
    nullable: bool = False
    ref: str = ""
    primitive: GoType = STRING
    const: str | None = None
    values: tuple[str, ...] = ()
    inner: Any = True
    properties: tuple[tuple[str, Any], ...] = ()
    required: frozenset[str] = frozenset()
    options: tuple[Any, ...] = ()


#: A schema Go cannot say more of than ``interface{}``.
NONE = Shape("any")


def _is_null(schema: Any) -> bool:
    return isinstance(schema, Mapping) and (
        schema.get("type") == "null" or ("const" in schema and schema["const"] is None)
    )


class Shapes:
    """Reads the schemas of one spec, whose ``components/schemas`` the references point into."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self._schemas = schemas

    def of(self, schema: Any, depth: int = 0) -> Shape:
        """What ``schema`` is."""
        if not isinstance(schema, Mapping) or depth > 16:
            return NONE
        ref = schema.get("$ref")
        if isinstance(ref, str):
            name = ref[len(PREFIX) :] if ref.startswith(PREFIX) else ""
            return Shape("ref", ref=name) if name in self._schemas else NONE
        if "const" in schema:
            value = schema["const"]
            if isinstance(value, str):
                return Shape("primitive", const=value)
            named = "boolean" if isinstance(value, bool) else "integer" if isinstance(value, int) else "number"
            return Shape("primitive", primitive=_PRIMITIVES[named]) if isinstance(value, int | float) else NONE
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            values = [v for v in enum if v is not None]
            if values and all(isinstance(v, str) for v in values):
                return Shape("enum", nullable=None in enum, values=tuple(dict.fromkeys(values)))
            return NONE
        for key in ("oneOf", "anyOf"):
            options = schema.get(key)
            if isinstance(options, list) and options and not schema.get("properties"):
                rest = [o for o in options if not _is_null(o)]
                nullable = len(rest) < len(options)
                if len(rest) == 1:
                    inner = self.of(rest[0], depth + 1)
                    return replace(inner, nullable=inner.nullable or nullable)
                return Shape("union", nullable=nullable, options=tuple(rest)) if rest else replace(NONE, nullable=True)
        parts = schema.get("allOf")
        if isinstance(parts, list) and parts:
            if len(parts) == 1 and not schema.get("properties"):
                return self.of(parts[0], depth + 1)
            flat = self.flatten(schema, depth)
            return Shape("struct", properties=tuple(flat[0].items()), required=flat[1]) if flat else NONE
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"]
            nullable = len(kinds) < len(kind)
            if len(kinds) == 1:
                inner = self.of({**schema, "type": kinds[0]}, depth + 1)
                return replace(inner, nullable=inner.nullable or nullable)
            options = tuple({**schema, "type": k} for k in kinds)
            return Shape("union", nullable=nullable, options=options) if kinds else replace(NONE, nullable=True)
        if isinstance(kind, str) and kind in _PRIMITIVES:
            return Shape("primitive", primitive=_PRIMITIVES[kind])
        if kind == "array" or (kind is None and "items" in schema):
            return Shape("array", inner=schema.get("items", True))
        if kind == "object" or (kind is None and "properties" in schema):
            flat = self.flatten(schema, depth)
            if flat is not None and "properties" in schema:
                return Shape("struct", properties=tuple(flat[0].items()), required=flat[1])
            extra = schema.get("additionalProperties", True)
            return Shape("map", inner=extra if isinstance(extra, Mapping) else True)
        return replace(NONE, nullable=kind == "null")

    def flatten(self, schema: Any, depth: int) -> tuple[dict[str, Any], frozenset[str]] | None:
        """The properties and required names of an object schema through ``allOf`` and references."""
        if not isinstance(schema, Mapping) or depth > 16:
            return None
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = self._schemas.get(ref[len(PREFIX) :]) if ref.startswith(PREFIX) else None
            return self.flatten(target, depth + 1)
        properties = schema.get("properties")
        if not isinstance(properties, Mapping | None) or schema.get("type", "object") != "object":
            return None
        merged: dict[str, Any] = dict(properties or {})
        required = {r for r in schema.get("required") or () if isinstance(r, str)}
        for part in schema.get("allOf") or ():
            flat = self.flatten(part, depth + 1)
            if flat is None:
                return None
            merged.update(flat[0])
            required |= flat[1]
        return merged, frozenset(required)

    def kind_of(self, component: str, depth: int = 0) -> Kind:
        """How the named type of a component behaves when optional."""
        shape = self.of(self._schemas[component])
        if shape.form == "ref":
            return self.kind_of(shape.ref, depth + 1) if depth < 16 else "nilable"
        if shape.form in ("struct", "union"):
            return "struct"
        if shape.form == "primitive":
            return shape.primitive.kind
        return "text" if shape.form == "enum" else "nilable"

    def match(self, shape: Shape, depth: int = 0) -> Match:
        """How a union's decoder tells that a JSON value is of this shape."""
        if shape.form == "ref" and depth < 16:
            return self.match(self.of(self._schemas[shape.ref]), depth + 1)
        if shape.form == "struct":
            consts = []
            for prop, sub in shape.properties:
                inner = self.of(sub)
                if inner.form == "primitive" and inner.const is not None:
                    consts.append((prop, inner.const))
            return "object", tuple(sorted(shape.required)), tuple(consts)
        if shape.form == "primitive" and shape.const is not None:
            return "string", (), (("", shape.const),)
        if shape.form == "primitive":
            return _JSON_KINDS[shape.primitive.expr], (), ()
        return {"map": "object", "array": "array", "enum": "string"}.get(shape.form, "any"), (), ()
