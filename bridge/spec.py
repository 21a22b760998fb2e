"""The OpenAPI document: found, loaded, checked once at start-up, and indexed by operation.

A broken spec stops start-up with ``SpecError`` naming what is wrong. openapi-core loads the
same document and stays the reference validator (see ``bridge.validation``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Operation", "Parameter", "Spec", "SpecError", "default_spec_path"]

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class SpecError(Exception):
    """The OpenAPI document cannot be used; the message says where and why."""


def default_spec_path() -> Path:
    """The spec shipped with this installation (wheel) or at the top of the source tree."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_openapi" / "openapi.yaml", here.parent / "openapi" / "openapi.yaml"):
        if candidate.is_file():
            return candidate
    raise SpecError("openapi/openapi.yaml not found next to the bridge package")


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str  # "path" | "query" | "header"
    required: bool
    schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Operation:
    operation_id: str
    method: str
    path: str
    parameters: tuple[Parameter, ...] = ()
    body_schema: Mapping[str, Any] | None = None
    body_required: bool = False
    body_media_types: tuple[str, ...] = ()
    #: False when the operation declares ``security: []`` (open even with API keys set).
    secured: bool = True
    #: Scopes (roles) every accepted security requirement asks for, e.g. ``{"admin"}``.
    scopes: frozenset[str] = frozenset()
    tags: tuple[str, ...] = field(default_factory=tuple)


class Spec:
    """A loaded, validated OpenAPI 3.1 document."""

    def __init__(self, document: dict[str, Any], *, source: str = "<memory>", raw: bytes = b"") -> None:
        self.document = document
        self.source = source
        self.sha256 = hashlib.sha256(raw).hexdigest() if raw else ""
        self.operations = self._index()

    @classmethod
    def from_file(cls, path: Path | None = None, *, check: bool = True) -> Spec:
        path = path or default_spec_path()
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SpecError(f"cannot read spec {path}: {exc.strerror}") from exc
        try:
            document = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise SpecError(f"spec {path} is not valid YAML: {exc}") from exc
        if not isinstance(document, dict):
            raise SpecError(f"spec {path} is not an OpenAPI document (no top-level mapping)")
        spec = cls(document, source=str(path), raw=raw)
        if check:
            spec.check()
        return spec

    def check(self) -> None:
        """Validate the document against the OpenAPI 3.1 schema (openapi-spec-validator)."""
        from openapi_spec_validator import validate
        from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

        try:
            validate(self.document)
        except OpenAPIValidationError as exc:
            where = "/".join(str(p) for p in getattr(exc, "path", ()))
            raise SpecError(f"spec {self.source} is invalid at /{where}: {exc.message}") from exc
        _ = self.openapi  # openapi-core must accept it too

    @cached_property
    def openapi(self) -> Any:
        """openapi-core's view of the document: the reference validator."""
        from openapi_core import OpenAPI

        try:
            return OpenAPI.from_dict(self.document)
        except Exception as exc:  # openapi-core raises many kinds; all mean the same here
            raise SpecError(f"openapi-core cannot load spec {self.source}: {exc}") from exc

    def resolve(self, node: Any) -> Any:
        """Follow a local ``$ref`` (``#/components/...``) until a concrete object."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                raise SpecError(f"only local references are supported, got {ref!r}")
            node = self.document
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            seen += 1
            if seen > 32:
                raise SpecError(f"reference cycle at {ref}")
        return node

    def rooted(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """``schema`` wrapped so that ``#/components/...`` references inside it resolve."""
        return {"allOf": [schema], "components": self.document.get("components", {})}

    def _index(self) -> dict[str, Operation]:
        operations: dict[str, Operation] = {}
        top_security = self.document.get("security")
        for path, item in (self.document.get("paths") or {}).items():
            item = self.resolve(item)
            shared = item.get("parameters", [])
            for method in _METHODS:
                op = item.get(method)
                if op is None:
                    continue
                op_id = op.get("operationId") or f"{method}_{path}"
                params = {}
                for raw in [*shared, *op.get("parameters", [])]:
                    p = self.resolve(raw)
                    params[(p["name"], p["in"])] = Parameter(
                        name=p["name"],
                        location=p["in"],
                        required=bool(p.get("required", p["in"] == "path")),
                        schema=p.get("schema", {}),
                    )
                body = self.resolve(op["requestBody"]) if "requestBody" in op else None
                content = (body or {}).get("content", {})
                json_type = next((t for t in content if t == "application/json" or t.endswith("+json")), None)
                security = op.get("security", top_security)
                requirements = [r for r in security or [] if isinstance(r, dict)]
                # A scope is required only when every alternative asks for it.
                scopes = (
                    frozenset.intersection(*(frozenset(s for v in r.values() for s in v) for r in requirements))
                    if requirements
                    else frozenset()
                )
                operations[op_id] = Operation(
                    operation_id=op_id,
                    method=method.upper(),
                    path=path,
                    parameters=tuple(params.values()),
                    body_schema=content[json_type].get("schema", {}) if json_type else None,
                    body_required=bool((body or {}).get("required", False)),
                    body_media_types=tuple(content),
                    secured=security is None or security != [],
                    scopes=scopes,
                    tags=tuple(op.get("tags", ())),
                )
        return operations
