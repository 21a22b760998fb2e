"""Upstream credentials end to end: a real bridge, a real token endpoint, a real MCP server that checks tokens.

The bridge gets tokens by the client credentials grant and renews them before they expire; a
revoked token is renewed once and the call sent once more; a wrong client secret is an honest
503; the caller's subject, and its own token, reach only a server configured for them; secrets
come from files and the environment and never reach the bridge's log or its answers.
"""

from __future__ import annotations

import hashlib
import time

from harness import poll
from tests.servers.guarded_server import fingerprint
from tests.upstream_auth.conftest import ADMIN, CLIENTS, SECRETS, SUBJECT_HEADER, USER, Setup

#: The subject the bridge gives a caller with the USER key (``StaticKeys``: a fingerprint, never the key).
USER_SUBJECT = "key:" + hashlib.sha256(USER.encode()).hexdigest()[:12]


def _whoami(setup: Setup, server: str) -> dict[str, str | None]:
    answer = setup.call("POST", f"/servers/{server}/tools/whoami", {})
    assert answer.status_code == 200, answer.text
    seen: dict[str, str | None] = answer.json()["structuredContent"]
    return seen


def test_the_bridge_fetches_a_token_with_the_configured_fields_and_calls_with_it(setup: Setup) -> None:
    answer = setup.call("POST", "/servers/plain/tools/echo", {"text": "hello"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["content"] == [{"type": "text", "text": "hello"}]
    # One token served the handshake, the listings and the call.
    assert setup.endpoint.issued("plain") == 1
    assert setup.endpoint.clients["plain"].asked == [
        {
            "grant_type": "client_credentials",
            "client_id": "plain",  # clientAuth "post": the client in the form, its secret too (left out here)
            "scope": "tools:call tools:list",
            "audience": "guarded-upstream",
            "resource": setup.upstream,
        }
    ]


def test_a_token_is_renewed_before_it_expires_so_the_upstream_never_sees_an_expired_one(setup: Setup) -> None:
    lifetime = CLIENTS["short"][1]
    first = setup.endpoint.issued("short")
    assert first >= 1

    def renewed_twice() -> bool:
        answer = setup.call("POST", "/servers/short/tools/echo", {"text": "again"})
        assert answer.status_code == 200, answer.text
        return setup.endpoint.issued("short") >= first + 2

    started = time.monotonic()
    poll(renewed_twice, 6 * lifetime, what="two more tokens for the short-lived client")
    assert time.monotonic() - started >= lifetime  # two renewals take at least one lifetime
    assert setup.endpoint.refused("short") == 0


def test_a_revoked_token_is_renewed_once_and_the_call_sent_once_more(setup: Setup) -> None:
    assert setup.call("POST", "/servers/subject/tools/echo", {"text": "before"}).status_code == 200
    issued = setup.endpoint.issued("subject")
    setup.endpoint.revoke("subject")

    answer = setup.call("POST", "/servers/subject/tools/echo", {"text": "after"})

    assert answer.status_code == 200, answer.text
    assert answer.json()["content"] == [{"type": "text", "text": "after"}]
    assert setup.endpoint.issued("subject") == issued + 1
    assert setup.endpoint.refused("subject") == 1


def test_a_wrong_client_secret_answers_503_at_once_with_the_token_endpoints_reason(setup: Setup) -> None:
    started = time.monotonic()
    answer = setup.call("POST", "/servers/wrong/tools/echo", {"text": "hello"})
    took = time.monotonic() - started

    assert answer.status_code == 503, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert int(answer.headers["Retry-After"]) >= 1
    problem = answer.json()
    reason = f"the token endpoint {setup.endpoint.url}/token refused the client credentials: invalid_client"
    assert problem["detail"].startswith("server 'wrong' is down: ")
    assert reason in problem["detail"]
    assert took < 5.0
    server = setup.call("GET", "/servers/wrong").json()
    assert server["status"] == "down"
    assert reason in server["lastError"]


def test_a_legacy_sse_server_gets_the_token_and_the_subject_too(setup: Setup) -> None:
    answer = setup.call("POST", "/servers/legacy/tools/echo", {"text": "old"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["content"] == [{"type": "text", "text": "old"}]
    assert setup.endpoint.issued("legacy") == 1
    assert _whoami(setup, "legacy")["subject"] == USER_SUBJECT


def test_credentials_that_stop_working_mid_session_answer_503_and_the_server_goes_down(setup: Setup) -> None:
    assert setup.call("POST", "/servers/rotated/tools/echo", {"text": "before"}).status_code == 200
    setup.endpoint.clients["rotated"].secret = "rotated-at-the-identity-provider"
    setup.endpoint.revoke("rotated")

    started = time.monotonic()
    answer = setup.call("POST", "/servers/rotated/tools/echo", {"text": "after"})

    assert answer.status_code == 503, answer.text
    assert time.monotonic() - started < 5.0
    reason = f"the token endpoint {setup.endpoint.url}/token refused the client credentials: invalid_client"

    def down() -> dict[str, str] | None:
        server: dict[str, str] = setup.call("GET", "/servers/rotated").json()
        return server if server["status"] == "down" and reason in (server["lastError"] or "") else None

    poll(down, 10, what="server 'rotated' down with the token endpoint's reason")
    # Attempts back off (0.5 s, 1 s, 2 s, ...): within 3 s, a handful of token requests, not a storm.
    denied = setup.endpoint.clients["rotated"].denied
    time.sleep(3)  # a span of time is what is measured here, not a condition awaited
    assert setup.endpoint.clients["rotated"].denied - denied <= 4


def test_the_callers_subject_reaches_only_a_server_configured_to_hear_it(setup: Setup) -> None:
    assert _whoami(setup, "subject")["subject"] == USER_SUBJECT
    assert _whoami(setup, "plain")["subject"] is None


def test_the_callers_own_token_goes_only_to_a_server_configured_for_it(setup: Setup) -> None:
    setup.endpoint.accept(USER)  # the upstream trusts the caller's key as the bridge's users do

    forwarded = _whoami(setup, "forward")
    own = _whoami(setup, "subject")

    assert forwarded == {"subject": USER_SUBJECT, "token": fingerprint(USER)}
    issued = {fingerprint(token) for token in setup.endpoint.issued_tokens()}
    assert own["token"] in issued  # the bridge's own token, never the caller's


def test_a_server_registered_over_rest_takes_client_credentials_and_a_subject_header(setup: Setup) -> None:
    secret = CLIENTS["registered"][0]
    body = {
        "name": "registered",
        "url": setup.upstream,
        "transport": "http",
        "authentication": {
            "type": "oauth2-client-credentials",
            "tokenUrl": setup.endpoint.url + "/token",
            "clientId": "registered",
            "clientSecret": secret,
        },
        "identity": {"subjectHeader": SUBJECT_HEADER},
    }
    answer = setup.call("POST", "/servers", body, key=ADMIN)
    try:
        assert answer.status_code == 201, answer.text
        assert secret not in answer.text
        assert answer.json()["status"] == "ready"
        assert setup.endpoint.issued("registered") == 1
        assert _whoami(setup, "registered")["subject"] == USER_SUBJECT
    finally:
        setup.call("DELETE", "/servers/registered", key=ADMIN)


def test_a_registration_may_not_read_files_or_collect_callers_tokens(setup: Setup) -> None:
    body = {
        "name": "greedy",
        "url": setup.upstream,
        "transport": "http",
        "identity": {"subjectHeader": SUBJECT_HEADER, "forwardCallerToken": True},
    }
    answer = setup.call("POST", "/servers", body, key=ADMIN)
    assert answer.status_code == 400, answer.text
    assert [e["pointer"] for e in answer.json()["errors"]] == ["/body/identity"]

    body = {
        "name": "greedy",
        "url": setup.upstream,
        "transport": "http",
        "authentication": {"type": "bearer", "tokenFile": "/etc/hostname"},
    }
    answer = setup.call("POST", "/servers", body, key=ADMIN)
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["pointer"].startswith("/body/authentication")


def test_no_secret_or_token_reaches_the_bridges_log_or_its_answers(setup: Setup) -> None:
    # Make sure there is something to find: calls on every server, and a failing one.
    for server in ("subject", "short", "plain", "forward", "legacy", "rotated", "wrong"):
        setup.call("POST", f"/servers/{server}/tools/echo", {"text": "x"})
    answers = [setup.call("GET", "/servers").text, setup.call("GET", "/readyz").text]
    answers += [setup.call("GET", f"/servers/{name}").text for name in ("subject", "legacy", "rotated", "wrong")]
    log = setup.bridge.log()
    assert "upstream wrong" in log  # the failure is logged, with its reason ...
    secrets = SECRETS + setup.endpoint.issued_tokens()
    assert len(secrets) > len(SECRETS)
    for secret in secrets:  # ... and no secret anywhere
        assert secret not in log
        for text in answers:
            assert secret not in text
