"""Deliveries from a real bridge to a real endpoint: signed as Standard Webhooks' own verifier and
our generated helpers accept, old and new secrets both signing while a rotation overlaps;
redirects not followed, 410 disabling, Retry-After honoured, the dead letter after the last
attempt and redelivery, and one slow endpoint not delaying another."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from harness import poll
from tests.generator.npm import NODE
from tests.support import ROOT
from tests.webhooks.conftest import Api, Receiver


def _one(receiver: Receiver, prefix: str, count: int = 1) -> list[dict[str, Any]]:
    return poll(lambda: (h := receiver.heard(prefix)) and len(h) >= count and h, 20, what=f"{count} at {prefix}")


def test_a_delivery_passes_the_standard_webhooks_verifier_and_the_generated_helpers(
    api: Api, receiver: Receiver, python_client: Any
) -> None:
    made = api.subscribe(url=receiver.url("/ok/signed"), types=["tool_executed"], includePayload=True)
    api.call("signed")
    (heard,) = _one(receiver, "/ok/signed")
    headers, body = heard["headers"], heard["body"]
    event = Webhook(made["secret"]).verify(body, headers)
    assert (event["event"], event["tool"], event["params"], event["type"]) == (
        "tool_executed",
        "echo",
        {"text": "signed"},
        "tool.call.finished",
    )
    assert headers["webhook-id"].startswith("msg_")
    assert python_client.verify_webhook(made["secret"], body.encode(), headers) == event
    assert python_client.verify_mcp_signature(
        made["secret"], body.encode(), headers["X-MCP-Signature"], headers["webhook-timestamp"]
    )
    with pytest.raises(WebhookVerificationError):
        Webhook(made["secret"]).verify(body.replace("signed", "forged"), headers)
    assert not python_client.verify_mcp_signature(
        made["secret"],
        body.replace("signed", "forged").encode(),
        headers["X-MCP-Signature"],
        headers["webhook-timestamp"],
    )
    stale = int(headers["webhook-timestamp"]) + 301
    with pytest.raises(python_client.WebhookVerificationError):
        python_client.verify_webhook(made["secret"], body.encode(), headers, now=stale)
    assert not python_client.verify_mcp_signature(
        made["secret"], body.encode(), headers["X-MCP-Signature"], headers["webhook-timestamp"], now=stale
    )


def test_while_a_rotation_overlaps_both_secrets_sign(api: Api, receiver: Receiver) -> None:
    made = api.subscribe(url=receiver.url("/ok/rotation"), types=["tool.call.finished"])
    rotated = api("POST", f"/webhooks/{made['id']}/rotate", {}).json()
    api.call("rotation")
    (heard,) = _one(receiver, "/ok/rotation")
    assert len(heard["headers"]["webhook-signature"].split()) == 2
    for secret in (made["secret"], rotated["secret"]):
        Webhook(secret).verify(heard["body"], heard["headers"])
    ended = api("POST", f"/webhooks/{made['id']}/rotate", {"overlapSeconds": 0}).json()
    api.call("rotation ended")
    later = _one(receiver, "/ok/rotation", 2)[1]
    Webhook(ended["secret"]).verify(later["body"], later["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(rotated["secret"]).verify(later["body"], later["headers"])


def test_a_redirect_is_not_followed(api: Api, receiver: Receiver) -> None:
    made = api.subscribe(url=receiver.url("/redirect/away"), types=["tool.call.finished"])
    api.call()
    (failed,) = api.settled(made["id"], 1, "failed")
    assert (failed["lastStatus"], failed["attempts"]) == (302, 3)
    assert failed["lastError"] == "HTTP 302 (a redirect, not followed)"
    assert receiver.heard("/ok/away") == []


def test_an_answer_is_read_only_up_to_a_cap(api: Api, receiver: Receiver) -> None:
    made = api.subscribe(url=receiver.url("/endless/body"), types=["tool.call.finished"])
    api.call()
    (delivered,) = api.settled(made["id"], 1, "delivered", timeout=10)  # reading it all would never end
    assert (delivered["attempts"], delivered["lastStatus"]) == (1, 200)


def test_410_gone_disables_the_subscription(api: Api, receiver: Receiver) -> None:
    made = api.subscribe(url=receiver.url("/gone/now"), types=["tool.call.finished"])
    api.call()
    (failed,) = api.settled(made["id"], 1, "failed")
    assert (failed["lastStatus"], failed["attempts"]) == (410, 1)
    shown = poll(lambda: (w := api("GET", f"/webhooks/{made['id']}").json()) and not w["enabled"] and w, 10)
    assert shown["disabledReason"] == f"the endpoint answered 410 Gone to delivery {failed['id']}"
    api.call()
    time.sleep(0.5)  # a disabled subscription gets nothing more: give a wrong delivery the time to show
    assert len(receiver.heard("/gone/now")) == 1


def test_retry_after_is_honoured_over_a_shorter_schedule(api: Api, receiver: Receiver) -> None:
    made = api.subscribe(url=receiver.url("/retry-after/later"), types=["tool.call.finished"])
    api.call()
    (delivered,) = api.settled(made["id"], 1, "delivered")
    first, second = receiver.heard("/retry-after/later")
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == delivered["id"]
    # 2 s from when the first attempt began (heard a moment later); the schedule alone says 0.3 s
    assert second["at"] - first["at"] >= 1.9
    assert delivered["attempts"] == 2


def test_the_last_failed_attempt_makes_a_dead_letter_that_can_be_redelivered(api: Api, receiver: Receiver) -> None:
    made = api.subscribe(url=receiver.url("/fail/dead"), types=["tool.call.finished"])
    api.call()
    (dead,) = api.settled(made["id"], 1, "failed")
    assert (dead["attempts"], dead["lastStatus"], dead["nextAttemptAt"]) == (3, 500, None)
    detail = api("GET", f"/webhooks/{made['id']}/deliveries/{dead['id']}").json()
    assert [(a["attempt"], a["status"]) for a in detail["attemptLog"]] == [(1, 500), (2, 500), (3, 500)]
    assert len(receiver.heard("/fail/dead")) == 3
    again = api("POST", f"/webhooks/{made['id']}/deliveries/{dead['id']}/redeliver")
    assert again.status_code == 202
    assert again.json()["status"] == "pending"
    api.settled(made["id"], 1, "failed")
    poll(lambda: len(receiver.heard("/fail/dead")) == 6, 20, what="three more attempts")
    assert {h["headers"]["webhook-id"] for h in receiver.heard("/fail/dead")} == {dead["id"]}
    by_event = api("POST", f"/webhooks/{made['id']}/redeliver", {"eventIds": [dead["eventId"]]})
    assert (by_event.status_code, by_event.json()) == (202, {"redelivered": 1})
    poll(lambda: len(receiver.heard("/fail/dead")) == 9, 20, what="three more attempts after a range")


def test_a_slow_endpoint_does_not_delay_another(api: Api, receiver: Receiver) -> None:
    api.subscribe(url=receiver.url("/slow/tortoise"), types=["tool.call.finished"])
    api.subscribe(url=receiver.url("/ok/hare"), types=["tool.call.finished"])
    started = time.monotonic()
    for n in range(12):
        api.call(f"race {n}")
    hare = _one(receiver, "/ok/hare", 12)
    assert time.monotonic() - started < 2.0  # 12 at 2 s each, 4 at a time, are still going at the slow one
    assert len(receiver.heard("/slow/tortoise")) <= 8
    assert sorted(json.loads(h["body"])["id"] for h in hare) == sorted({json.loads(h["body"])["id"] for h in hare})


VERIFY_TS = """
import { verifyWebhook, verifyMcpSignature, WebhookVerificationError } from "%s";
const { secret, headers, body } = JSON.parse(process.argv[2]);
const event = await verifyWebhook(secret, body, headers);
const plainHeaders = new Headers(headers);
const viaHeaders = await verifyWebhook(secret, new TextEncoder().encode(body), plainHeaders);
const mcp = await verifyMcpSignature(secret, body, headers["X-MCP-Signature"], headers["webhook-timestamp"]);
const forged = await verifyMcpSignature(secret, body + " ", headers["X-MCP-Signature"], headers["webhook-timestamp"]);
let stale = "accepted";
try {
  await verifyWebhook(secret, body, headers, { now: Number(headers["webhook-timestamp"]) + 301 });
} catch (error) {
  stale = error instanceof WebhookVerificationError ? error.message : String(error);
}
let tampered = "accepted";
try {
  await verifyWebhook(secret, body.replace('"isError":false', '"isError":true'), headers);
} catch (error) {
  tampered = error instanceof WebhookVerificationError ? error.message : String(error);
}
const same = JSON.stringify(event) === JSON.stringify(viaHeaders);
console.log(JSON.stringify({ event, same, mcp, forged, stale, tampered }));
"""


def test_the_generated_typescript_helpers_verify_a_delivery_and_refuse_forgeries_and_replays(
    api: Api, receiver: Receiver, tmp_path: Path
) -> None:
    made = api.subscribe(url=receiver.url("/ok/typescript"), types=["tool.call.finished"])
    api.call("typescript")
    (heard,) = _one(receiver, "/ok/typescript")
    source = ROOT / "generated" / "typescript" / "mcp-bridge-client" / "src" / "webhooks.ts"
    script = tmp_path / "verify.mts"
    script.write_text(VERIFY_TS % source.as_uri(), encoding="utf-8")
    given = json.dumps({"secret": made["secret"], "headers": heard["headers"], "body": heard["body"]})
    done = subprocess.run(
        [str(NODE), "--experimental-strip-types", "--no-warnings", str(script), given],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["event"] == json.loads(heard["body"])
    assert (found["same"], found["mcp"], found["forged"]) == (True, True, False)
    assert found["stale"] == "the timestamp is too far from now (a replay, or a wrong clock)"
    assert found["tampered"] == "no signature matches"
