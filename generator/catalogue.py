"""The problem-type catalogue (``x-problem-types``) of a spec: each type with what it carries.

The catalogue sits on one schema in ``components/schemas`` (the problem schema)::

    x-problem-types:
      base: https://example.dev/problems/
      types:
        ambiguous-name:
          status: 409
          title: The name matches more than one server
          description: ...                 # optional
          schema: ConflictProblem          # the body's schema; default the carrying schema
          members: [candidates]            # extension members, each a property of that schema
          headers: [Retry-After]           # headers sent with it

Each member is read with the kind its schema gives it; what is wrong lands in ``problems`` with
its place. ``generator.error_classes`` turns the types into the clients' exception classes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from generator.names import camel, snake
from generator.problems import Problems

__all__ = ["Member", "MemberKind", "ProblemType", "escape", "header", "member", "read_types"]

#: How a member reads: ``strings`` is a list of strings, ``objects`` a list of objects, ``seconds`` a
#: ``Retry-After`` header in seconds, ``text`` any other header; the rest are single JSON values.
MemberKind = Literal["strings", "objects", "object", "string", "integer", "any", "seconds", "text"]
#: Members every problem exception already exposes, so a type listing them needs no accessor.
_BASE_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "errors"})
#: Attributes of the clients' base exception classes (Python, then TypeScript) an accessor must not hide.
_PY_TAKEN = (
    frozenset(
        {"args", "body", "header", "headers", "problem", "problem_type", "status_code", "with_traceback", "add_note"}
    )
    | _BASE_MEMBERS
)
_TS_TAKEN = (
    frozenset({"body", "headers", "problem", "name", "message", "stack", "cause", "constructor"}) | _BASE_MEMBERS
)
_SLUG = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")
_KINDS: dict[object, MemberKind] = {"object": "object", "string": "string", "integer": "integer"}


@dataclass(frozen=True, slots=True)
class Member:
    """An extension member of a problem body (``candidates``), or a header of its answer."""

    name: str
    kind: MemberKind
    description: str
    py_name: str
    ts_name: str


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One catalogued problem type; ``members`` are those beyond what every problem has."""

    slug: str
    uri: str
    status: int
    title: str
    description: str
    members: tuple[Member, ...]
    headers: tuple[Member, ...]


def member(name: str, kind: MemberKind, description: str) -> Member:
    py_name = snake(name)
    return Member(name, kind, description, py_name, camel(py_name))


def header(name: str) -> Member:
    if name.lower() == "retry-after":
        return member(
            name, "seconds", f"Seconds to wait before retrying, from `{name}`; an HTTP date reads as no value."
        )
    return member(name, "text", f"The `{name}` header of the answer.")


def escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _properties(schemas: Mapping[str, Any], schema: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """The properties a schema declares, through ``allOf`` and local component references."""
    if depth > 16 or not isinstance(schema, Mapping):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        yield from _properties(schemas, schemas.get(ref.rsplit("/", 1)[1]), depth + 1)
    yield from (schema.get("properties") or {}).items()
    for part in schema.get("allOf") or ():
        yield from _properties(schemas, part, depth + 1)


def _kind(schema: Any) -> MemberKind:
    if not isinstance(schema, Mapping):
        return "any"
    if schema.get("type") == "array":
        items = schema.get("items")
        if isinstance(items, Mapping) and items.get("type") == "string":
            return "strings"
        if isinstance(items, Mapping) and ("$ref" in items or items.get("type") == "object"):
            return "objects"
    return _KINDS.get(schema.get("type"), "any")


def _names(value: Any, where: str, problems: Problems) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.error(where, "must be a list of names")
        return []
    return list(value)


def _read_type(
    slug: str, entry: Any, base: str, carrier: str, schemas: Mapping[str, Any], where: str, problems: Problems
) -> ProblemType | None:
    if not _SLUG.match(slug):
        problems.error(where, f"slug {slug!r} must start with a letter and hold only letters, digits, '.', '_', '-'")
        return None
    if not isinstance(entry, Mapping):
        problems.error(where, "must be an object with status and title")
        return None
    status, title = entry.get("status"), entry.get("title")
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        problems.error(f"{where}/status", f"must be an error status (400-599), got {status!r}")
        return None
    if not isinstance(title, str) or not title:
        problems.error(f"{where}/title", "must be a non-empty string")
        return None
    schema_name = entry.get("schema", carrier)
    if not isinstance(schema_name, str) or schema_name not in schemas:
        problems.error(f"{where}/schema", f"{schema_name!r} is not a schema in /components/schemas")
        return None
    properties = dict(_properties(schemas, schemas[schema_name]))
    members = []
    for index, name in enumerate(_names(entry.get("members"), f"{where}/members", problems)):
        if name not in properties:
            problems.error(f"{where}/members/{index}", f"{name!r} is not a property of schema {schema_name}")
        elif name not in _BASE_MEMBERS:
            sub = properties[name]
            doc = str(sub.get("description") or "") if isinstance(sub, Mapping) else ""
            members.append(member(name, _kind(sub), doc))
    headers = [header(name) for name in _names(entry.get("headers"), f"{where}/headers", problems)]
    seen: set[str] = set()
    for found in [*members, *headers]:
        if found.py_name in _PY_TAKEN or found.ts_name in _TS_TAKEN:
            problems.error(where, f"{found.name!r} would hide an attribute every problem exception has")
        elif found.py_name in seen:
            problems.error(where, f"{found.name!r} and another member read as the same accessor")
        seen.add(found.py_name)
    return ProblemType(
        slug=slug,
        uri=base + slug,
        status=status,
        title=title,
        description=str(entry.get("description") or ""),
        members=tuple(members),
        headers=tuple(headers),
    )


def read_types(schemas: Mapping[str, Any], problems: Problems) -> tuple[str, tuple[ProblemType, ...]]:
    """The catalogue's place (a JSON pointer) and its types, by status then slug."""
    carriers = [name for name, s in sorted(schemas.items()) if isinstance(s, Mapping) and "x-problem-types" in s]
    for extra in carriers[1:]:
        problems.error(f"/components/schemas/{escape(extra)}", f"a second x-problem-types; {carriers[0]} has one")
    if not carriers:
        return "", ()
    where = f"/components/schemas/{escape(carriers[0])}/x-problem-types"
    catalogue = schemas[carriers[0]]["x-problem-types"]
    base = catalogue.get("base") if isinstance(catalogue, Mapping) else None
    entries = catalogue.get("types") if isinstance(catalogue, Mapping) else None
    if not isinstance(base, str) or not isinstance(entries, Mapping):
        problems.error(where, "must be an object with base (a URI prefix) and types (slug → entry)")
        return where, ()
    read = (
        _read_type(str(slug), entry, base, carriers[0], schemas, f"{where}/types/{escape(str(slug))}", problems)
        for slug, entry in entries.items()
    )
    return where, tuple(sorted((t for t in read if t), key=lambda t: (t.status, t.slug)))
