"""Where a webhook may not go: loopback, private, link-local and other non-global addresses are
refused when subscribed unless the operator allows them, and again at delivery, for a
subscription made while they were allowed (or whose name now resolves elsewhere)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support import BridgeProcess, bridge_process, problem
from tests.webhooks.conftest import ADMIN, DELAYS, RICH, USER, Api, Receiver


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with bridge_process(tmp_path_factory.mktemp("strict"), RICH, "--admin-key", ADMIN) as running:
        yield Api(running)


def test_a_loopback_url_is_refused_without_the_option_with_a_pointer_at_the_url(strict: Api) -> None:
    answer = strict("POST", "/webhooks", {"url": "http://127.0.0.1:9/hook"})
    assert answer.status_code == 400
    message = (
        "127.0.0.1 resolves to 127.0.0.1, a loopback, private, link-local or reserved address;"
        " the operator has not allowed those (serve --allow-private-webhooks)"
    )
    assert problem(answer) == {
        "type": "https://mcp-rest-bridge.dev/problems/invalid-request",
        "title": "Request is invalid",
        "status": 400,
        "detail": f"/body/url: {message}",
        "errors": [{"pointer": "/body/url", "message": message}],
        "instance": "/webhooks",
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://100.64.0.1/hook",
        "https://224.0.0.1/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_link_local_and_reserved_targets_are_refused(strict: Api, url: str) -> None:
    answer = strict("POST", "/webhooks", {"url": url})
    assert answer.status_code == 400, answer.text
    assert [e["pointer"] for e in answer.json()["errors"]] == ["/body/url"]


def test_a_name_that_does_not_resolve_is_refused(strict: Api) -> None:
    answer = strict("POST", "/webhooks", {"url": "http://no-such-host.invalid/hook"})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["message"].startswith("cannot resolve no-such-host.invalid")


def test_delivery_checks_again_and_refuses_what_the_operator_no_longer_allows(
    tmp_path: Path, receiver: Receiver
) -> None:
    registry = tmp_path / "registry.db"
    common = ["--registry", str(registry), "--admin-key", ADMIN, "--api-key", USER, "--webhook-retry-delays", DELAYS]
    with bridge_process(tmp_path, RICH, *common, "--allow-private-webhooks") as lenient:
        made = Api(lenient).subscribe(url=receiver.url("/ok/rebound"), types=["tool.call.finished"])
    with bridge_process(tmp_path, RICH, *common) as strict:
        api = Api(strict)
        api.call()
        (failed,) = api.settled(made["id"], 1, "failed")
        assert failed["lastStatus"] is None
        assert failed["lastError"].startswith("127.0.0.1 resolves to 127.0.0.1, a loopback")
    assert receiver.heard("/ok/rebound") == []


def test_loopback_is_allowed_with_the_option(api: Api, receiver: Receiver, bridge: BridgeProcess) -> None:
    made = api.subscribe(url=receiver.url("/ok/allowed"), types=["tool.call.finished"])
    api.call()
    api.settled(made["id"], 1, "delivered")
    assert requests.get(bridge.url + "/healthz", timeout=5).status_code == 200
