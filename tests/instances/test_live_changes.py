"""A change made through one instance (or the ``mcp-bridge keys`` command) holds on the other
within a second: servers registered and removed, with their events, and restarted when their
registration changed; keys made, rotated, revoked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.store import Store
from tests.events.sse import Message, SseClient
from tests.instances.conftest import ADMIN, LIVE_WITHIN, Instance, Pair, seconds_until
from tests.servers.launch import running_http_server


@contextmanager
def server_events(instance: Instance) -> Iterator[SseClient]:
    """``instance``'s event stream of server events, open (its first comment read)."""
    client = SseClient(instance.url, "/mcp/stream?type=server", {"X-API-Key": ADMIN})
    with client:
        assert client.status == 200, client.body
        with pytest.raises(TimeoutError):
            client.next(timeout=0.3)  # reads the opening comment: the bridge follows the feed for it now
        assert client.comments[:1] == ["stream open"]
        yield client


def _next_of(client: SseClient, kind: str) -> Message:
    while True:
        message = client.next(timeout=10)
        if message.data["type"] == kind:
            return message


def test_a_server_registered_on_one_instance_is_served_by_the_other_within_a_second(pair: Pair) -> None:
    with running_http_server("http", name="far") as url, server_events(pair.b) as events:
        made = pair.a("POST", "/servers", {"name": "far", "transport": "streamable-http", "url": url})
        assert made.status_code == 201, made.text
        took = seconds_until(lambda: pair.b.call("hi", server="far").status_code == 200, what="far served on B")
        assert took <= LIVE_WITHIN, f"B served the registration after {took:.2f} s"
        registered = _next_of(events, "server.registered")
        assert (registered.data["server"], registered.data["data"]) == ("far", {"transport": "streamable-http"})

        assert pair.a("DELETE", "/servers/far").status_code == 204
        took = seconds_until(lambda: pair.b.call("hi", server="far").status_code == 404, what="far gone from B")
        assert took <= LIVE_WITHIN, f"B still served the removed server after {took:.2f} s"
        assert _next_of(events, "server.removed").data["server"] == "far"
        assert "far" not in {s["name"] for s in pair.b("GET", "/servers").json()["servers"]}


def _status(instance: Instance, key: str) -> int:
    return instance("GET", "/tools", key=key).status_code


def test_a_key_made_rotated_and_revoked_on_one_instance_holds_on_the_other_within_a_second(pair: Pair) -> None:
    made = pair.a("POST", "/keys", {"name": "shared", "scopes": ["use"]}).json()
    took = seconds_until(lambda: _status(pair.b, made["key"]) == 200, what="B to accept the new key")
    assert took <= LIVE_WITHIN, f"B accepted the new key after {took:.2f} s"

    rotated = pair.a("POST", f"/keys/{made['id']}/rotate").json()["key"]
    took = seconds_until(lambda: _status(pair.b, made["key"]) == 401, what="B to refuse the rotated-out key")
    assert took <= LIVE_WITHIN, f"B refused the rotated-out key after {took:.2f} s"
    assert _status(pair.b, rotated) == 200

    assert pair.a("DELETE", f"/keys/{made['id']}").status_code in (200, 204)
    took = seconds_until(lambda: _status(pair.b, rotated) == 401, what="B to refuse the revoked key")
    assert took <= LIVE_WITHIN, f"B refused the revoked key after {took:.2f} s"
    refused = pair.b("GET", "/tools", key=rotated).json()
    assert refused["detail"] == "the API key has been revoked"


def test_a_key_the_cli_revokes_is_refused_by_both_instances_within_a_second(pair: Pair) -> None:
    def keys(*args: str) -> str:
        done = CliRunner().invoke(main, ["keys", *args, "--registry", str(pair.registry)], catch_exceptions=False)
        assert done.exit_code == 0, done.output
        return done.stdout

    made = json.loads(keys("create", "from-the-cli", "--json"))
    took = seconds_until(
        lambda: _status(pair.a, made["key"]) == 200 and _status(pair.b, made["key"]) == 200, what="both to accept"
    )
    assert took <= LIVE_WITHIN, f"the instances accepted the CLI's key after {took:.2f} s"
    keys("revoke", made["id"])
    took = seconds_until(
        lambda: _status(pair.a, made["key"]) == 401 and _status(pair.b, made["key"]) == 401, what="both to refuse"
    )
    assert took <= LIVE_WITHIN, f"the instances refused the revoked key after {took:.2f} s"


def test_a_registration_changed_in_the_store_is_restarted_on_both_instances(pair: Pair) -> None:
    with running_http_server("http", name="one") as first:
        made = pair.a("POST", "/servers", {"name": "moving", "transport": "streamable-http", "url": first})
        assert made.status_code == 201, made.text
        seconds_until(lambda: pair.b.call("hi", server="moving").status_code == 200, what="moving served on B")
        with running_http_server("http", name="two") as second:
            with Store.open(pair.registry) as store:  # as another instance (or a newer version) keeps it
                (kept,) = [c for c in store.registrations.load() if c.name == "moving"]
                store.registrations.save(replace(kept, url=second))
            for instance in (pair.a, pair.b):
                took = seconds_until(lambda instance=instance: _serving(instance, "moving") == "two", what="two")  # type: ignore[misc]
                assert took <= 2 * LIVE_WITHIN, f"{instance.url} restarted the server after {took:.2f} s"
                assert instance.call("hi", server="moving").status_code == 200
            assert pair.a("DELETE", "/servers/moving").status_code == 204


def _serving(instance: Instance, name: str) -> str | None:
    """The name the server registered as ``name`` gave in its handshake, once it is ready."""
    found = instance("GET", f"/servers/{name}").json()
    return found["serverInfo"]["name"] if found.get("status") == "ready" and found.get("serverInfo") else None
