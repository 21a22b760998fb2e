"""A real ``mcp-bridge serve --store postgresql://…`` keeps what it keeps across a restart.

Registrations, named API keys, webhook subscriptions with their outbox, asynchronous calls and
the event log are made over REST on a first bridge process, which is then stopped; a second
process on the same database finds them all. The database is the session cluster's, reached
with a password that no log line may show.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import psycopg
import requests
from click.testing import CliRunner, Result

from bridge.cli import main
from bridge.store import Store
from harness import poll
from tests.calls.conftest import ALICE, Api, calls_upstream
from tests.harness.postgres import PostgresCluster
from tests.servers.launch import RICH_SERVER
from tests.support import bridge_process

ADMIN = "admin-key-of-the-postgres-tests"
HOOK = "http://127.0.0.1:9/never-answers"  # refused at once: deliveries stay pending, retried later


def _admin(url: str, method: str, path: str, body: Any = None, key: str = ADMIN) -> requests.Response:
    return requests.request(method, url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def _events(database: str) -> int:
    """Rows in the event log, read by a client of its own."""
    with psycopg.connect(database, autocommit=True) as connection:
        row = connection.execute("SELECT COUNT(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def test_a_bridge_on_postgresql_keeps_registrations_keys_webhooks_calls_and_events_across_a_restart(
    tmp_path: Path, postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    args = (
        "--store",
        postgres_url,
        "--admin-key",
        ADMIN,
        "--api-key",
        ALICE,
        "--allow-stdio-registration",
        "--allow-private-webhooks",
    )
    local = {"name": "local", "transport": "stdio", "command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}
    with calls_upstream("modern") as entry:
        config = {"mcpServers": {"calls": entry}}
        with bridge_process(tmp_path / "first", config, *args) as first:
            assert _admin(first.url, "POST", "/servers", local).status_code == 201
            made = _admin(first.url, "POST", "/keys", {"name": "ci", "scopes": ["use"]})
            assert made.status_code == 201, made.text
            key = made.json()
            hook = _admin(first.url, "POST", "/webhooks", {"url": HOOK, "types": ["tool.call"]})
            assert hook.status_code == 201, hook.text
            webhook = hook.json()
            alice = Api(first.url, ALICE)
            call = alice.start("slow", {"seconds": 0})
            completed = alice.until(call["id"], "completed")
            outbox = f"/webhooks/{webhook['id']}/deliveries"
            poll(lambda: len(_admin(first.url, "GET", outbox).json()["deliveries"]) > 0, 20, what="deliveries kept")
            deliveries = _admin(first.url, "GET", outbox).json()["deliveries"]
            poll(lambda: _events(postgres_url) > 0, 20, what="events in the event log")
            first_log = first.log()

        with bridge_process(tmp_path / "second", config, *args, "--store-pool", "2") as second:
            servers = {s["name"]: s["source"] for s in _admin(second.url, "GET", "/servers").json()["servers"]}
            assert servers == {"calls": "config", "local": "registry"}
            echoed = _admin(second.url, "POST", "/servers/local/tools/echo", {"text": "hi"}, key=key["key"])
            assert echoed.status_code == 200, echoed.text  # the named key, kept as a hash, still lets its holder in
            assert echoed.json()["content"][0]["text"] == "hi"
            (kept,) = _admin(second.url, "GET", "/webhooks").json()["webhooks"]
            assert (kept["id"], kept["url"]) == (webhook["id"], HOOK)
            again = _admin(second.url, "GET", outbox).json()["deliveries"]
            assert {d["id"] for d in deliveries} <= {d["id"] for d in again}
            assert Api(second.url, ALICE).get(call["id"]) == completed
            second_log = second.log()

    shown = f"postgresql://bridge@127.0.0.1:{postgres_cluster.port}/"
    for log in (first_log, second_log):
        assert shown in log  # the banner names the database ...
        assert postgres_cluster.password not in log  # ... never its password


def test_the_keys_command_keeps_keys_in_postgresql(postgres_cluster: PostgresCluster, postgres_url: str) -> None:
    def keys(*args: str) -> Result:
        return CliRunner().invoke(main, ["keys", *args, "--store", postgres_url], catch_exceptions=False)

    made = keys("create", "ci", "--scope", "use")
    assert made.exit_code == 0, made.output
    key_id = made.stdout.strip().split("_")[1]
    assert keys("revoke", key_id).exit_code == 0
    listed = keys("list")
    assert listed.stdout.startswith(f"{key_id}  ci  revoked")
    assert postgres_cluster.password not in made.output + listed.output
    with Store.open(postgres_url) as store:
        assert [k.id for k in store.keys.every()] == [key_id]


def test_a_store_pool_of_no_connections_is_refused_before_anything_starts() -> None:
    refused = CliRunner().invoke(main, ["serve", "--store-pool", "0"])
    assert refused.exit_code == 2
    assert "--store-pool" in refused.output
    assert "0 is not in the range 1<=x<=1000" in refused.output
