"""IR → a typed Python client package: pydantic v2 models (datamodel-code-generator), the requests
of every operation, tool and prompt built once (``_operations``), and two clients that send them:
``Client`` on ``requests`` and ``AsyncClient`` on ``httpx2``; plus a ``pyproject.toml``.

A tool's or prompt's method takes its arguments as keywords typed from its ``inputSchema``
(``_Types.signature``), so an editor completes them and ``mypy --strict`` rejects a wrong one.
"""

from __future__ import annotations

import json
import keyword
import re
import textwrap
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
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


#: How deep a schema is followed for an argument's type; past it (or in a cycle) the type is ``Any``.
_TYPE_DEPTH = 8
#: Names a generated method body uses, so no argument may take them.
_TAKEN = {"self", "models", "_operations", "_core"}
#: A version pip accepts (PEP 440, public form); anything else becomes ``0`` with a warning.
_PEP440 = re.compile(
    r"^([1-9][0-9]*!)?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*((a|b|rc)(0|[1-9][0-9]*))?"
    r"(\.post(0|[1-9][0-9]*))?(\.dev(0|[1-9][0-9]*))?$"
)


@dataclass(frozen=True, slots=True)
class Arg:
    """One keyword argument of a tool or prompt method."""

    #: The Python name (the property's own when it is a usable identifier).
    name: str
    #: The property's name in the arguments object.
    key: str
    annotation: str
    #: The Python literal it defaults to; None when the argument is required.
    default: str | None
    description: str


@dataclass(frozen=True, slots=True)
class Signature:
    """A tool's or prompt's method: keyword arguments from its schema, or ``**arguments`` when the
    schema names no properties."""

    args: tuple[Arg, ...]
    open: bool


def _method_doc(summary: str, details: str, args: tuple[Arg, ...], indent: str) -> str:
    """A method's docstring: the summary, the description, then what each argument is."""
    text = _docstring(summary, details, indent)
    described = [a for a in args if a.description]
    if not described:
        return text
    width = 100 - len(indent)
    lines = [text.removesuffix('"""').rstrip("\n ") if details else text.removesuffix('"""'), ""]
    lines.append(f"{indent}Arguments:")
    for arg in described:
        clean = " ".join(arg.description.replace("\\", "\\\\").replace('"""', "'''").split())
        wrapped = textwrap.wrap(f"``{arg.name}``: {clean}", width - 4, break_long_words=False)
        lines.extend(f"{indent}    {line}" if i == 0 else f"{indent}        {line}" for i, line in enumerate(wrapped))
    return "\n".join(lines) + f'\n{indent}"""'


class _Types:
    """Type expressions for the templates, checked against the classes the models module has."""

    def __init__(self, classes: set[str], problems: Problems, document: Mapping[str, Any] | None = None) -> None:
        self.classes = classes
        self.problems = problems
        self.document = document or {}

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
        if op.text:
            return "str"
        return f"models.{self.model_name(op.response_ref)}" if op.response_ref else "Any"

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
        return f"models.{self.model_name(ref)}" if ref else "models.ToolResult"

    def tool_parser(self, op: Operation) -> str:
        """How a tool method reads its answer: typed by the outputSchema, lean or whole."""
        ref = self.output_ref(op)
        return f"_core.structured(models.{self.model_name(ref)})" if ref else "_core.model(models.ToolResult)"

    def tool_prefer(self, op: Operation) -> str | None:
        return "return=structured" if self.output_ref(op) and "return=structured" in op.answers else None

    def resolve(self, schema: Any) -> Any:
        """``schema`` with a local ``$ref`` (chain) followed; an unresolvable one reads as ``{}``."""
        for _ in range(_TYPE_DEPTH):
            if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
                return schema
            target: Any = self.document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    return {}
                target = target[part]
            schema = target
        return {}

    def signature(self, op: Operation) -> Signature:
        """The keyword arguments of a tool's or prompt's method, from its body schema."""
        schema = self.resolve(op.body_schema or {})
        if not isinstance(schema, dict):
            return Signature((), True)
        properties: dict[str, Any] = {}
        required: set[str] = set()
        for part in [schema, *(self.resolve(p) for p in schema.get("allOf") or [])]:
            if isinstance(part, dict):
                properties.update(part.get("properties") or {})
                required.update(r for r in part.get("required") or [] if isinstance(r, str))
        if not properties:
            return Signature((), True)
        args: list[Arg] = []
        names: set[str] = set()
        for key, sub in properties.items():
            name = _argument_name(key, names)
            names.add(name)
            annotation = self.arg_type(sub)
            default = None
            if key not in required:
                default = _literal(sub.get("default") if isinstance(sub, dict) else None, sub)
                if default is None:
                    default = "None"
                    if annotation != "Any" and "None" not in annotation.split(" | "):
                        annotation += " | None"
            description = str(sub.get("description") or sub.get("title") or "") if isinstance(sub, dict) else ""
            args.append(Arg(name, key, annotation, default, description))
        return Signature(tuple(args), False)

    def arg_type(self, schema: Any, depth: int = 0) -> str:
        """The Python type a caller passes for a value of ``schema``."""
        if depth > _TYPE_DEPTH or not isinstance(schema, dict):
            return "Any"
        if "$ref" in schema:
            ref = schema["$ref"]
            target = self.resolve(schema)
            component = ref.rsplit("/", 1)[1] if ref.startswith("#/components/schemas/") else ""
            name = re.sub(r"[^0-9A-Za-z]", "", component)
            name = name[:1].upper() + name[1:]
            if name in self.classes and isinstance(target, dict) and target.get("properties"):
                return f"models.{name} | Mapping[str, Any]"
            return self.arg_type(target, depth + 1)
        if "const" in schema:
            return _literal_type([schema["const"]]) or "Any"
        if isinstance(schema.get("enum"), list):
            found = _literal_type(schema["enum"])
            if found:
                return found
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list):
                return _union(self.arg_type(s, depth + 1) for s in schema[key])
        if isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
            return self.arg_type(schema["allOf"][0], depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            return _union(self.arg_type({**schema, "type": k}, depth + 1) for k in kind if isinstance(k, str))
        if kind == "null":
            return "None"
        if isinstance(kind, str) and kind in _PRIMITIVE:
            return _PRIMITIVE[kind]
        if kind == "array":
            item = self.arg_type(schema.get("items"), depth + 1) if isinstance(schema.get("items"), dict) else "Any"
            # Sequence takes a list[int] where floats are wanted; but a str is a Sequence[str] too.
            parts = item.split(" | ")
            return f"list[{item}]" if "str" in parts or "Any" in parts else f"Sequence[{item}]"
        if kind == "object" or "properties" in schema:
            return "Mapping[str, Any]"
        return "Any"

    @staticmethod
    def path_expr(op: Operation) -> str:
        if not op.path_params:
            return f'"{op.path}"'
        path = op.path
        for p in op.path_params:
            path = path.replace("{" + p.name + "}", "{quote_path(" + p.py_name + ")}")
        return f'f"{path}"'


def _argument_name(key: str, taken: set[str]) -> str:
    name = key if key.isidentifier() else re.sub(r"\W", "_", key) or "_"
    if name[0].isdigit():
        name = "_" + name
    if keyword.iskeyword(name) or name in _TAKEN:
        name += "_"
    while name in taken:
        name += "_"
    return name


def _literal(value: Any, schema: Any) -> str | None:
    """A schema default as a Python literal, when it is a scalar of the schema's type."""
    if isinstance(value, bool):
        ok = {"boolean"}
    elif isinstance(value, int):
        ok = {"integer", "number"}
    elif isinstance(value, float):
        ok = {"number"}
    elif isinstance(value, str):
        ok = {"string"}
    else:
        return None
    kind = schema.get("type") if isinstance(schema, dict) else None
    kinds = set(kind) if isinstance(kind, list) else {kind}
    enum = schema.get("enum") if isinstance(schema, dict) else None
    if isinstance(enum, list):
        return _py_literal(value) if value in enum and _literal_type(enum) else None
    return _py_literal(value) if kinds & ok else None


def _py_literal(value: str | int | float | bool) -> str:
    """A Python literal, strings in double quotes as the formatter writes them."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _literal_type(values: list[Any]) -> str | None:
    """``Literal[...]`` of strings, integers and booleans (None joins as ``| None``)."""
    if not values or not all(v is None or isinstance(v, str | int) for v in values):
        return None
    scalars = [v for v in values if v is not None]
    parts = ["Literal[" + ", ".join(_py_literal(v) for v in scalars) + "]"] if scalars else []
    return " | ".join([*parts, "None"] if None in values else parts) or None


def _union(types: Any) -> str:
    parts: list[str] = []
    for found in types:
        for part in found.split(" | "):
            if part not in parts:
                parts.append(part)
    if not parts or "Any" in parts:
        return "Any"
    return " | ".join([p for p in parts if p != "None"] + (["None"] if "None" in parts else []))


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


def _typing_used(api: Api, types: _Types) -> set[str]:
    """Which of ``Any``, ``Literal``, ``Mapping``, ``Sequence`` the generated signatures name."""
    annotations: list[str] = []
    for op in api.static:
        annotations += [types.py_type(p.schema) for p in op.params]
        annotations += [types.body_type(op)] if op.body_schema is not None else []
        annotations.append(types.response_type(op))
    for op in (*api.tools, *api.prompts):
        signature = types.signature(op)
        annotations += ["Any"] if signature.open else [a.annotation for a in signature.args]
    return {
        name
        for name in ("Any", "Literal", "Mapping", "Sequence")
        if any(re.search(rf"\b{name}\b", a) for a in annotations)
    }


def _typing_imports(used: set[str], *more: str) -> str:
    """The import lines for the names ``used`` and ``more``, as isort orders them."""
    names = used | set(more)
    lines = []
    if found := sorted(names & {"Mapping", "Sequence"}):
        lines.append(f"from collections.abc import {', '.join(found)}")
    if found := sorted(names & {"Any", "Literal"}):
        lines.append(f"from typing import {', '.join(found)}")
    return "\n".join(lines)


def render_python(api: Api, package: str, problems: Problems) -> Files:
    if not api.errors.types:
        problems.warn("/components/schemas", "no x-problem-types catalogue: errors are told apart by status alone")
    models = _models(api, problems)
    classes = set(re.findall(r"^class (\w+)", models, re.M))
    types = _Types(classes, problems, api.document)
    version = api.version
    if not _PEP440.match(version):
        problems.warn("/info/version", f"{version!r} is not a PEP 440 version; the package is version 0")
        version = "0"
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
        "path_expr": types.path_expr,
        "tool_return": types.tool_return,
        "tool_parser": types.tool_parser,
        "tool_prefer": types.tool_prefer,
        "signature": types.signature,
        "distribution": package.replace("_", "-"),
        "package_version": version,
        "output_ref": types.output_ref,
        "model_name": types.model_name,
        "errors": api.errors,
        "tree": api.errors.tree(lambda member: f"``{member.py_name}``"),
        "error_names": sorted([*_ERROR_BASICS, *api.errors.names]),
        "exports": sorted([*_ERROR_BASICS, *api.errors.names, "problem_from_response"]),
        "py_member_type": _MEMBER_TYPES,
        "fallback": FALLBACK,
        "docstring": _docstring,
        "method_doc": _method_doc,
        "py_str": _py_literal,
        "toml_str": json.dumps,
        "typing_used": _typing_used(api, types),
        "typing_imports": _typing_imports,
    }
    files: Files = {
        f"{package}/models.py": f'{head}\n"""Models for {api.title} {api.version} (datamodel-code-generator)."""\n\n'
        + models,
        f"{package}/py.typed": "",
    }
    for name in ("__init__.py", "errors.py", "_core.py", "_http.py", "_async_http.py", "_operations.py", "webhooks.py"):
        files[f"{package}/{name}"] = env.get_template(name + ".jinja").render(context)
    if context["surface"]:
        files[f"{package}/_surface.py"] = env.get_template("_surface.py.jinja").render(context)
    # One template, two clients: they differ only in ``async``/``await`` and the transport.
    for name, aio in (("client.py", False), ("async_client.py", True)):
        files[f"{package}/{name}"] = env.get_template("client.py.jinja").render(context, aio=aio)
    files["pyproject.toml"] = env.get_template("pyproject.toml.jinja").render(context)
    return files
