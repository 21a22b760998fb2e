"""Completions through the gateway: which server a ``ref`` belongs to, in whose names, and for whom."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bridge.config import ServerConfig
from bridge.errors import Ambiguous, Forbidden, NotFound
from bridge.events import InProcessBus
from bridge.gateway import Gateway
from bridge.gateway.registry import ServerRegistry
from bridge.model import USE, Catalog, Principal
from bridge.store import MemoryRegistrationStore
from bridge.upstream.memory import MemoryServer, MemoryUpstreams, ready

ANYONE = Principal.anonymous()
GREET = {"name": "greet", "arguments": [{"name": "who"}]}
ROWS = {"uriTemplate": "db://{table}/rows", "name": "rows"}
COMPLETES = ready(capabilities={"completions": {}, "prompts": {}})


def _names(argument: dict[str, str], context: dict[str, str] | None) -> dict[str, Any]:
    known = ["ada", "alan", "grace"] if context is None else [f"{context['team']}-lead"]
    return {"completion": {"values": [n for n in known if n.startswith(argument["value"])], "hasMore": False}}


@pytest.fixture
def servers() -> dict[str, MemoryServer]:
    return {
        "a": MemoryServer(
            Catalog(prompts={"greet": GREET}, templates=(ROWS,)),
            completions={"greet": _names, "db://{table}/rows": _names},
            status=COMPLETES,
        ),
        "b": MemoryServer(Catalog(prompts={"greet": GREET, "plain": {"name": "plain"}}, templates=(ROWS,))),
    }


@pytest.fixture
def gateway(servers: dict[str, MemoryServer]) -> Iterator[Gateway]:
    upstreams = MemoryUpstreams(servers)
    gateway = Gateway(
        upstreams,
        ServerRegistry(upstreams, MemoryRegistrationStore(), allow_stdio=False, connect_timeout=1),
        InProcessBus(),
    )
    configs = [ServerConfig(name, "streamable-http", url=f"http://{name}") for name in servers]
    gateway.run(gateway.start(configs))
    yield gateway
    gateway.close()


def _complete(gateway: Gateway, ref: dict[str, Any], value: str, principal: Principal = ANYONE, **context: str) -> Any:
    argument = {"name": "who", "value": value}
    return gateway.run(gateway.complete(ref, argument, context or None, principal=principal))


def test_a_qualified_prompt_is_completed_by_its_server_in_the_servers_own_name(
    gateway: Gateway, servers: dict[str, MemoryServer]
) -> None:
    got = _complete(gateway, {"type": "ref/prompt", "name": "a.greet", "title": "Greet"}, "a")
    assert got == {"completion": {"values": ["ada", "alan"], "hasMore": False}}
    assert servers["a"].seen == [("completion/complete", "greet", {"name": "who", "value": "a"})]
    assert _complete(gateway, {"type": "ref/prompt", "name": "a.greet"}, "", team="ops") == {
        "completion": {"values": ["ops-lead"], "hasMore": False}
    }


def test_a_server_without_completions_completes_to_nothing_without_being_asked(
    gateway: Gateway, servers: dict[str, MemoryServer]
) -> None:
    assert _complete(gateway, {"type": "ref/prompt", "name": "plain"}, "x") == {
        "completion": {"values": [], "hasMore": False}
    }
    assert servers["b"].seen == []


def test_a_name_two_servers_share_must_be_qualified(gateway: Gateway) -> None:
    with pytest.raises(Ambiguous) as ambiguous:
        _complete(gateway, {"type": "ref/prompt", "name": "greet"}, "")
    assert ambiguous.value.candidates == ["a.greet", "b.greet"]
    with pytest.raises(Ambiguous):
        _complete(gateway, {"type": "ref/resource", "uri": "db://{table}/rows"}, "")


def test_a_template_is_completed_by_the_one_server_this_caller_may_use_that_offers_it(
    gateway: Gateway, servers: dict[str, MemoryServer]
) -> None:
    only_a = Principal.restricted("key:a", [USE], servers=["a"], tools=None)
    got = _complete(gateway, {"type": "ref/resource", "uri": "db://{table}/rows"}, "g", only_a)
    assert got == {"completion": {"values": ["grace"], "hasMore": False}}
    assert servers["a"].callers == [only_a]


def test_what_the_caller_may_not_use_or_nobody_offers_is_refused(gateway: Gateway) -> None:
    only_b = Principal.restricted("key:b", [USE], servers=["b"], tools=None)
    with pytest.raises(Forbidden):
        _complete(gateway, {"type": "ref/prompt", "name": "a.greet"}, "", only_b)
    with pytest.raises(NotFound) as missing:
        _complete(gateway, {"type": "ref/resource", "uri": "nope://{x}"}, "")
    assert missing.value.detail == "no server offers resource template 'nope://{x}'"
