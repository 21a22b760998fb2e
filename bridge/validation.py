"""Request validation on the hot path: validators compiled once per operation from the spec.

openapi-core is the reference (it loads the same document at start-up); compiling each
operation's parameter and body schemas with ``jsonschema-rs`` makes a check cost microseconds
instead of the ~1 ms openapi-core needs. A test feeds generated requests to both and requires
the same verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.errors import FieldError, RequestInvalid
from bridge.schema import CompiledSchema, pointer
from bridge.spec import Operation, Spec

__all__ = ["NO_BODY", "OperationValidator", "RequestValidator", "is_json_media_type"]

NO_BODY: Any = object()


def is_json_media_type(mimetype: str) -> bool:
    """``application/json`` or any ``application/*+json`` (a bare, lower-case media type)."""
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


@dataclass(frozen=True, slots=True)
class _ParamCheck:
    name: str
    location: str
    required: bool
    schema: CompiledSchema


class OperationValidator:
    """Every check one operation's request must pass, compiled."""

    def __init__(self, spec: Spec, operation: Operation) -> None:
        self.operation = operation
        self._params = tuple(
            _ParamCheck(p.name, p.location, p.required, CompiledSchema(spec.rooted(p.schema)))
            for p in operation.parameters
            if p.location in ("path", "query")
        )
        self._body = CompiledSchema(spec.rooted(operation.body_schema)) if operation.body_schema is not None else None

    @property
    def accepts_body(self) -> bool:
        return self._body is not None

    def check(self, path: Mapping[str, str], query: Mapping[str, str], body: Any = NO_BODY) -> None:
        """Raise ``RequestInvalid`` with every problem found, or return quietly."""
        errors: list[FieldError] = []
        for p in self._params:
            source = path if p.location == "path" else query
            where = "/" + p.location + pointer([p.name])
            if p.name not in source:
                if p.required:
                    errors.append(FieldError(where, f"{p.location} parameter {p.name!r} is required"))
                continue
            if not p.schema.is_valid(source[p.name]):
                errors.extend(p.schema.errors(source[p.name], where))
        if self._body is not None:
            if body is NO_BODY:
                if self.operation.body_required:
                    errors.append(FieldError("/body", "a JSON request body is required"))
            elif not self._body.is_valid(body):
                errors.extend(self._body.errors(body, "/body"))
        if errors:
            first = errors[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise RequestInvalid(f"{first.pointer}: {first.message}{more}", errors)


class RequestValidator:
    """Validators for every operation of a spec, by operationId."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.operations = {op_id: OperationValidator(spec, op) for op_id, op in spec.operations.items()}

    def __getitem__(self, operation_id: str) -> OperationValidator:
        return self.operations[operation_id]
