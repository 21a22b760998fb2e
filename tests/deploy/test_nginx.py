"""Three ``mcp-bridge serve`` processes on one store behind a real nginx running the shipped config.

What the deployment guide promises: calls are spread over every instance, a registration made
through the balancer is kept in the shared store, a 2025-era MCP session's requests reach one
instance (so its client's answer to a question asked mid-call reaches the call), and when one
instance is killed (``kill -9``) only the requests in flight on it fail: nginx never sends a
POST twice, and sends later requests to the instances left.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
import requests
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from websockets.sync.client import connect

from harness import poll, running_nginx
from tests.deploy.killed import only_in_flight_failed
from tests.events.sse import Message, SseClient
from tests.servers.launch import RICH_SERVER
from tests.support import ROOT, BridgeProcess, bridge_process

KEY = "nginx-key"
ADMIN = "nginx-admin-key"
INSTANCES = 3
RELAY = {"command": sys.executable, "args": ["-m", "tests.servers.relay_server", "--legacy"], "cwd": str(ROOT)}
SERVERS = {
    "mcpServers": {
        "rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio", "--name", "rich"]},
        "relay": RELAY,  # a 2025-era server whose tool asks its caller mid-call
    }
}
#: What every instance seals 2025-era session ids with, so that any of them serves any session.
SESSION_SECRET = "one secret for every instance behind the balancer, 56 bytes"
#: Client threads sending calls one after another while an instance is killed.
LOAD_THREADS = 8


@dataclass
class Deployment:
    url: str
    instances: list[BridgeProcess]
    store: Path


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("deploy")
    store = root / "store.db"
    secret = root / "session-secret"
    secret.write_text(SESSION_SECRET)
    args = ("--api-key", KEY, "--admin-key", ADMIN, "--allow-stdio-registration", "--registry", str(store))
    args += ("--session-secret-file", str(secret))
    with ExitStack() as stack:
        # One at a time: the first creates and migrates the store the others open.
        instances = [stack.enter_context(bridge_process(root / f"b{i}", SERVERS, *args)) for i in range(INSTANCES)]
        ports = [int(b.url.rsplit(":", 1)[1]) for b in instances]
        port, _ = stack.enter_context(running_nginx(root / "nginx", ports))
        yield Deployment(f"http://127.0.0.1:{port}", instances, store)


def call(url: str, tool: str, arguments: dict[str, Any], session: Any = requests) -> requests.Response:
    return session.post(f"{url}/servers/rich/tools/{tool}", json=arguments, headers={"X-API-Key": KEY}, timeout=30)


def upstream_pid(url: str) -> int:
    response = call(url, "pid", {})
    assert response.status_code == 200, response.text
    return int(response.json()["structuredContent"]["result"])


def test_tool_calls_through_nginx_are_spread_over_all_three_instances(deployment: Deployment) -> None:
    own = {upstream_pid(b.url) for b in deployment.instances}  # each instance runs its own rich server
    assert len(own) == INSTANCES
    seen = [upstream_pid(deployment.url) for _ in range(INSTANCES * 4)]
    assert set(seen) == own
    assert all(seen.count(pid) >= 2 for pid in own)  # round robin, not one favourite


def test_a_2025_session_s_answers_to_mid_call_questions_reach_the_instance_holding_the_call(
    deployment: Deployment,
) -> None:
    """Each call asks its caller a question on the call's own stream; the answer is a POST of its own,
    which round robin would send to another instance, where no call awaits it."""
    asked: list[str] = []

    async def elicit(_ctx: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"answer": f"Ada {len(asked)}"})

    async def run() -> list[str]:
        async with (
            create_mcp_http_client(headers={"X-API-Key": KEY}) as http,
            Client(
                streamable_http_client(f"{deployment.url}/mcp", http_client=http),
                mode="legacy",
                elicitation_callback=elicit,
            ) as client,
        ):
            answers = []
            for n in range(1, 7):
                result = await asyncio.wait_for(client.call_tool("relay.ask", {"question": f"Name {n}?"}), 20)
                answers.append(result.content[0].text if isinstance(result.content[0], types.TextContent) else "")
            return answers

    assert asyncio.run(run()) == [f"Name {n}? -> Ada {n}" for n in range(1, 7)]
    assert asked == [f"Name {n}?" for n in range(1, 7)]


def test_an_event_stream_through_nginx_arrives_unbuffered(deployment: Deployment) -> None:
    with requests.get(f"{deployment.url}/mcp/stream", headers={"X-API-Key": KEY}, stream=True, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        # The stream's opening lines arrive while it stays open: nginx passes it unbuffered.
        assert [next(lines), next(lines)] == [b"retry: 3000", b": stream open"]


def test_a_websocket_through_nginx_is_upgraded_and_answers_calls(deployment: Deployment) -> None:
    url = deployment.url.replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers={"X-API-Key": KEY}, open_timeout=10) as ws:
        for request_id in (1, 2):
            params = {"name": "rich.echo", "arguments": {"text": f"over nginx {request_id}"}}
            ws.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}))
            answer = json.loads(ws.recv(timeout=10))
            assert answer["id"] == request_id
            assert answer["result"]["content"] == [{"type": "text", "text": f"over nginx {request_id}"}]


def test_the_callers_request_id_reaches_the_bridge_and_nginx_makes_one_when_it_sent_none(
    deployment: Deployment,
) -> None:
    streams = [
        SseClient(b.url, "/mcp/stream?type=tool.call.started", {"X-API-Key": KEY}, timeout=10)
        for b in deployment.instances
    ]
    try:
        for stream in streams:  # each follows the feed once its opening comment has arrived
            with pytest.raises(TimeoutError):
                stream.next(timeout=0.3)
        sent = requests.post(
            f"{deployment.url}/servers/rich/tools/echo",
            json={"text": "a"},
            headers={"X-API-Key": KEY, "X-Request-Id": "caller-chosen-17"},
            timeout=30,
        )
        made = call(deployment.url, "echo", {"text": "b"})
        assert (sent.status_code, made.status_code) == (200, 200)
        ids = set()
        for _ in range(2):
            ids.add(next(_started(streams)).data["data"]["requestId"])
    finally:
        for stream in streams:
            stream.close()
    assert "caller-chosen-17" in ids
    (nginx_made,) = ids - {"caller-chosen-17"}
    assert re.fullmatch(r"[0-9a-f]{32}", nginx_made)  # nginx's $request_id


def _started(streams: list[SseClient]) -> Iterator[Message]:
    """The next call started on any of ``streams``, asking each in turn."""
    while True:
        for stream in streams:
            try:
                yield stream.next(timeout=0.2)
            except TimeoutError:
                continue


def test_a_registration_through_nginx_is_answered_and_kept_in_the_shared_store(deployment: Deployment) -> None:
    body = {"name": "extra", "transport": "stdio", "command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}
    response = requests.post(
        f"{deployment.url}/servers", json=body, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "extra"
    with closing(sqlite3.connect(deployment.store)) as db:
        names = {name for (name,) in db.execute("SELECT name FROM registrations")}
    assert "extra" in names


def test_a_registration_through_nginx_is_live_on_every_instance_within_a_second(deployment: Deployment) -> None:
    body = {"name": "live", "transport": "stdio", "command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}
    response = requests.post(
        f"{deployment.url}/servers", json=body, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60
    )
    assert response.status_code == 201, response.text

    def everywhere() -> bool:
        answers = [
            requests.get(f"{b.url}/servers/live", headers={"X-API-Key": KEY}, timeout=5) for b in deployment.instances
        ]
        return all(a.status_code == 200 for a in answers)

    poll(everywhere, 1.0, what="the registration on every instance")


@dataclass(frozen=True)
class Sent:
    began: float
    ended: float
    status: int
    body: bytes
    content_type: str


def under_load(url: str) -> tuple[list[Sent], threading.Event, list[threading.Thread]]:
    """``LOAD_THREADS`` threads sending 0.3 s calls through ``url`` until the event is set."""
    sent: list[Sent] = []
    stop = threading.Event()

    def load() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                began = time.monotonic()
                response = call(url, "slow", {"seconds": 0.3}, session)
                ended = time.monotonic()
                sent.append(
                    Sent(began, ended, response.status_code, response.content, response.headers["content-type"])
                )

    threads = [threading.Thread(target=load) for _ in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    return sent, stop, threads


def stop_load(stop: threading.Event, threads: list[threading.Thread]) -> None:
    stop.set()
    for thread in threads:
        thread.join(30)


def test_sigterm_to_one_instance_under_load_loses_no_request(deployment: Deployment) -> None:
    """A rolling restart's step: the instance drains, nginx sends the rest to the others. Runs
    before the kill test: both take an instance out."""
    sent, stop, threads = under_load(deployment.url)
    try:
        poll(lambda: len(sent) >= 30, 30, what="calls under way through nginx")
        leaving = deployment.instances[0].process
        leaving.popen.send_signal(signal.SIGTERM)
        assert leaving.popen.wait(30) == 0, leaving.log_text()
        before = len(sent)
        poll(lambda: len(sent) >= before + 40, 30, what="calls after the instance left")
    finally:
        stop_load(stop, threads)
    assert [s for s in sent if s.status != 200] == []


def test_kill_9_of_one_instance_under_load_fails_only_the_requests_in_flight_on_it(deployment: Deployment) -> None:
    """Runs last in this module: it kills an instance."""
    sent, stop, threads = under_load(deployment.url)
    try:
        poll(lambda: len(sent) >= 30, 30, what="calls under way through nginx")
        victim = deployment.instances[1].process
        killed = time.monotonic()
        victim.popen.send_signal(signal.SIGKILL)
        victim.popen.wait(10)
        dead = time.monotonic()  # its sockets are closed once it is reaped
        before = len(sent)
        poll(lambda: len(sent) >= before + 40, 30, what="calls after the kill")
    finally:
        stop_load(stop, threads)

    failed = only_in_flight_failed(sent, killed, dead, at_most=LOAD_THREADS, statuses=(502,), later=40)
    for s in failed:
        assert s.content_type == "application/problem+json"
        assert s.body.startswith(b'{"type":"about:blank","title":"Bad Gateway","status":502,')
