"""IR → Flask server stubs: a blueprint per tag, a view per operationId, the bridge's validation."""

from __future__ import annotations

import json
import re

from generator.ir import Api, Operation, snake
from generator.problems import Problems
from generator.render import Files, environment, stamp

__all__ = ["render_server"]


def _flask_path(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", r"<\1>", path)


def render_server(api: Api, package: str, problems: Problems) -> Files:
    groups: dict[str, list[Operation]] = {}
    for op in api.operations:
        tag = op.tags[0] if op.tags else "default"
        groups.setdefault(tag, []).append(op)
    for op in api.operations:
        for p in op.path_params:
            if not p.name.isidentifier():
                problems.error(f"/paths/{op.path}", f"path parameter {p.name!r} is not a Python identifier")
    env = environment("server")
    env.filters["flask_path"] = _flask_path
    env.filters["pyident"] = lambda tag: snake(tag) + "_bp"
    context = {
        "api": api,
        "package": package,
        "title": api.title,
        "version": api.version,
        "stamp": stamp(api.sha256),
        "groups": sorted(groups.items()),
    }
    files: Files = {
        f"{package}/openapi.json": json.dumps(api.document, indent=2, sort_keys=True) + "\n",
        f"{package}/py.typed": "",
    }
    for name in ("__init__.py", "app.py", "blueprints.py"):
        files[f"{package}/{name}"] = env.get_template(name + ".jinja").render(context)
    return files
