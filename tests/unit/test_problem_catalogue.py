"""The spec's problem-type catalogue and ``bridge.errors``' tree name the same problems.

Generated clients choose an exception by the catalogue (``x-problem-types`` on the Problem
schema); the bridge answers with its error tree. These tests hold the two equal, so neither can
drift: every error class, however deep, is catalogued with its slug, status, title, members and
headers, and every catalogued type is one of the bridge's.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from bridge.errors import (
    PROBLEM_BASE,
    Ambiguous,
    AsyncCallLimit,
    BridgeError,
    FieldError,
    Forbidden,
    RateLimited,
    RequestInvalid,
    ToolFailed,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tests.support import ROOT

#: What every problem body has; anything else in it is an extension member.
CORE = {"type", "title", "status", "detail"}
#: One occurrence of each error whose constructor needs more than a detail, every optional member given.
OCCURRENCES: dict[type[BridgeError], BridgeError] = {
    RequestInvalid: RequestInvalid("bad", [FieldError("/body/data", "not an array")]),
    Ambiguous: Ambiguous("ambiguous", ["alpha.echo", "beta.echo"]),
    Forbidden: Forbidden("no scope", scope="use", resource_metadata="http://b/.well-known/oauth-protected-resource"),
    ToolFailed: ToolFailed("failed", {"content": [{"type": "text", "text": "no"}], "structuredContent": {"ok": 0}}),
    UpstreamError: UpstreamError("failed", server="demo", code=-32000),
    UpstreamUnavailable: UpstreamUnavailable("down", server="demo", retry_after=3),
    UpstreamTimeout: UpstreamTimeout("slow", server="demo", code=-32001),
    RateLimited: RateLimited("past the limit", policy="caller", quota=20, window=12, retry_after=7),
    AsyncCallLimit: AsyncCallLimit("too many running", policy="caller-async-calls", quota=100),
}


@cache
def document() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "openapi" / "openapi.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def catalogue() -> dict[str, Any]:
    found = document()["components"]["schemas"]["Problem"]["x-problem-types"]
    assert isinstance(found, dict)
    return found


def tree(root: type[BridgeError] = BridgeError) -> list[type[BridgeError]]:
    """``root`` and every subclass of it, recursively."""
    return [root, *(cls for sub in root.__subclasses__() for cls in tree(sub))]


def occurrence(cls: type[BridgeError]) -> BridgeError:
    return OCCURRENCES.get(cls) or cls("detail")


def test_the_catalogue_base_is_the_bridges_problem_base() -> None:
    assert catalogue()["base"] == PROBLEM_BASE


@pytest.mark.parametrize("cls", tree(), ids=lambda cls: cls.__name__)
def test_every_bridge_error_is_catalogued_with_its_status_and_title(cls: type[BridgeError]) -> None:
    entry = catalogue()["types"].get(cls.slug)
    assert entry is not None, f"{cls.__name__}: add {cls.slug!r} to x-problem-types in openapi/openapi.yaml"
    assert (entry["status"], entry["title"]) == (cls.status, cls.title)


def test_every_catalogued_type_is_a_bridge_error() -> None:
    assert set(catalogue()["types"]) == {cls.slug for cls in tree()}


@pytest.mark.parametrize("cls", tree(), ids=lambda cls: cls.__name__)
def test_each_type_lists_exactly_the_members_and_headers_its_error_carries(cls: type[BridgeError]) -> None:
    error = occurrence(cls)
    entry = catalogue()["types"][cls.slug]
    assert set(error.to_problem()) - CORE == set(entry.get("members", []))
    assert set(error.headers()) == set(entry.get("headers", []))


@pytest.mark.parametrize("cls", tree(), ids=lambda cls: cls.__name__)
def test_each_error_body_is_valid_against_its_catalogued_schema(cls: type[BridgeError]) -> None:
    name = catalogue()["types"][cls.slug].get("schema", "Problem")
    schema = {"$ref": f"#/components/schemas/{name}", "components": document()["components"]}
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(occurrence(cls).to_problem())]
    assert errors == []


def test_the_problem_type_examples_are_the_catalogued_type_uris() -> None:
    examples = document()["components"]["schemas"]["Problem"]["properties"]["type"]["examples"]
    assert examples == [catalogue()["base"] + slug for slug in catalogue()["types"]]
