"""A store that cannot be used for a while: requests that need it get 503 ``store-unavailable``, then work again.

A real bridge on a SQLite file; the test holds the file's write lock (``BEGIN IMMEDIATE``) past
the bridge's busy timeout, as a stuck process or a backup holding it would. What needs the store
then is answered 503 with ``Retry-After`` and a problem that names no database, logged as an
outage in one line (not as a bug, with a traceback); what does not need it is served; and once
the lock is gone the same request succeeds.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
import requests

from bridge.endpoint.http import unexpected
from bridge.errors import STORE_UNAVAILABLE, BridgeError, StoreUnavailable
from bridge.store import StoreError
from bridge.store.sqlite import BUSY_TIMEOUT
from tests.servers.launch import RICH_SERVER
from tests.support import BridgeProcess, bridge_process

ADMIN = "admin-key-of-the-outage-tests"
CONFIG = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}}}
PROBLEMS = "https://mcp-rest-bridge.dev/problems/"


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[tuple[BridgeProcess, Path]]:
    store = tmp_path / "store.db"
    with bridge_process(tmp_path, CONFIG, "--admin-key", ADMIN, "--registry", str(store)) as running:
        yield running, store


def _admin(bridge: BridgeProcess, method: str, path: str, body: object = None) -> requests.Response:
    return requests.request(
        method, bridge.url + path, json=body, headers={"X-API-Key": ADMIN}, timeout=BUSY_TIMEOUT * 3
    )


def test_a_request_needing_a_locked_store_is_answered_503_and_served_once_it_is_free(
    bridge: tuple[BridgeProcess, Path],
) -> None:
    running, store = bridge
    with closing(sqlite3.connect(store, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, held past the bridge's busy timeout
        with ThreadPoolExecutor(2) as pool:
            making = pool.submit(_admin, running, "POST", "/keys", {"name": "during", "scopes": ["use"]})
            # Meanwhile what needs no store is served at once.
            called = _admin(running, "POST", "/servers/rich/tools/echo", {"text": "still here"})
            refused = making.result()
        holder.execute("ROLLBACK")
    assert called.status_code == 200, called.text
    assert called.json()["content"][0]["text"] == "still here"
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1
    problem = refused.json()
    assert problem["type"] == PROBLEMS + "store-unavailable"
    assert problem["detail"] == STORE_UNAVAILABLE
    assert str(store) not in refused.text  # the answer names no database
    made = _admin(running, "POST", "/keys", {"name": "after", "scopes": ["use"]})
    assert made.status_code == 201, made.text
    log = running.log()
    assert "the store failed on POST /keys" in log
    assert "unhandled error" not in log
    assert "Traceback" not in log


def test_an_edge_answers_503_for_a_store_error_and_500_for_anything_else() -> None:
    outage = unexpected(StoreError("postgresql://bridge@db:5432/bridge: no free connection within 10 s"), "GET /x")
    assert isinstance(outage, StoreUnavailable)
    assert (outage.status, outage.headers()) == (503, {"Retry-After": "1"})
    assert "postgresql" not in str(outage.to_problem())
    bug = unexpected(KeyError("oops"), "GET /x")
    assert type(bug) is BridgeError
    assert bug.status == 500
    assert "oops" not in str(bug.to_problem())
