"""``mcp-bridge keys create|list|revoke|rotate``: named API keys in the store a bridge serves from.

The commands open the same store file as ``serve`` (``--registry``, ``$MCP_BRIDGE_REGISTRY`` or
the user's data folder) and change it directly; a bridge serving from that file takes a change
up within about a second, without a restart. A created or rotated key is printed once, alone on
standard output (so ``KEY=$(mcp-bridge keys create ci)`` works); what it means goes to standard
error. ``--json`` prints the answer the admin API would give instead.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click

from bridge.config import default_registry_path
from bridge.errors import BridgeError
from bridge.gate import ApiKeys
from bridge.gate.key_admin import parse_expiry
from bridge.model import SCOPES, USE
from bridge.store import Store, StoreError

__all__ = ["keys"]

F = TypeVar("F", bound=Callable[..., Any])
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _registry_option(command: F) -> F:
    return click.option(
        "--registry",
        "--store",
        "registry_path",
        metavar="PATH|URL",
        help=(
            "The bridge's store, a file or a postgresql:// URL"
            " (default: as 'serve': $MCP_BRIDGE_REGISTRY or the user's data folder)."
        ),
    )(command)


def _json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print the admin API's JSON answer.")(command)


@contextmanager
def _api_keys(registry_path: str | None) -> Iterator[ApiKeys]:
    """The keys of the store file, with bridge errors as one line each and the store closed after."""
    try:
        store = Store.open(registry_path or default_registry_path(os.environ))
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield ApiKeys(store.keys)
    except BridgeError as exc:
        raise click.ClickException(exc.detail) from exc
    finally:
        store.close()


@click.group()
def keys() -> None:
    """Named API keys, kept as hashes in the bridge's store: create, list, revoke, rotate."""


@keys.command()
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    help=f"A scope the key holds (repeatable; default {USE}).",
)
@click.option("--server", "servers", multiple=True, help="A server the key may use (repeatable; default every one).")
@click.option(
    "--tool",
    "tools",
    multiple=True,
    help="A tool it may call: server.tool or server.* (repeatable; default every one).",
)
@click.option("--expires-in", metavar="DURATION", help="Expire after 90d, 12h, 30m, 2w, …")
@click.option("--expires-at", metavar="TIME", help="Expire at an RFC 3339 time (UTC when no zone is given).")
@_registry_option
@_json_option
def create(
    name: str,
    scopes: tuple[str, ...],
    servers: tuple[str, ...],
    tools: tuple[str, ...],
    expires_in: str | None,
    expires_at: str | None,
    registry_path: str | None,
    as_json: bool,
) -> None:
    """Make a key named NAME and print it, this once."""
    body: dict[str, Any] = {"name": name, "scopes": list(scopes or (USE,))}
    if servers:
        body["servers"] = list(servers)
    if tools:
        body["tools"] = list(tools)
    expiry = _expiry(expires_in, expires_at)
    if expiry is not None:
        body["expiresAt"] = expiry
    with _api_keys(registry_path) as api:
        made = api.create(body)
    if as_json:
        click.echo(json.dumps(made, indent=2))
        return
    click.echo(made["key"])
    click.echo(f"created key {made['id']} ({made['name']}): {_summary(made)}", err=True)
    click.echo("keep it now: it is kept only as a hash and is not shown again", err=True)


@keys.command(name="list")
@_registry_option
@_json_option
def list_keys(registry_path: str | None, as_json: bool) -> None:
    """List the keys (never the keys themselves)."""
    with _api_keys(registry_path) as api:
        found = api.list()
    if as_json:
        click.echo(json.dumps({"keys": found}, indent=2))
        return
    if not found:
        click.echo("no keys", err=True)
        return
    for key in found:
        state = "revoked" if key["revoked"] else "valid"
        used = key["lastUsedAt"] or "never used"
        click.echo(f"{key['id']}  {key['name']}  {state}  {_summary(key)}  last used: {used}")


@keys.command()
@click.argument("key_id", metavar="ID")
@_registry_option
def revoke(key_id: str, registry_path: str | None) -> None:
    """Revoke the key ID for good."""
    with _api_keys(registry_path) as api:
        api.revoke(key_id)
    click.echo(f"revoked key {key_id}", err=True)


@keys.command()
@click.argument("key_id", metavar="ID")
@_registry_option
@_json_option
def rotate(key_id: str, registry_path: str | None, as_json: bool) -> None:
    """Give the key ID a new secret (same scopes and allowlists) and print it; the old one stops working."""
    with _api_keys(registry_path) as api:
        rotated = api.rotate(key_id)
    if as_json:
        click.echo(json.dumps(rotated, indent=2))
        return
    click.echo(rotated["key"])
    click.echo(f"rotated key {key_id}: the previous key no longer works", err=True)


def _summary(key: dict[str, Any]) -> str:
    parts = ["scopes " + ",".join(key["scopes"])]
    if key["servers"] is not None:
        parts.append("servers " + ",".join(key["servers"]))
    if key["tools"] is not None:
        parts.append("tools " + ",".join(key["tools"]))
    parts.append(f"expires {key['expiresAt']}" if key["expiresAt"] else "no expiry")
    return "; ".join(parts)


def _expiry(expires_in: str | None, expires_at: str | None) -> str | None:
    if expires_in is not None and expires_at is not None:
        raise click.UsageError("give --expires-in or --expires-at, not both")
    if expires_at is not None:
        try:
            return parse_expiry(expires_at).isoformat()
        except ValueError as exc:
            raise click.BadParameter(
                "give an RFC 3339 time, such as 2027-01-31T00:00:00Z", param_hint="--expires-at"
            ) from exc
    if expires_in is not None:
        match = _DURATION.match(expires_in.strip())
        if match is None:
            raise click.BadParameter("give a number and a unit (s, m, h, d, w), such as 90d", param_hint="--expires-in")
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return (datetime.now(UTC) + delta).isoformat()
    return None
