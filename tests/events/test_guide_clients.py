"""The guide's event clients as they run for a user: ``MCPWebSocketClient`` verbatim in Node on the
npm ``ws`` package, and pages in headless Chromium, served over 127.0.0.1 from another origin the
bridge allows, receiving events through ``new EventSource`` with a ticket and talking over ``/ws``."""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from harness import LOOPBACK, free_port, poll, serving
from tests.events.conftest import KEYS, USER, call, servers
from tests.examples.guide import GUIDE
from tests.generator.npm import NODE, node
from tests.support import ROOT, BridgeProcess, bridge_process

#: Where the npm `ws` package is installed (tests/npm/package.json pins it).
NODE_MODULES = ROOT / "tests" / "npm" / "node_modules"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def run_node(script: Path, cwd: Path, **env: str) -> Any:
    assert NODE.exists(), "tests/npm's node is not installed (make installs it)"
    return node(script, cwd, {"NODE_PATH": str(NODE_MODULES), **env})


def test_the_guides_class_calls_the_demo_over_the_websocket_with_a_ticket(live: BridgeProcess, tmp_path: Path) -> None:
    ran = run_node(GUIDE / "websocket_client.js", tmp_path, MCP_BRIDGE_URL=live.url, MCP_API_KEY=USER)
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    result = json.loads(lines[0].removeprefix("Result: "))
    assert (result["kind"], result["words"], result["value"]) == ("text", 2, "test data")
    assert lines[1] == "Eight at once: " + ", ".join(f"item {i}" for i in range(8))


DRIVER = """
const { MCPWebSocketClient, socketUrl } = require(process.env.EXAMPLE);
(async () => {
  const client = new MCPWebSocketClient(await socketUrl());
  await new Promise((resolve) => client.ws.once('open', resolve));
  const order = [];
  const started = Date.now();
  await Promise.all(Array.from({ length: 8 }, (_, i) =>
    client.callTool('events.sleep_ms', { ms: 100 + (7 - i) * 60, label: `call ${i}` })
      .then((result) => order.push(result.structuredContent.result))));
  console.log(JSON.stringify({ order, ms: Date.now() - started }));
  client.ws.close();
})().catch((error) => { console.error(error); process.exit(1); });
"""


def test_the_guides_class_has_eight_calls_in_flight_answered_as_each_completes(
    live: BridgeProcess, tmp_path: Path
) -> None:
    driver = tmp_path / "eight.js"
    driver.write_text(DRIVER, encoding="utf-8")
    ran = run_node(
        driver, tmp_path, MCP_BRIDGE_URL=live.url, MCP_API_KEY=USER, EXAMPLE=str(GUIDE / "websocket_client.js")
    )
    assert ran.returncode == 0, ran.stderr
    outcome = json.loads(ran.stdout)
    assert outcome["order"] == [f"call {i}" for i in range(7, -1, -1)]
    assert outcome["ms"] < 1500  # one after another would take 4.5 s


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    """examples/guide served over 127.0.0.1: the pages' origin, which is not the bridge's."""
    handler = functools.partial(_QuietFiles, directory=str(GUIDE))
    with serving(ThreadingHTTPServer((LOOPBACK, free_port()), handler)) as server:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def allowing(tmp_path_factory: pytest.TempPathFactory, pages: str) -> Iterator[BridgeProcess]:
    """A bridge that allows the pages' origin."""
    tmp = tmp_path_factory.mktemp("browser-bridge")
    with bridge_process(tmp, servers(tmp), *KEYS, "--allowed-origin", pages) as bridge:
        yield bridge


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    assert not missing, f"not installed: {missing}; .ci/run installs Debian's chromium and chromium-driver"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def new_ticket(bridge: BridgeProcess) -> str:
    answer = requests.post(f"{bridge.url}/mcp/stream/tickets", headers={"X-API-Key": USER}, timeout=10)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["ticket"])


def test_the_guides_event_source_receives_events_with_a_ticket(
    allowing: BridgeProcess, pages: str, browser: Any
) -> None:
    browser.get(f"{pages}/events.html?bridge={quote(allowing.url)}&ticket={quote(new_ticket(allowing))}")

    # The stream is open once the server's lifecycle is all the log has to say: call until heard.
    def heard() -> list[Any]:
        call(allowing, "echo", {"text": "to the page"})
        received: list[Any] = browser.execute_script("return window.received")
        return [e for e in received if e["type"] == "tool.call.finished"]

    finished = poll(heard, 15, interval=0.3, what="a finished call on the page")
    assert browser.execute_script("return window.errors") == []
    assert (finished[0]["event"], finished[0]["tool"], finished[0]["server"]) == ("tool_executed", "echo", "events")
    assert "Received event: {" in browser.execute_script("return document.getElementById('received').textContent")


def test_the_event_source_of_a_page_without_a_ticket_is_refused(
    allowing: BridgeProcess, pages: str, browser: Any
) -> None:
    browser.get(f"{pages}/events.html?bridge={quote(allowing.url)}")
    errors = poll(lambda: browser.execute_script("return window.errors"), 15, what="the page's SSE error")
    assert errors == ["SSE error:"]


def test_a_page_calls_a_tool_and_hears_its_event_over_the_websocket(
    allowing: BridgeProcess, pages: str, browser: Any
) -> None:
    query = f"bridge={quote(allowing.url)}&ticket={quote(new_ticket(allowing))}&tool=events.echo"
    browser.get(f"{pages}/websocket.html?{query}&arguments={quote(json.dumps({'text': 'from the page'}))}")

    def both() -> list[Any]:
        received: list[Any] = browser.execute_script("return window.received")
        ids = {m.get("id") for m in received}
        events = [m for m in received if m.get("method") == "notifications/event"]
        return received if {"subscribe", "call"} <= ids and events else []

    received = poll(both, 15, what="the call's answer and its event on the page")
    assert browser.execute_script("return window.protocol") == "mcp-bridge"
    answer = next(m for m in received if m.get("id") == "call")
    assert answer["result"]["structuredContent"] == {"result": "from the page"}
    event = next(m for m in received if m.get("method") == "notifications/event")["params"]
    assert (event["type"], event["tool"], event["subscription"]) == ("tool.call.finished", "echo", "sub-1")


def test_a_page_offering_its_key_as_a_subprotocol_gets_the_plain_one_selected(
    allowing: BridgeProcess, pages: str, browser: Any
) -> None:
    browser.get(
        f"{pages}/websocket.html?bridge={quote(allowing.url)}&key={USER}&tool=events.echo&arguments=%7B%22text%22%3A%22k%22%7D"
    )
    poll(lambda: browser.execute_script("return window.protocol"), 15, what="the socket open")
    assert browser.execute_script("return window.protocol") == "mcp-bridge"
