"""What a 2026-07-28 upstream is told of its caller's capabilities (``bridge.upstream.declaring.told``)."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.upstream.declaring import told
from bridge.upstream.tasks import TASKS

APPS = "io.modelcontextprotocol/ui"


@pytest.mark.parametrize(
    "declared",
    [{}, {"sampling": {}}, {"elicitation": {"form": {}, "url": {}}}, {"sampling": {"tools": {}}, "elicitation": {}}],
)
@pytest.mark.parametrize("through", [True, False])
def test_the_common_declarations_are_told_as_they_are(declared: dict[str, Any], through: bool) -> None:
    assert told(declared, through) is declared


def test_roots_are_told_only_to_an_upstream_whose_rounds_pass_through_to_the_caller() -> None:
    declared = {"roots": {"listChanged": True}, "sampling": {}}
    assert told(declared, True) is declared
    assert told(declared, False) == {"sampling": {}}


def test_extensions_are_told_but_tasks_and_unknown_capabilities_are_not() -> None:
    declared = {
        "elicitation": {},
        "extensions": {APPS: {"mimeTypes": ["text/html;profile=mcp-app"]}, TASKS: {}},
        "experimental": {"private": {}},
        "someday": {},
    }
    assert told(declared, True) == {
        "elicitation": {},
        "extensions": {APPS: {"mimeTypes": ["text/html;profile=mcp-app"]}},
    }
    assert told({"extensions": {TASKS: {}}}, True) == {}
    assert told({"extensions": "not an object"}, True) == {}
    assert declared["extensions"][TASKS] == {}  # the caller's own is left as it was
