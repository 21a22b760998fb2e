import pytest

from bridge.errors import Ambiguous, NotFound
from bridge.gateway.naming import resolve

OWNERS = {"echo": {"a", "b"}, "add": {"a"}, "x.y": {"b"}}
SERVERS = {"a", "b"}


def test_qualified_name_always_resolves() -> None:
    assert resolve("a.echo", OWNERS, SERVERS, "tool") == ("a", "echo")
    assert resolve("b.echo", OWNERS, SERVERS, "tool") == ("b", "echo")


def test_bare_name_resolves_while_unambiguous() -> None:
    assert resolve("add", OWNERS, SERVERS, "tool") == ("a", "add")


def test_dotted_tool_name_that_is_not_qualified_resolves_bare() -> None:
    assert resolve("x.y", OWNERS, SERVERS, "tool") == ("b", "x.y")


def test_ambiguous_bare_name_lists_qualified_candidates() -> None:
    with pytest.raises(Ambiguous) as info:
        resolve("echo", OWNERS, SERVERS, "tool")
    assert info.value.candidates == ["a.echo", "b.echo"]
    assert info.value.status == 409


def test_unknown_name_is_not_found() -> None:
    with pytest.raises(NotFound, match="no tool named 'nope'"):
        resolve("nope", OWNERS, SERVERS, "tool")
    with pytest.raises(NotFound):
        resolve("a.nope", OWNERS, SERVERS, "tool")
