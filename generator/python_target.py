"""IR → a typed Python client package: pydantic v2 models (datamodel-code-generator) and a
``requests`` client with one method per operation, per tool and per prompt."""

from __future__ import annotations

import re
import textwrap
import warnings
from collections.abc import Mapping
from typing import Any

from datamodel_code_generator import LiteralType, PythonVersion, generate
from datamodel_code_generator.enums import DataModelType, InputFileType
from datamodel_code_generator.format import Formatter

from generator.error_classes import FALLBACK
from generator.ir import Api, Operation
from generator.problems import Problems
from generator.render import Files, environment, stamp

__all__ = ["render_python"]

_PRIMITIVE = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
#: The Python type of a problem exception's accessor, by the kind of member it reads.
_MEMBER_TYPES = {
    "strings": "list[str]",
    "objects": "list[dict[str, Any]]",
    "object": "dict[str, Any] | None",
    "string": "str | None",
    "integer": "int | None",
    "any": "Any",
    "seconds": "float | None",
    "text": "str | None",
}
#: What ``errors`` exports besides one class per status and per problem type.
_ERROR_BASICS = ("ApiError", "FieldProblem", "ProblemError", "TransportError")


def _models(api: Api, problems: Problems) -> str:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = generate(
                dict(api.document),
                input_file_type=InputFileType.OpenAPI,
                output_model_type=DataModelType.PydanticV2BaseModel,
                disable_timestamp=True,
                target_python_version=PythonVersion.PY_311,
                use_annotated=True,
                field_constraints=True,
                use_standard_collections=True,
                use_union_operator=True,
                use_double_quotes=True,
                use_schema_description=True,
                # Literals, not Enums: an enum member named like a str method ("count") or a string
                # default on an Enum-typed field does not type-check under mypy --strict.
                enum_field_as_literal=LiteralType.All,
                # Constrained scalars inline into their field (a nullable RootModel defaults badly).
                collapse_root_models=True,
                formatters=[Formatter.BUILTIN],
            )
    except Exception as exc:  # the library raises many kinds; each is a spec problem to report
        problems.error("/components/schemas", f"datamodel-code-generator failed: {exc}")
        return ""
    for warning in caught:  # e.g. a constraint pydantic cannot express: reported, not fatal
        problems.warn("/components/schemas", str(warning.message))
    if not isinstance(code, str):
        problems.error("/components/schemas", "datamodel-code-generator produced several modules; expected one")
        return ""
    code = _NULLABLE_ROOT.sub(_nullable_root, code)
    lines = code.splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)  # its own header names the input; ours names the spec's digest
    return "\n".join(lines).strip() + "\n"


# datamodel-code-generator renders ``anyOf: [{constrained scalar}, {type: null}], default: null`` as a
# RootModel of the scalar defaulting to None, which is not a valid value of it; widen it to allow None.
_NULLABLE_ROOT = re.compile(r"RootModel\[(\w+)\]\):\n(\s+)root: Annotated\[(\w+), (.*)\] = None\n")


def _nullable_root(match: re.Match[str]) -> str:
    kind, indent, annotated, rest = match.groups()
    return f"RootModel[{kind} | None]):\n{indent}root: Annotated[{annotated} | None, {rest}] = None\n"


def _docstring(summary: str, details: str = "", indent: str = "    ") -> str:
    """A docstring literal: the summary line, then ``details`` wrapped as a paragraph."""
    summary, details = (
        " ".join(text.replace("\\", "\\\\").replace('"""', "'''").split()) for text in (summary, details)
    )
    if not details:
        return f'"""{summary}"""'
    body = textwrap.fill(details, 100 - len(indent), break_long_words=False, break_on_hyphens=False)
    return f'"""{summary}\n\n' + textwrap.indent(body, indent) + f'\n{indent}"""'


class _Types:
    """Type expressions for the templates, checked against the classes the models module has."""

    def __init__(self, classes: set[str], problems: Problems) -> None:
        self.classes = classes
        self.problems = problems

    def model_name(self, component: str) -> str:
        name = re.sub(r"[^0-9A-Za-z]", "", component)
        name = name[:1].upper() + name[1:]
        if name not in self.classes:
            self.problems.error(f"/components/schemas/{component}", f"no model class {name} was generated for it")
        return name

    def py_type(self, schema: Mapping[str, Any]) -> str:
        if "enum" in schema and all(isinstance(v, str) for v in schema["enum"]):
            return "Literal[" + ", ".join(repr(v) for v in schema["enum"]) + "]"
        kind = schema.get("type")
        if isinstance(kind, str) and kind in _PRIMITIVE:
            return _PRIMITIVE[kind]
        if kind == "array":
            return f"list[{self.py_type(schema.get('items') or {})}]"
        if kind == "object":
            return "dict[str, Any]"
        return "Any"

    def body_type(self, op: Operation) -> str:
        if op.body_ref:
            return f"models.{self.model_name(op.body_ref)} | Mapping[str, Any]"
        return "Mapping[str, Any]"

    def response_type(self, op: Operation) -> str:
        return f"models.{self.model_name(op.response_ref)}" if op.response_ref else "Any"

    def parse_expr(self, op: Operation, var: str) -> str:
        if op.response_ref:
            return f"models.{self.model_name(op.response_ref)}.model_validate({var})"
        return var

    @staticmethod
    def output_ref(op: Operation) -> str | None:
        schema = op.response_schema or {}
        for part in schema.get("allOf", []):
            typed = (part.get("properties") or {}).get("structuredContent") or {}
            ref = typed.get("$ref", "")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                return ref.rsplit("/", 1)[1]
        return None

    def tool_return(self, op: Operation) -> str:
        ref = self.output_ref(op)
        return f"ToolOutcome[models.{self.model_name(ref)}]" if ref else "models.ToolResult"

    @staticmethod
    def path_expr(op: Operation) -> str:
        if not op.path_params:
            return f'"{op.path}"'
        path = op.path
        for p in op.path_params:
            path = path.replace("{" + p.name + "}", "{quote_path(" + p.py_name + ")}")
        return f'f"{path}"'


SURFACE = {
    "listServers",
    "listTools",
    "listServerTools",
    "callTool",
    "callServerTool",
    "readResource",
    "readServerResource",
    "listResources",
    "listServerResources",
    "listPrompts",
    "listServerPrompts",
    "getPrompt",
    "getServerPrompt",
    "mcpRequest",
    "readyz",
}


def render_python(api: Api, package: str, problems: Problems) -> Files:
    if not api.errors.types:
        problems.warn("/components/schemas", "no x-problem-types catalogue: errors are told apart by status alone")
    models = _models(api, problems)
    classes = set(re.findall(r"^class (\w+)", models, re.M))
    types = _Types(classes, problems)
    env = environment("python")
    head = stamp(api.sha256)
    context: dict[str, Any] = {
        "api": api,
        "package": package,
        "title": api.title,
        "version": api.version,
        "stamp": head,
        "surface": {op.operation_id for op in api.operations} >= SURFACE,
        "py_type": types.py_type,
        "body_type": types.body_type,
        "response_type": types.response_type,
        "parse_expr": types.parse_expr,
        "path_expr": types.path_expr,
        "tool_return": types.tool_return,
        "output_ref": types.output_ref,
        "model_name": types.model_name,
        "errors": api.errors,
        "tree": api.errors.tree(lambda member: f"``{member.py_name}``"),
        "error_names": sorted([*_ERROR_BASICS, *api.errors.names]),
        "exports": sorted([*_ERROR_BASICS, *api.errors.names, "problem_from_response"]),
        "py_member_type": _MEMBER_TYPES,
        "fallback": FALLBACK,
        "docstring": _docstring,
    }
    files: Files = {
        f"{package}/models.py": f'{head}\n"""Models for {api.title} {api.version} (datamodel-code-generator)."""\n\n'
        + models,
        f"{package}/py.typed": "",
    }
    for name in ("__init__.py", "errors.py", "_http.py", "client.py"):
        files[f"{package}/{name}"] = env.get_template(name + ".jinja").render(context)
    return files
