"""JSON Schema validators compiled once, reporting every problem with a JSON pointer.

Used at both edges that check input: the REST layer (operation schemas from the OpenAPI spec)
and the gateway (each tool's ``inputSchema``). ``jsonschema-rs`` compiles to native code, so a
check costs microseconds on the hot path; a test holds it to agree with openapi-core.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema_rs

from bridge.errors import FieldError, RequestInvalid

__all__ = ["CompiledSchema", "SchemaCompileError", "pointer"]

#: At most this many problems are reported for one request: enough to fix a form, bounded output.
MAX_ERRORS = 20


class SchemaCompileError(Exception):
    """The schema itself is not valid JSON Schema."""


def pointer(parts: Iterable[str | int]) -> str:
    """RFC 6901 JSON pointer for a path of keys and indices."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class CompiledSchema:
    """A JSON Schema 2020-12 validator, built once."""

    __slots__ = ("_validator", "schema")

    def __init__(self, schema: Mapping[str, Any] | bool, *, formats: bool = True) -> None:
        """``formats=False`` treats ``format`` as an annotation only, as JSON Schema 2020-12 does by default."""
        self.schema = schema
        try:
            self._validator = jsonschema_rs.validator_for(
                schema if isinstance(schema, bool) else dict(schema), validate_formats=formats
            )
        except (ValueError, jsonschema_rs.ValidationError) as exc:
            raise SchemaCompileError(str(exc)) from exc

    def is_valid(self, instance: Any) -> bool:
        return bool(self._validator.is_valid(instance))

    def errors(self, instance: Any, base: str = "") -> list[FieldError]:
        found: list[FieldError] = []
        for error in self._validator.iter_errors(instance):
            found.append(FieldError(base + pointer(error.instance_path), error.message))
            if len(found) >= MAX_ERRORS:
                break
        return found

    def check(self, instance: Any, *, base: str, what: str) -> None:
        """Raise ``RequestInvalid`` listing every problem when ``instance`` does not conform."""
        if self._validator.is_valid(instance):
            return
        errors = self.errors(instance, base)
        first = errors[0] if errors else FieldError(base or "/", "does not match the schema")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise RequestInvalid(f"{what}: {first.pointer or '/'}: {first.message}{more}", errors)
