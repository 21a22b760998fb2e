"""A handshake-era session its client ended on one instance is ended on all of them (issue: several instances).

Two real bridges on one store (a SQLite file, a PostgreSQL database) with one session secret, so
either serves a session the other opened (``tests/test_mcp_sessions_across_instances.py``). Once
the client ends it (``DELETE /mcp``) on one, the other drops its copy within a second, and an
instance that never served it refuses to revive it: 404 everywhere, as on one instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pytest
import requests

from bridge.store import open_database
from bridge.store.sessions import EndedSessionStore, digest
from harness import poll
from tests.instances.conftest import LIVE_WITHIN, USER, Instance, StoreOf, instances, seconds_until

SECRET = "one session secret for every instance of these tests"
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json", "X-API-Key": USER}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "curl", "version": "8"}},
}


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory, store_of: StoreOf) -> Iterator[tuple[Instance, Instance, str]]:
    folder = tmp_path_factory.mktemp("sealed")
    secret = folder / "session-secret"
    secret.write_text(SECRET)
    with store_of(folder) as store, instances(store, folder, "--session-secret-file", str(secret)) as (a, b):
        yield a, b, store


def _open(at: Instance) -> str:
    answer = requests.post(f"{at.url}/mcp", json=INITIALIZE, headers=HEADERS, timeout=10)
    assert answer.status_code == 200, answer.text
    session: str = answer.headers["mcp-session-id"]
    return session


def _call(at: Instance, session: str) -> int:
    body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "x"}}}
    headers = {**HEADERS, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
    answer = requests.post(f"{at.url}/mcp", json=body, headers=headers, timeout=10)
    assert answer.status_code in (200, 404), answer.text
    return answer.status_code


def _end(at: Instance, session: str) -> None:
    headers = {"X-API-Key": USER, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
    assert requests.delete(f"{at.url}/mcp", headers=headers, timeout=10).status_code == 200


def test_a_session_ended_on_one_instance_is_dropped_by_the_other_within_a_second(
    sealed: tuple[Instance, Instance, str],
) -> None:
    a, b, _ = sealed
    session = _open(a)
    assert _call(b, session) == 200  # revived on b
    assert _call(a, session) == 200
    _end(a, session)
    assert _call(a, session) == 404
    assert seconds_until(lambda: _call(b, session) == 404, what="b dropping the session a ended") < LIVE_WITHIN
    assert _call(b, session) == 404  # and it stays dropped
    other = _open(b)  # the instances go on opening and serving sessions
    assert _call(a, other) == 200
    assert _call(b, other) == 200


def test_an_instance_that_never_served_an_ended_session_does_not_revive_it(
    sealed: tuple[Instance, Instance, str],
) -> None:
    a, b, store = sealed
    session = _open(a)
    assert _call(a, session) == 200
    _end(a, session)
    with closing(open_database(store)) as database:  # once the end is in the store (the writer commits it soon after)
        ended = EndedSessionStore(database)
        poll(lambda: ended.ended(digest(session)), 10, interval=0.01, what="the end recorded")
    assert _call(b, session) == 404  # b has no copy: it asked the store before reviving
    assert _call(b, session) == 404
