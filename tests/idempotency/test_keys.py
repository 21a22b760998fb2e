"""Idempotency-Key on tool calls, over a real bridge process and a real MCP server that counts its runs."""

from __future__ import annotations

import concurrent.futures
import itertools
from typing import Any

import pytest
import requests

from harness import poll
from tests.idempotency.conftest import Caller, Ledger, new_key
from tests.support import problem

PROBLEMS = "https://mcp-rest-bridge.dev/problems/"
_amounts = itertools.count(1000)


def amount() -> int:
    """An amount no other test pays, so the ledger tells this test's runs apart."""
    return next(_amounts)


def same_answer(first: requests.Response, again: requests.Response) -> None:
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


@pytest.mark.parametrize("path", ["/servers/ledger/tools/pay", "/tools/pay", "/tools/ledger.pay"])
def test_a_call_sent_twice_with_one_key_runs_once_and_is_answered_alike(
    alice: Caller, ledger: Ledger, path: str
) -> None:
    key, paid = new_key(), amount()
    first = alice.call(path, {"amount": paid}, key)
    assert first.status_code == 200, first.text
    again = alice.call(path, {"amount": paid}, key)
    same_answer(first, again)
    assert ledger.runs("pay", paid) == 1


def test_without_a_key_every_call_runs(alice: Caller, ledger: Ledger) -> None:
    paid = amount()
    for _ in range(2):
        answer = alice.call("/servers/ledger/tools/pay", {"amount": paid})
        assert answer.status_code == 200, answer.text
        assert "Idempotent-Replayed" not in answer.headers
    assert ledger.runs("pay", paid) == 2


def test_the_body_is_compared_as_json_not_as_bytes(alice: Caller, ledger: Ledger) -> None:
    key, paid = new_key(), amount()
    url = alice.bridge.url + "/servers/ledger/tools/pay"
    headers = {"Authorization": f"Bearer {alice.api_key}", "Content-Type": "application/json", "Idempotency-Key": key}
    first = requests.post(url, data=f'{{"amount": {paid}, "to": "shop"}}', headers=headers, timeout=30)
    again = requests.post(url, data=f'{{ "to":"shop","amount":{paid} }}', headers=headers, timeout=30)
    same_answer(first, again)
    assert ledger.runs("pay", paid) == 1


def test_a_quoted_key_and_the_same_bare_key_are_one_key(alice: Caller, ledger: Ledger) -> None:
    key, paid = new_key(), amount()
    first = alice.call("/servers/ledger/tools/pay", {"amount": paid}, f'"{key}"')
    again = alice.call("/servers/ledger/tools/pay", {"amount": paid}, key)
    same_answer(first, again)
    assert ledger.runs("pay", paid) == 1


def test_the_same_key_with_other_arguments_is_422_and_runs_nothing(alice: Caller, ledger: Ledger) -> None:
    key, paid, other = new_key(), amount(), amount()
    assert alice.call("/servers/ledger/tools/pay", {"amount": paid}, key).status_code == 200
    reused = alice.call("/servers/ledger/tools/pay", {"amount": other}, key)
    assert reused.status_code == 422
    assert reused.headers["Content-Type"] == "application/problem+json"
    assert problem(reused) == {
        "type": PROBLEMS + "idempotency-key-reused",
        "title": "The Idempotency-Key was used for another request",
        "status": 422,
        "detail": "this Idempotency-Key was sent with another request (another tool or other arguments); "
        "use a new key for a new request",
        "instance": "/servers/ledger/tools/pay",
    }
    assert ledger.runs("pay", other) == 0
    assert alice.call("/servers/ledger/tools/pay", {"amount": paid}, key).headers["Idempotent-Replayed"] == "true"


def test_the_same_key_for_another_tool_is_422(alice: Caller) -> None:
    key = new_key()
    assert alice.call("/servers/ledger/tools/pay", {"amount": amount()}, key).status_code == 200
    assert alice.call("/servers/ledger/tools/refuse", {"reason": "x"}, key).status_code == 422
    assert alice.call("/servers/ledger/tools/refuse", {"reason": "x"}, key).json()["type"] == (
        PROBLEMS + "idempotency-key-reused"
    )


def test_a_duplicate_while_the_first_runs_is_409_then_gets_the_first_answer(alice: Caller, ledger: Ledger) -> None:
    key, paid = new_key(), amount()
    body = {"amount": paid, "seconds": 3}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(alice.call, "/servers/ledger/tools/slow_pay", body, key)
        poll(lambda: ledger.runs("slow_pay_started", paid), 10, what="the tool running")
        duplicate = alice.call("/servers/ledger/tools/slow_pay", body, key)
        answered = first.result(30)
    assert (answered.status_code, duplicate.status_code) == (200, 409), duplicate.text
    assert duplicate.headers["Retry-After"] == "1"
    assert problem(duplicate) == {
        "type": PROBLEMS + "idempotency-key-in-flight",
        "title": "A request with this Idempotency-Key is still being answered",
        "status": 409,
        "detail": "the first request with this Idempotency-Key is still being answered; send it again shortly",
        "instance": "/servers/ledger/tools/slow_pay",
    }
    same_answer(answered, alice.call("/servers/ledger/tools/slow_pay", body, key))
    assert ledger.runs("slow_pay", paid) == 1


def test_two_callers_with_the_same_key_do_not_collide(alice: Caller, bob: Caller, ledger: Ledger) -> None:
    key, paid, other = new_key(), amount(), amount()
    first = alice.call("/servers/ledger/tools/pay", {"amount": paid}, key)
    theirs = bob.call("/servers/ledger/tools/pay", {"amount": other}, key)
    assert (first.status_code, theirs.status_code) == (200, 200)
    assert "Idempotent-Replayed" not in theirs.headers
    assert ledger.runs("pay", paid) == ledger.runs("pay", other) == 1
    same_answer(theirs, bob.call("/servers/ledger/tools/pay", {"amount": other}, key))


def test_a_tool_error_is_kept_and_replayed(alice: Caller, ledger: Ledger) -> None:
    key, reason = new_key(), f"reason-{amount()}"
    first = alice.call("/servers/ledger/tools/refuse", {"reason": reason}, key)
    assert first.status_code == 422
    assert first.json()["type"] == PROBLEMS + "tool-error"
    again = alice.call("/servers/ledger/tools/refuse", {"reason": reason}, key, headers={"X-Request-Id": "replay-1"})
    same_answer(first, again)
    assert ledger.runs("refuse", reason) == 1
    # The replay is the first request's answer, the request its problem names included; the header names this one.
    assert again.json()["requestId"] == first.headers["X-Request-Id"]
    assert again.headers["X-Request-Id"] == "replay-1"


def test_a_refusal_before_the_tool_ran_is_not_kept(alice: Caller, ledger: Ledger) -> None:
    key = new_key()
    wrong = alice.call("/servers/ledger/tools/pay", {"amount": -1}, key)
    assert wrong.status_code == 400
    again = alice.call("/servers/ledger/tools/pay", {"amount": -1}, key)
    assert again.status_code == 400
    assert "Idempotent-Replayed" not in again.headers
    assert ledger.runs("pay", -1) == 0


def test_the_flask_route_keeps_and_replays_as_the_fast_one_does(alice: Caller, ledger: Ledger) -> None:
    # A query string sends a tool call through Flask rather than the loop's own route.
    key, paid = new_key(), amount()
    first = alice.call("/servers/ledger/tools/pay?via=flask", {"amount": paid}, key)
    assert first.status_code == 200, first.text
    same_answer(first, alice.call("/servers/ledger/tools/pay?via=flask", {"amount": paid}, key))
    reused = alice.call("/servers/ledger/tools/pay?via=flask", {"amount": amount()}, key)
    assert reused.status_code == 422
    assert reused.json()["type"] == PROBLEMS + "idempotency-key-reused"
    assert ledger.runs("pay", paid) == 1


def test_the_flask_route_keeps_a_tool_error(alice: Caller, ledger: Ledger) -> None:
    key, reason = new_key(), f"flask-{amount()}"
    first = alice.call("/servers/ledger/tools/refuse?via=flask", {"reason": reason}, key)
    assert first.status_code == 422
    same_answer(first, alice.call("/servers/ledger/tools/refuse?via=flask", {"reason": reason}, key))
    assert ledger.runs("refuse", reason) == 1


BAD_KEYS: list[tuple[Any, str]] = [
    ('""', "the Idempotency-Key is empty"),
    ("", "the Idempotency-Key is neither a quoted string of printable ASCII (RFC 8941) nor a token (RFC 9110)"),
    (
        "two words",
        "the Idempotency-Key is neither a quoted string of printable ASCII (RFC 8941) nor a token (RFC 9110)",
    ),
    (
        '"unclosed',
        "the Idempotency-Key is neither a quoted string of printable ASCII (RFC 8941) nor a token (RFC 9110)",
    ),
    ("k" * 256, "the Idempotency-Key is 256 characters long; at most 255 are taken"),
]


@pytest.mark.parametrize("path", ["/servers/ledger/tools/pay", "/servers/ledger/tools/pay?via=flask"])
@pytest.mark.parametrize(("key", "message"), BAD_KEYS)
def test_a_bad_key_is_400_pointing_at_the_header(
    alice: Caller, ledger: Ledger, path: str, key: str, message: str
) -> None:
    paid = amount()
    answer = alice.call(path, {"amount": paid}, key)
    assert answer.status_code == 400
    assert problem(answer) == {
        "type": PROBLEMS + "invalid-request",
        "title": "Request is invalid",
        "status": 400,
        "detail": message,
        "errors": [{"pointer": "/headers/Idempotency-Key", "message": message}],
        "instance": path.partition("?")[0],
    }
    assert ledger.runs("pay", paid) == 0


def test_two_key_headers_are_400(alice: Caller) -> None:
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(alice.bridge.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    connection.putrequest("POST", "/servers/ledger/tools/pay")
    body = b'{"amount": 1}'
    for name, value in [
        ("Authorization", f"Bearer {alice.api_key}"),
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Idempotency-Key", "one"),
        ("Idempotency-Key", "two"),
    ]:
        connection.putheader(name, value)
    connection.endheaders(body)
    answer = connection.getresponse()
    assert answer.status == 400
    assert b"send one Idempotency-Key header, not several" in answer.read()
    connection.close()


def test_an_async_call_sent_twice_with_one_key_is_one_call(alice: Caller, ledger: Ledger) -> None:
    """``Prefer: respond-async`` with a key: the 202 is what is kept, so a retry names the same call."""
    key, paid = new_key(), amount()
    asynchronous = {"Prefer": "respond-async"}
    first = alice.call("/servers/ledger/tools/pay", {"amount": paid}, key, headers=asynchronous)
    assert first.status_code == 202, first.text
    again = alice.call("/servers/ledger/tools/pay", {"amount": paid}, key, headers=asynchronous)
    same_answer(first, again)
    assert again.headers["Location"] == first.headers["Location"] == f"/calls/{first.json()['id']}"
    sent = {"Authorization": f"Bearer {alice.api_key}"}

    def ended() -> dict[str, Any] | None:
        call: dict[str, Any] = requests.get(
            alice.bridge.url + first.headers["Location"], headers=sent, timeout=10
        ).json()
        return call if call["state"] == "completed" else None

    poll(ended, 20, what="the call completed")
    assert ledger.runs("pay", paid) == 1
