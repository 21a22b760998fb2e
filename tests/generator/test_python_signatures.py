"""A tool's method takes keyword arguments typed from its ``inputSchema``, however awkward the
schema's names and types; the generated package passes ``mypy --strict`` and sends each argument
under its own name, the lean structured answer asked for and read."""

from __future__ import annotations

import asyncio
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from bridge.rest.livespec import build_live_document
from bridge.spec import Spec
from generator.pipeline import generate_files, write

AWKWARD = {
    "server": "odd",
    "name": "awkward",
    "description": "Takes every kind of argument.",
    "inputSchema": {
        "type": "object",
        "properties": {
            "class": {"type": "string", "description": "A keyword as a name."},
            "self": {"type": "integer"},
            "models": {"type": "array", "items": {"type": "number"}},
            "max-results": {"type": "integer", "default": 10},
            "mode": {"enum": ["a", "b"], "default": "b"},
            "maybe": {"type": ["string", "null"]},
            "choice": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "point": {"$ref": "#/$defs/Point"},
            "flag": {"type": "boolean", "default": True},
            "seen": {"type": "array", "items": {"type": "string"}, "default": ["x"]},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["class", "self"],
        "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}},
    },
    "outputSchema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
}
FREE = {"server": "odd", "name": "free", "inputSchema": {"type": "object"}}


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    out = tmp_path_factory.mktemp("odd")
    spec = out / "live.json"
    spec.write_text(json.dumps(build_live_document(Spec.from_file().document, [AWKWARD, FREE], [])))
    files, problems = generate_files("python", str(spec), "odd_client")
    assert problems.items == []
    write(files, out)
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("odd_client"), out
    finally:
        sys.path.remove(str(out))


def test_every_property_becomes_a_typed_keyword_under_a_usable_name(odd: Any) -> None:
    import inspect

    package, _ = odd
    parameters = inspect.signature(package.client.Tools.call_odd_awkward).parameters
    assert {name: (p.annotation, p.default) for name, p in parameters.items() if name != "self"} == {
        "class_": ("str", inspect.Parameter.empty),
        "self_": ("int", inspect.Parameter.empty),
        "models_": ("Sequence[float] | None", None),
        "max_results": ("int", 10),
        "mode": ("Literal['a', 'b']", "b"),  # as Python unparses the source's annotation
        "maybe": ("str | None", None),
        "choice": ("int | str | None", None),
        "point": ("models.CallOddAwkwardPoint | Mapping[str, Any] | None", None),
        "flag": ("bool", True),
        "seen": ("list[str] | None", None),
        "tags": ("list[str] | None", None),
    }
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for name, p in parameters.items() if name != "self")
    free = inspect.signature(package.client.Tools.call_odd_free).parameters
    assert [(name, p.kind) for name, p in free.items()] == [
        ("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("arguments", inspect.Parameter.VAR_KEYWORD),
    ]


def test_the_package_passes_mypy_strict(odd: Any) -> None:
    _, out = odd
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "odd_client"], cwd=out, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout


def test_arguments_go_under_their_own_names_and_the_lean_answer_is_read(odd: Any) -> None:
    package, _ = odd
    sent: list[tuple[str | None, Any]] = []

    def bridge(request: httpx2.Request) -> httpx2.Response:
        sent.append((request.headers.get("Prefer"), json.loads(request.content)))
        if request.url.path.endswith("/awkward"):
            return httpx2.Response(200, json={"n": 7}, headers={"Preference-Applied": "return=structured"})
        return httpx2.Response(200, json={"content": [], "isError": False})

    async def main() -> tuple[Any, Any]:
        session = httpx2.AsyncClient(transport=httpx2.MockTransport(bridge))
        async with package.AsyncClient("http://bridge.invalid", session=session) as client:
            typed = await client.tools.call_odd_awkward(class_="c", self_=1, models_=[1.5], point={"x": 2})
            free = await client.tools.call_odd_free(anything=[1], goes="yes")
            return typed, free

    typed, free = asyncio.run(main())
    assert (type(typed).__name__, typed.n, free.isError) == ("CallOddAwkwardOutput", 7, False)
    assert sent == [
        (
            "return=structured",
            {"class": "c", "self": 1, "models": [1.5], "max-results": 10, "mode": "b", "point": {"x": 2}, "flag": True},
        ),
        (None, {"anything": [1], "goes": "yes"}),
    ]
