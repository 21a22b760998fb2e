"""The issue's end-to-end test: events queued while the receiver (the guide's Flask receiver) is
down survive ``kill -9`` of the bridge right after the answers, and all arrive once both are
started again: signatures valid, a duplicate with the same ``webhook-id`` as its original.
``WEBHOOK_URL`` made the subscription, a restart does not make a second one, and one without
the variable stops it."""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness import accepting, free_port, poll, started
from tests.support import ROOT, bridge_process
from tests.webhooks.conftest import ADMIN, RICH, USER, Api

GUIDE_RECEIVER = ROOT / "examples" / "guide" / "webhook_receiver.py"
CALLS = 100


def _received(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_events_queued_while_the_receiver_is_down_survive_kill_9_and_all_arrive_signed(tmp_path: Path) -> None:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    port = free_port()
    env = {"WEBHOOK_URL": f"http://127.0.0.1:{port}/webhook/mcp", "WEBHOOK_SECRET": secret}
    args = [
        "--registry", str(tmp_path / "registry.db"), "--api-key", USER, "--admin-key", ADMIN,
        "--allow-private-webhooks", "--webhook-retry-delays", ",".join(["0.5"] * 3 + ["1"] * 40),
    ]  # fmt: skip
    with bridge_process(tmp_path / "first", RICH, *args, env=env) as first:
        api = Api(first)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: api.call(f"durable {n}"), range(CALLS)))
        first.process.popen.kill()  # kill -9, right after the last answer
        first.process.popen.wait(10)

    received = tmp_path / "received.jsonl"
    receiver_env = {
        **os.environ,
        "PORT": str(port),
        "WEBHOOK_SECRET": secret,
        "WEBHOOK_RECEIVED": str(received),
        "PYTHONPATH": str(ROOT / "generated" / "python"),
    }
    argv = [sys.executable, str(GUIDE_RECEIVER)]
    with started("guide receiver", argv, env=receiver_env, log=tmp_path / "receiver.log") as receiver:
        receiver.wait_until(lambda: accepting(port), 30, "accepting")
        # Started again where it served (as a service would be), it takes back at once the
        # deliveries it held leased when it was killed.
        port = int(first.url.rsplit(":", 1)[1])
        with bridge_process(tmp_path / "second", RICH, *args, env=env, port=port) as second:
            api = Api(second)
            (webhook,) = api("GET", "/webhooks").json()["webhooks"]  # the one WEBHOOK_URL made, not a second
            assert (webhook["source"], webhook["url"]) == ("environment", env["WEBHOOK_URL"])
            poll(lambda: len({r["data"]["id"] for r in _received(received)}) >= CALLS, 60, what="every call's event")

            def all_delivered() -> bool:
                page = api("GET", f"/webhooks/{webhook['id']}/deliveries?limit=500").json()["deliveries"]
                return len(page) >= CALLS and all(d["status"] == "delivered" for d in page)

            poll(all_delivered, 30, what="every delivery delivered (2xx: the receiver checked its signature)")

    with bridge_process(tmp_path / "third", RICH, *args) as third:  # WEBHOOK_URL no longer set
        (left,) = Api(third)("GET", "/webhooks").json()["webhooks"]
        assert (left["id"], left["enabled"], left["disabledReason"]) == (
            webhook["id"],
            False,
            "WEBHOOK_URL is no longer set",
        )

    records = _received(received)
    assert len({r["data"]["id"] for r in records}) == CALLS
    assert {(r["data"]["event"], r["data"]["tool"]) for r in records} == {("tool_executed", "echo")}
    ids_by_event: dict[str, set[str]] = defaultdict(set)
    for record in records:
        ids_by_event[record["data"]["id"]].add(record["webhookId"])
    assert all(len(ids) == 1 for ids in ids_by_event.values())  # a duplicate carries its original's webhook-id
    log = (tmp_path / "receiver.log").read_text(encoding="utf-8")
    assert '"POST /webhook/mcp HTTP/1.1" 200' in log
    assert '" 401 ' not in log  # no delivery failed the receiver's signature check
