"""Subscriptions over REST on a real bridge: made, listed, changed, deleted; bad bodies refused
with pointers; the secret shown once and nowhere else; only admin keys manage them."""

from __future__ import annotations

import re

import pytest
import requests

from tests.support import BridgeProcess, problem
from tests.webhooks.conftest import ADMIN, USER, Api, Receiver

INVALID = "https://mcp-rest-bridge.dev/problems/invalid-request"


def test_a_url_alone_subscribes_to_every_event_and_the_answer_shows_the_secret_once(
    api: Api, receiver: Receiver, bridge: BridgeProcess
) -> None:
    answer = api("POST", "/webhooks", {"url": receiver.url("/ok/crud")})
    assert answer.status_code == 201
    made = answer.json()
    api.made.append(made["id"])
    assert answer.headers["Location"] == f"/webhooks/{made['id']}"
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{32}", made["secret"])
    assert (made["types"], made["servers"], made["includePayload"], made["enabled"]) == (None, None, False, True)
    shown = {k: v for k, v in made.items() if k != "secret"}
    assert api("GET", f"/webhooks/{made['id']}").json() == shown
    listed = api("GET", "/webhooks").json()["webhooks"]
    assert shown in listed
    assert made["secret"] not in api("GET", "/webhooks").text
    assert made["secret"] not in bridge.log()


def test_a_subscription_is_changed_and_deleted(api: Api, receiver: Receiver) -> None:
    made = api.subscribe(url=receiver.url("/ok/change"), types=["tool_executed"], description="one")
    assert made["types"] == ["tool.call.finished"]  # the guide's name, as our type
    changed = api("PATCH", f"/webhooks/{made['id']}", {"servers": ["rich"], "includePayload": True})
    assert changed.status_code == 200
    body = changed.json()
    assert (body["servers"], body["includePayload"], body["description"]) == (["rich"], True, "one")
    assert api("DELETE", f"/webhooks/{made['id']}").status_code == 204
    gone = api("GET", f"/webhooks/{made['id']}")
    assert gone.status_code == 404
    assert problem(gone) == {
        "type": "https://mcp-rest-bridge.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": f"there is no webhook {made['id']!r}",
        "instance": f"/webhooks/{made['id']}",
    }


def test_unknown_event_types_are_refused_with_a_pointer_at_each(api: Api, receiver: Receiver) -> None:
    answer = api("POST", "/webhooks", {"url": receiver.url("/ok/x"), "types": ["tool.call", "tool.exploded", "nope"]})
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/problem+json"
    refused = answer.json()
    assert [e["pointer"] for e in refused["errors"]] == ["/body/types/1", "/body/types/2"]
    assert refused["type"] == INVALID
    assert refused["errors"][0]["message"].startswith("'tool.exploded' is no event type nor group (tool.call.started")


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/body"),
        ({"url": "ftp://example.com/x"}, "/body/url"),
        ({"url": "http://127.0.0.1:1/x", "colour": "red"}, "/body"),
        ({"url": "http://127.0.0.1:1/x", "includePayload": "yes"}, "/body/includePayload"),
        ({"url": "http://127.0.0.1:1/x", "servers": ["Not A Server"]}, "/body/servers/0"),
        ({"url": "http://user:pw@127.0.0.1:1/x"}, "/body/url"),
    ],
)
def test_malformed_bodies_get_400_with_a_pointer(api: Api, body: dict[str, object], pointer: str) -> None:
    answer = api("POST", "/webhooks", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"] == INVALID
    assert pointer in [e["pointer"] for e in answer.json()["errors"]]


def test_a_patch_with_nothing_to_change_and_a_body_that_is_not_json_are_refused(api: Api, receiver: Receiver) -> None:
    made = api.subscribe(url=receiver.url("/ok/patch"))
    assert api("PATCH", f"/webhooks/{made['id']}", {}).status_code == 400
    answer = requests.post(
        api.bridge.url + "/webhooks",
        data=b"{not json",
        headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["pointer"] == "/body"


def test_only_an_admin_key_manages_webhooks(api: Api, receiver: Receiver) -> None:
    answer = api("POST", "/webhooks", {"url": receiver.url("/ok/user")}, key=USER)
    assert answer.status_code == 403
    assert answer.json()["type"] == "https://mcp-rest-bridge.dev/problems/forbidden"
    assert api("GET", "/webhooks", key="wrong").status_code == 401


def test_rotating_shows_the_new_secret_once_and_says_until_when_the_old_one_signs(api: Api, receiver: Receiver) -> None:
    made = api.subscribe(url=receiver.url("/ok/rotate"))
    rotated = api("POST", f"/webhooks/{made['id']}/rotate", {"overlapSeconds": 3600}).json()
    assert rotated["secret"] != made["secret"]
    assert rotated["previousSecretExpiresAt"] is not None
    shown = api("GET", f"/webhooks/{made['id']}").json()
    assert "secret" not in shown
    assert shown["previousSecretExpiresAt"] == rotated["previousSecretExpiresAt"]
    assert rotated["secret"] not in api.bridge.log()


def test_the_delivery_log_pages_newest_first(api: Api, receiver: Receiver) -> None:
    made = api.subscribe(url=receiver.url("/ok/pages"), types=["tool.call.finished"])
    for n in range(3):
        api.call(f"page {n}")
    api.settled(made["id"], 3, "delivered")
    first = api("GET", f"/webhooks/{made['id']}/deliveries?limit=2").json()
    assert len(first["deliveries"]) == 2
    assert first["next"] == first["deliveries"][-1]["id"]
    rest = api("GET", f"/webhooks/{made['id']}/deliveries?limit=2&before={first['next']}").json()
    assert (len(rest["deliveries"]), rest["next"]) == (1, None)
    ids = [d["id"] for d in first["deliveries"] + rest["deliveries"]]
    assert ids == sorted(ids, reverse=True)
    bad = api("GET", f"/webhooks/{made['id']}/deliveries?status=lost")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["pointer"] == "/query/status"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/body"),
        ({"since": "yesterday"}, "/body/since"),
        ({"until": "2026-12-06T00:00:00"}, "/body/until"),
        ({"eventIds": ["not an id"]}, "/body/eventIds/0"),
    ],
)
def test_a_range_to_redeliver_must_say_which_events(
    api: Api, receiver: Receiver, body: dict[str, object], pointer: str
) -> None:
    made = api.subscribe(url=receiver.url("/ok/range"))
    answer = api("POST", f"/webhooks/{made['id']}/redeliver", body)
    assert answer.status_code == 400, answer.text
    assert [e["pointer"] for e in answer.json()["errors"]] == [pointer]
