"""JSON Schema → Go declarations for the Go target: structs, typed string enums, unions and maps.

Each component schema becomes a named Go type; an inline object, enum or union gets a name from
where it sits (``ServerInfo`` + ``status`` → ``ServerInfoStatus``). Optional numbers, booleans and
structs are pointers, optional strings, slices and maps are left out when empty (``omitempty``),
``oneOf``/``anyOf`` of several kinds is a struct with one field per variant and its own JSON
methods, and what Go cannot say exactly is ``interface{}``. Names are decided in a fixed order,
so the output is the same on every run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from generator.catalogue import escape
from generator.go_names import doc_lines, exported, go_string, json_tag_ok, sentence
from generator.go_shapes import ANY, PREFIX, GoType, Shape, Shapes
from generator.problems import Problems

__all__ = ["Decl", "GoModels", "Variant"]

_LABELS = {"object": "Object", "array": "Array", "string": "Text", "integer": "Integer", "number": "Number"} | {
    "boolean": "Boolean"
}


@dataclass(frozen=True, slots=True)
class Variant:
    """One field of a union: its name, field type, the type decoded into, and how a value is matched."""

    name: str
    field: str
    decoded: str
    pointer: bool
    match: str


@dataclass(frozen=True, slots=True)
class Decl:
    """One Go type declaration, ready for the models template."""

    name: str
    doc: tuple[str, ...]
    form: Literal["struct", "enum", "union", "named", "alias"]
    lines: tuple[str, ...] = ()
    values: tuple[tuple[str, str], ...] = ()
    variants: tuple[Variant, ...] = ()
    underlying: str = ""


class GoModels:
    """The Go types of one spec's schemas; ``type_of`` adds those an operation needs."""

    def __init__(self, schemas: Mapping[str, Any], problems: Problems, reserved: frozenset[str]) -> None:
        self._schemas = schemas
        self._shapes = Shapes(schemas)
        self._problems = problems
        self._taken: set[str] = set(reserved)
        self._names: dict[str, str] = {}
        self._decls: list[Decl] = []
        for component in sorted(schemas):
            name = exported(component)
            if name in reserved:
                name += "Model"  # e.g. the schema ProblemError, whose name the client's error type has
            if name in self._taken:
                self._problems.error(f"{PREFIX[1:]}{escape(component)}", f"its Go name {name} is taken by another")
            self._names[component] = self._fresh(name)
        for component in sorted(schemas):
            self._component(component)

    @property
    def decls(self) -> tuple[Decl, ...]:
        return tuple(sorted(self._decls, key=lambda d: d.name))

    def name_of(self, component: str) -> str | None:
        return self._names.get(component)

    def _fresh(self, hint: str) -> str:
        name, n = hint, 2
        while name in self._taken:
            name, n = f"{hint}{n}", n + 1
        self._taken.add(name)
        return name

    def type_of(self, schema: Any, hint: str, where: str, about: str) -> tuple[GoType, bool]:
        """The Go type of ``schema`` (declaring a type named ``hint`` if it needs one), and whether it may be null."""
        shape = self._shapes.of(schema)
        return self._type(shape, schema, hint, where, about), shape.nullable

    def _type(self, shape: Shape, schema: Any, hint: str, where: str, about: str) -> GoType:
        if shape.form == "ref":
            return GoType(self._names[shape.ref], self._shapes.kind_of(shape.ref))
        if shape.form == "primitive":
            return shape.primitive
        if shape.form in ("array", "map"):
            item, nullable = self.type_of(
                shape.inner, hint + ("Item" if shape.form == "array" else "Value"), where, about
            )
            element = "*" + item.expr if nullable and item.kind != "nilable" else item.expr
            return GoType(("[]" if shape.form == "array" else "map[string]") + element, "nilable")
        if shape.form == "any":
            return ANY
        name = self._fresh(hint)
        description = schema.get("description") if isinstance(schema, Mapping) else None
        doc = sentence(name, description) if description else f"{name} is the type of {about}."
        self._declare(name, shape, where, doc)
        return GoType(name, "text" if shape.form == "enum" else "struct")

    def _component(self, component: str) -> None:
        name, schema = self._names[component], self._schemas[component]
        where = f"/components/schemas/{escape(component)}"
        description = schema.get("description") if isinstance(schema, Mapping) else None
        doc = sentence(name, description) if description else f"{name} is the schema {component} of the spec."
        shape = self._shapes.of(schema)
        if shape.form in ("struct", "enum", "union"):
            self._declare(name, shape, where, doc)
        elif shape.form in ("ref", "any"):
            target = self._names[shape.ref] if shape.form == "ref" else "interface{}"
            self._decls.append(Decl(name, tuple(doc_lines(doc)), "alias", underlying=target))
        else:
            underlying = self._type(shape, schema, name, where, component)
            self._decls.append(Decl(name, tuple(doc_lines(doc)), "named", underlying=underlying.expr))

    def _declare(self, name: str, shape: Shape, where: str, doc: str) -> None:
        if shape.form == "enum":
            values = tuple(
                (self._fresh(name + (exported(v) if exported(v) != "X" else "Empty")), v) for v in shape.values
            )
            self._decls.append(Decl(name, tuple(doc_lines(doc)), "enum", values=values))
        elif shape.form == "union":
            self._union(name, shape, where, doc)
        else:
            self._struct(name, shape, where, doc)

    def _struct(self, name: str, shape: Shape, where: str, doc: str) -> None:
        rows: list[tuple[list[str], str, str, str]] = []
        used: set[str] = set()
        for prop, sub in shape.properties:
            here = f"{where}/properties/{escape(prop)}"
            if not json_tag_ok(prop):
                self._problems.warn(here, f"{prop!r} cannot be a Go struct tag; {name} leaves it out")
                continue
            field, n = exported(prop), 2
            while field in used:
                field, n = f"{exported(prop)}{n}", n + 1
            used.add(field)
            kind, nullable = self.type_of(sub, name + field, here, f"{name}.{field}")
            required = prop in shape.required
            if kind.kind == "nilable" or (kind.kind == "text" and not (required and nullable)):
                expr = kind.expr
            else:
                expr = kind.expr if required and not nullable else "*" + kind.expr
            tag_name = "-," if prop == "-" and required else prop
            tag = f'`json:"{tag_name}{"" if required else ",omitempty"}"`'
            note = sub.get("description") if isinstance(sub, Mapping) else None
            rows.append((doc_lines(note or ""), field, expr, tag))
        self._decls.append(Decl(name, tuple(doc_lines(doc)), "struct", lines=tuple(_aligned(rows))))

    def _union(self, name: str, shape: Shape, where: str, doc: str) -> None:
        variants: list[Variant] = []
        used = {"Raw", "String", "MarshalJSON", "UnmarshalJSON"}  # the union's own members
        matches = [self._shapes.match(self._shapes.of(option)) for option in shape.options]
        labels = _short([self._label(option, m[0], m[2]) for option, m in zip(shape.options, matches, strict=True)])
        for index, (option, (kind, required, consts), label) in enumerate(
            zip(shape.options, matches, labels, strict=True)
        ):
            field, n = label, 2
            while field in used:
                field, n = f"{label}{n}", n + 1
            used.add(field)
            go_type, _ = self.type_of(option, name + field, f"{where}/oneOf/{index}", f"{name}.{field}")
            listed = "nil" if not required else "[]string{" + ", ".join(go_string(r) for r in required) + "}"
            pairs = ", ".join("{" + go_string(k) + ", " + go_string(v) + "}" for k, v in consts)
            match = f"{go_string(kind)}, {listed}, " + (f"[][2]string{{{pairs}}}" if consts else "nil")
            pointer = go_type.kind != "nilable"
            variants.append(Variant(field, ("*" if pointer else "") + go_type.expr, go_type.expr, pointer, match))
        names = ", ".join(v.name for v in variants)
        doc += f" It holds one of {names}: UnmarshalJSON sets the first the value matches, and Raw."
        self._decls.append(Decl(name, tuple(doc_lines(doc)), "union", variants=tuple(variants)))

    def _label(self, option: Any, kind: str, consts: tuple[tuple[str, str], ...]) -> str:
        if isinstance(option, Mapping) and isinstance(option.get("$ref"), str):
            ref = str(option["$ref"])[len(PREFIX) :]
            if ref in self._names:
                return self._names[ref]
        if consts and exported(consts[0][1]) != "X":
            return exported(consts[0][1])
        return _LABELS.get(kind, "Value")


def _short(labels: list[str]) -> list[str]:
    """Labels without the words they all start with: ``Card`` and ``Voucher`` for ``FlightCard``, ``FlightVoucher``."""
    if len(labels) < 2:
        return labels
    size = 0
    while all(len(label) > size and label[size] == labels[0][size] for label in labels):
        size += 1
    while size and not all(len(label) > size and label[size].isupper() for label in labels):
        size -= 1
    return [label[size:] for label in labels]


def _aligned(rows: list[tuple[list[str], str, str, str]]) -> list[str]:
    """Struct field lines as gofmt aligns them: in columns, within runs that no comment interrupts."""
    lines: list[str] = []
    run: list[tuple[str, str, str]] = []

    def flush() -> None:
        if run:
            width_name = max(len(r[0]) for r in run)
            width_type = max(len(r[1]) for r in run)
            lines.extend(f"{n:<{width_name}} {t:<{width_type}} {tag}" for n, t, tag in run)
            run.clear()

    for doc, name, expr, tag in rows:
        if doc:
            flush()
            lines.extend("// " + line for line in doc)
        run.append((name, expr, tag))
    flush()
    return lines
