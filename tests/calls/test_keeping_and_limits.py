"""What the call store keeps, for how long, and how much: restarts, retention, limits, result size,
and who hears of a call (the event stream, a completion callback)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import poll
from tests.calls.conftest import ALICE, BOB, Api, calls_bridge
from tests.support import BridgeProcess, problem
from tests.webhooks.conftest import Receiver, start_receiver

PROBLEMS = "https://mcp-rest-bridge.dev/problems/"
CALLBACK_SECRET = "callback-secret-of-the-calls-tests"
ADMIN = "admin-key-of-the-calls-tests"


def _kept_state(database: Path, call_id: str) -> str | None:
    """The call's state as its row in the bridge's database file says (None: no row)."""
    with sqlite3.connect(database) as connection:
        row = connection.execute("SELECT state FROM calls WHERE id = ?", (call_id,)).fetchone()
    return None if row is None else str(row[0])


def test_after_kill_9_completed_calls_are_readable_and_running_ones_say_they_were_cut_off(tmp_path: Path) -> None:
    database = tmp_path / "bridge.db"
    with calls_bridge(tmp_path / "first", "modern", "--registry", str(database)) as bridge:
        alice = Api(bridge.url, ALICE)
        done = alice.start("slow", {"seconds": 0})
        completed = alice.until(done["id"], "completed")
        running = alice.start("hold", {"seconds": 60})
        poll(lambda: alice.says("holding") == 1, 20, what="the hold running upstream")
        poll(lambda: _kept_state(database, running["id"]) == "working", 10, what="the running call kept")
        poll(lambda: _kept_state(database, done["id"]) == "completed", 10, what="the completed call kept")
        bridge.process.stop(signal.SIGKILL)

    with calls_bridge(tmp_path / "second", "modern", "--registry", str(database)) as bridge:
        alice = Api(bridge.url, ALICE)
        assert alice.get(done["id"]) == completed
        cut = alice.get(running["id"])
        assert cut["state"] == "failed"
        assert cut["problem"] == {
            "type": PROBLEMS + "call-cut-off",
            "title": "The call was cut off when the bridge stopped",
            "status": 503,
            "detail": "the call was cut off by a restart of the bridge: it was running when the bridge stopped;"
            " whether it finished upstream is unknown",
        }
        assert [c["id"] for c in alice("GET", "/calls").json()["calls"]] == [running["id"], done["id"]]
        assert Api(bridge.url, BOB)("GET", f"/calls/{done['id']}").status_code == 404


def test_a_bridge_that_stops_marks_its_running_calls_cut_off(tmp_path: Path) -> None:
    database = tmp_path / "bridge.db"
    with calls_bridge(tmp_path / "first", "modern", "--registry", str(database)) as bridge:
        running = Api(bridge.url, ALICE).start("hold", {"seconds": 60})
        bridge.process.stop(signal.SIGTERM)
    assert _kept_state(database, running["id"]) == "failed"


def test_ended_calls_are_dropped_after_the_retention(tmp_path: Path) -> None:
    database = tmp_path / "bridge.db"
    with calls_bridge(tmp_path, "modern", "--registry", str(database), "--call-retention", "1") as bridge:
        alice = Api(bridge.url, ALICE)
        call = alice.start("slow", {"seconds": 0})
        poll(lambda: _kept_state(database, call["id"]) == "completed", 10, what="the call kept")
        poll(lambda: alice("GET", f"/calls/{call['id']}").status_code == 404, 10, what="the call swept")
        poll(lambda: _kept_state(database, call["id"]) is None, 10, what="its row swept")
        assert alice("GET", "/calls").json() == {"calls": [], "next": None}


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    yield from start_receiver(tmp_path_factory.mktemp("receiver"))


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    tmp = tmp_path_factory.mktemp("limited")
    secret = tmp / "callback-secret"
    secret.write_text(CALLBACK_SECRET + "\n", encoding="utf-8")
    options = ["--call-limit-per-caller", "2", "--call-limit", "3", "--call-max-result", "1000"]
    options += ["--callback-secret-file", str(secret), "--allow-private-webhooks", "--webhook-retry-delays", "0.3"]
    options += ["--admin-key", ADMIN]
    with calls_bridge(tmp, "modern", *options) as bridge:
        yield bridge


def test_calls_past_a_callers_limit_and_the_bridges_are_429(limited: BridgeProcess) -> None:
    alice, bob = Api(limited.url, ALICE), Api(limited.url, BOB)
    held = [alice.start("hold", {"seconds": 60}), alice.start("hold", {"seconds": 60})]
    refused = alice("POST", "/servers/calls/tools/hold", {"seconds": 60}, Prefer="respond-async")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["RateLimit-Policy"] == '"caller-async-calls";q=2;qu="concurrent-requests"'
    assert problem(refused) == {
        "type": PROBLEMS + "async-call-limit",
        "title": "Too many asynchronous calls running",
        "status": 429,
        "detail": "this caller has 2 asynchronous calls running, its limit",
        "violated-policies": ["caller-async-calls"],
        "retryAfterSeconds": 1,
        "instance": "/servers/calls/tools/hold",
    }
    held.append(bob.start("hold", {"seconds": 60}))
    full = bob("POST", "/servers/calls/tools/hold", {"seconds": 60}, Prefer="respond-async")
    assert full.status_code == 429
    assert full.json()["violated-policies"] == ["async-calls"]
    assert alice("POST", "/servers/calls/tools/slow", {"seconds": 0}).status_code == 200  # sync calls go on
    for call, api in zip(held, (alice, alice, bob), strict=True):
        assert api("DELETE", f"/calls/{call['id']}").status_code == 200
    assert alice.start("slow", {"seconds": 0})["state"] == "working"  # room again


def test_a_result_over_the_cap_fails_the_call_with_507(limited: BridgeProcess) -> None:
    alice = Api(limited.url, ALICE)
    small = alice.start("big", {"size": 100})
    assert alice.until(small["id"], "completed")["result"]["structuredContent"] == {"result": "x" * 100}
    large = alice.start("big", {"size": 5000})
    failed = alice.until(large["id"], "failed")
    assert "result" not in failed
    assert failed["problem"] == {
        "type": PROBLEMS + "result-too-large",
        "title": "The call's result is too large to keep",
        "status": 507,
        "detail": "the tool's result is over the 1000 bytes this bridge keeps of an asynchronous call's result;"
        " call the tool synchronously for results this large",
    }
    waited = alice("POST", "/servers/calls/tools/big", {"size": 5000}, Prefer="wait=10")
    assert waited.status_code == 507
    assert waited.json()["type"] == PROBLEMS + "result-too-large"
    assert alice("POST", "/servers/calls/tools/big", {"size": 5000}).status_code == 200  # sync: no cap


def test_a_completion_callback_is_posted_signed(limited: BridgeProcess, receiver: Receiver) -> None:
    alice = Api(limited.url, ALICE)
    call = alice.start("slow", {"seconds": 0}, Callback_Url=receiver.url("/ok/call-done"))
    heard = poll(lambda: receiver.heard("/ok/call-done") or None, 20, what="the callback")
    [posted] = heard
    body = posted["body"]
    assert _json(body) == alice.until(call["id"], "completed")
    headers = {k.lower(): v for k, v in posted["headers"].items()}
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body}".encode()
    expected = base64.b64encode(hmac.digest(CALLBACK_SECRET.encode(), signed, hashlib.sha256)).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"


def test_a_webhook_subscriber_hears_that_a_call_needs_input(limited: BridgeProcess, receiver: Receiver) -> None:
    admin, alice = Api(limited.url, ADMIN), Api(limited.url, ALICE)
    made = admin("POST", "/webhooks", {"url": receiver.url("/ok/input"), "types": ["tool.call.input_required"]})
    assert made.status_code == 201, made.text
    try:
        call = alice.start("ask")
        [delivered] = poll(lambda: receiver.heard("/ok/input") or None, 20, what="the webhook delivery")
        event = json.loads(delivered["body"])
        assert (event["type"], event["data"]["callId"]) == ("tool.call.input_required", call["id"])
        assert [q["id"] for q in event["data"]["questions"]] == ["q1"]
        assert alice("DELETE", f"/calls/{call['id']}").status_code == 200
    finally:
        admin("DELETE", f"/webhooks/{made.json()['id']}")


def test_a_callback_url_that_cannot_be_used_is_400_before_the_call_starts(limited: BridgeProcess) -> None:
    alice = Api(limited.url, ALICE)
    refused = alice(
        "POST", "/servers/calls/tools/slow", {"seconds": 0}, Prefer="respond-async", Callback_Url="ftp://example/x"
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {"pointer": "/header/Callback-Url", "message": "the URL must start with http:// or https://"}
    ]


def test_a_bridge_without_a_callback_secret_refuses_callbacks(bridge_without_secret: BridgeProcess) -> None:
    refused = Api(bridge_without_secret.url, ALICE)(
        "POST", "/servers/calls/tools/slow", {"seconds": 0}, Prefer="respond-async", Callback_Url="http://127.0.0.1:9/"
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == (
        "this bridge sends no callbacks: its operator has configured no callback secret"
    )


@pytest.fixture(scope="module")
def bridge_without_secret(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    with calls_bridge(tmp_path_factory.mktemp("plain"), "modern") as bridge:
        yield bridge


def test_the_event_stream_hears_that_a_call_needs_input(bridge_without_secret: BridgeProcess) -> None:
    alice = Api(bridge_without_secret.url, ALICE)
    with requests.get(
        bridge_without_secret.url + "/mcp/stream?type=tool.call.input_required",
        headers={"Authorization": f"Bearer {ALICE}"},
        stream=True,
        timeout=30,
    ) as stream:
        call = alice.start("ask")
        event = _first_event(stream.iter_lines(decode_unicode=True))
    assert event["type"] == "tool.call.input_required"
    assert event["server"] == "calls"
    assert event["data"]["callId"] == call["id"]
    assert event["data"]["tool"] == "ask"
    [question] = event["data"]["questions"]
    assert (question["id"], question["method"]) == ("q1", "elicitation/create")
    assert alice("DELETE", f"/calls/{call['id']}").status_code == 200


def _first_event(lines: Iterator[str]) -> dict[str, Any]:
    for line in lines:
        if line.startswith("data: "):
            return _json(line.removeprefix("data: "))
    raise AssertionError("the stream ended without an event")


def _json(text: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(text)
    return found
