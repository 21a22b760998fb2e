"""The audit log of a running bridge: admin changes and refusals recorded, reads and credentials not."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from bridge.config import BridgeSettings, ConfigError
from bridge.runtime import Bridge
from harness import poll
from tests.leaks import secret
from tests.servers.launch import RICH_SERVER, running_http_server
from tests.support import children_running, in_process_bridge, rich_stdio

ADMIN_KEY = secret("audit-admin-key-5d1e")
PLAIN_KEY = secret("audit-plain-key-0b7c")
UPSTREAM_TOKEN = secret("audit-upstream-token-8e2f")
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with running_http_server("http", token=UPSTREAM_TOKEN) as url:
        yield url


def records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_server_and_webhook_changes_and_refusals_are_recorded_without_secrets(tmp_path: Path, upstream: str) -> None:
    log = tmp_path / "audit.jsonl"
    settings: dict[str, Any] = {
        "api_keys": (PLAIN_KEY,),
        "admin_keys": (ADMIN_KEY,),
        "audit_log": str(log),
        "allow_private_upstreams": True,
        "allow_private_webhooks": True,
    }
    with in_process_bridge([rich_stdio()], **settings) as bridge:
        client = bridge.app.test_client()
        registration = {"name": "remote", "url": upstream, "transport": "http",
                        "authentication": {"type": "bearer", "token": UPSTREAM_TOKEN}}  # fmt: skip
        assert client.post("/servers", json=registration, headers={**ADMIN, "X-Request-Id": "r-1"}).status_code == 201
        assert client.delete("/servers/remote", headers=ADMIN).status_code == 204
        made = client.post("/webhooks", json={"url": "http://127.0.0.1:9/hook?token=abc"}, headers=ADMIN)
        assert made.status_code == 201, made.json
        rotated = client.post(f"/webhooks/{made.json['id']}/rotate", json={}, headers=ADMIN)
        assert rotated.status_code == 200, rotated.json
        assert client.get("/webhooks", headers=ADMIN).status_code == 200  # a read: not recorded
        plain = {"X-API-Key": PLAIN_KEY, "X-Request-Id": "r-2"}
        assert client.post("/servers", json=registration, headers=plain).status_code == 403
        assert client.get("/servers").status_code == 401
    found = records(log)
    assert [(r["action"], r["outcome"], r["status"]) for r in found] == [
        ("registerServer", "ok", 201),
        ("deleteServer", "ok", 204),
        ("createWebhook", "ok", 201),
        ("rotateWebhookSecret", "ok", 200),
        ("registerServer", "denied", 403),
        ("request.denied", "denied", 401),
    ]
    registered = found[0]
    assert (registered["target"], registered["requestId"], registered["url"]) == ("/servers/remote", "r-1", upstream)
    assert str(registered["subject"]).startswith("key:")
    assert found[2]["url"] == "http://127.0.0.1:9/hook"
    assert found[4]["subject"] != registered["subject"]
    assert found[4]["requestId"] == "r-2"
    assert found[5]["subject"] is None
    text = log.read_text(encoding="utf-8")
    for secret_value in (ADMIN_KEY, PLAIN_KEY, UPSTREAM_TOKEN, rotated.json["secret"], "token=abc"):
        assert secret_value not in text


def test_an_audit_log_that_cannot_be_opened_stops_start_up_and_leaves_nothing_running(tmp_path: Path) -> None:
    before = {t.name for t in threading.enumerate()}
    children = set(children_running(RICH_SERVER))  # the module's HTTP upstream, say
    (tmp_path / "a-file").write_text("not a folder")
    settings = BridgeSettings(audit_log=str(tmp_path / "a-file" / "audit.jsonl"), registry_path=None)
    with pytest.raises(ConfigError, match="cannot open the audit log"):
        Bridge.create(settings, [rich_stdio()])
    poll(lambda: set(children_running(RICH_SERVER)) <= children, 10, what="the upstream child stopped")
    poll(lambda: {t.name for t in threading.enumerate()} <= before, 10, what="start-up's threads stopped")
