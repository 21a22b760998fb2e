"""A slow authorization server holds up only the request that waits on it: what must be asked over the
network (an opaque token's introspection) is asked from a worker thread, never on the event loop
that answers every tool call."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from bridge.gate.metadata import FETCH_TIMEOUT
from harness import poll
from tests.oauth.conftest import API_KEY, ARGUMENTS, TOOL, OAuthBridge

#: How long the introspection takes: well inside the bridge's timeout, long enough to call meanwhile.
DELAY = FETCH_TIMEOUT - 0.5


def _call(bridge: OAuthBridge, credential: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {credential}"}
    return requests.post(bridge.url + TOOL, json=ARGUMENTS, headers=headers, timeout=30)


def test_other_callers_are_answered_while_a_token_is_introspected(oauth_bridge: OAuthBridge) -> None:
    server = oauth_bridge.server
    service = server.register(client_name="slow", grant_types=["client_credentials"], scope="use")
    token = server.token(service, scope="use", resource=oauth_bridge.url, token_format="opaque")
    requests.post(server.url + "/test/delay", json={"seconds": DELAY}, timeout=10)
    try:
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(_call, oauth_bridge, token)
            poll(lambda: requests.get(server.url + "/test/delay", timeout=5).json()["waiting"] == 1, 10, what="asked")
            quick = _call(oauth_bridge, API_KEY)
            assert quick.status_code == 200
            assert not slow.done()  # answered while the introspection was still under way
            assert slow.result(timeout=30).status_code == 200
    finally:
        requests.post(server.url + "/test/delay", json={"seconds": 0}, timeout=10)
