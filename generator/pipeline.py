"""The generator pipeline: load the spec (file or URL) → IR → a target's templates → files.

Problems are collected along the way and reported together; ``check`` compares a fresh
generation with what is on disk and returns a unified diff.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Literal

import requests
import yaml

from generator.ir import build_ir
from generator.problems import Problems
from generator.python_target import render_python
from generator.render import Files

__all__ = ["Target", "check", "generate_files", "load_spec", "write"]

Target = Literal["python", "typescript", "server", "go"]


def load_spec(source: str, problems: Problems, api_key: str | None = None) -> tuple[dict[str, object], bytes]:
    """The document and its exact bytes (the digest stamped on the output is of these).

    A URL is fetched with ``api_key`` when given: a bridge serves a key limited to some tools a
    document with only those, so the client generated from it has only their methods.
    """
    if source.startswith(("http://", "https://")):
        headers = {"X-API-Key": api_key} if api_key else None
        response = requests.get(source, headers=headers, timeout=60)
        response.raise_for_status()
        raw = response.content
    else:
        raw = Path(source).read_bytes()
    document = json.loads(raw) if raw.lstrip().startswith(b"{") else yaml.safe_load(raw)
    if not isinstance(document, dict):
        problems.error("", "the spec is not a JSON or YAML object")
        return {}, raw
    from openapi_spec_validator import OpenAPIV31SpecValidator

    try:
        for error in OpenAPIV31SpecValidator(document).iter_errors():
            where = "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in getattr(error, "path", ()))
            problems.error(where, f"not valid OpenAPI: {getattr(error, 'message', error)}")
    except Exception as exc:  # the validator raises on unresolvable references instead of yielding them
        problems.error("", f"not valid OpenAPI: {exc}")
    return document, raw


def generate_files(target: Target, source: str, package: str, *, api_key: str | None = None) -> tuple[Files, Problems]:
    problems = Problems()
    document, raw = load_spec(source, problems, api_key)
    if not document:
        problems.raise_if_fatal()
    # Even an invalid document is read on, so that every problem is reported in one run.
    api = build_ir(document, raw, problems)
    problems.raise_if_fatal()
    if target == "python":
        files = render_python(api, package, problems)
    elif target == "typescript":
        from generator.typescript_target import render_typescript

        files = render_typescript(api, package, problems)
    elif target == "go":
        from generator.go_target import render_go

        files = render_go(api, package, problems)
    else:
        from generator.server_target import render_server

        files = render_server(api, package, problems)
    problems.raise_if_fatal()
    return files, problems


def write(files: Files, out: Path) -> None:
    for relative, content in sorted(files.items()):
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def check(files: Files, out: Path) -> str:
    """A unified diff between ``files`` and the tree at ``out`` (empty when they match)."""
    chunks: list[str] = []
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} if out.exists() else set()
    for relative in sorted(set(files) | {f for f in on_disk if _ours(f, files)}):
        path = out / relative
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        new = files.get(relative, "")
        if old != new:
            chunks.extend(
                difflib.unified_diff(
                    old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{relative}", f"b/{relative}"
                )
            )
    return "".join(chunks)


#: Folders that builds, type checkers and package managers leave beside generated code.
_BUILT = frozenset({"__pycache__", "node_modules", "dist", "build"})


def _ours(relative: str, files: Files) -> bool:
    """Files on disk under a generated package are ours to compare; caches and builds are not.

    A target that writes at the top of its folder (go: the folder is the module) owns all of it.
    """
    tops = {f.split("/", 1)[0] for f in files}
    whole = any("/" not in f for f in files)
    parts = relative.split("/")
    made_by_tools = any(part.startswith(".") or part in _BUILT or part.endswith(".egg-info") for part in parts)
    return (whole or parts[0] in tops) and not made_by_tools
