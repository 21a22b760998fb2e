"""How tools and prompts are named across servers.

``server.tool`` always names one tool. A bare ``tool`` works while exactly one server has it;
when several do, the caller gets 409 with the qualified candidates. Names are never rewritten,
so adding a server never renames an existing tool (at worst a bare name becomes ambiguous).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from bridge.errors import Ambiguous, NotFound

__all__ = ["qualify", "resolve"]


def qualify(server: str, name: str) -> str:
    return f"{server}.{name}"


def resolve(name: str, owners: Mapping[str, Collection[str]], servers: Collection[str], kind: str) -> tuple[str, str]:
    """(server, local name) for ``name``, given which servers offer each local name.

    A dotted name is read as qualified when its prefix is a known server that has the rest;
    otherwise the whole name is looked up bare, since MCP tool names may contain dots.
    """
    server, dot, local = name.partition(".")
    if dot and server in servers and server in owners.get(local, ()):
        return server, local
    offering = owners.get(name, ())
    if len(offering) == 1:  # the common case: one server has it (no list made to sort)
        (only,) = offering
        return only, name
    if not offering:
        raise NotFound(f"no {kind} named {name!r}")
    candidates = sorted(offering)
    qualified = [qualify(s, name) for s in candidates]
    raise Ambiguous(f"{kind} name {name!r} is offered by {len(candidates)} servers; use a qualified name", qualified)
