"""The generated Python clients follow the event stream (``GET /mcp/stream``) as it flows.

``client.api.stream_events(...)`` is an iterator of ``ServerSentEvent`` (``async for`` on
``AsyncClient``) that reconnects with ``Last-Event-ID`` when the connection drops: a bridge
restarted under it loses the stream no event.
"""

from __future__ import annotations

import asyncio
import json
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import free_port, poll
from tests.support import ROOT, BridgeProcess, bridge_process

TSC = ROOT / "tests" / "npm" / "node_modules" / ".bin" / "tsc"

KEY = "stream-key"
DEMO = {"mcpServers": {"demo": {"command": sys.executable, "args": ["-m", "bridge.demo"]}}}
FINISHED = "tool.call.finished"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    with bridge_process(tmp_path_factory.mktemp("streams"), DEMO, "--api-key", KEY) as bridge:
        yield bridge


def _follow(stream: Any, into: queue.Queue[Any]) -> threading.Thread:
    def run() -> None:
        try:
            for message in stream:
                into.put(message)
        except Exception as exc:  # handed to the test, which fails on it
            into.put(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    poll(lambda: stream.connected, 30, what="the stream open")
    return thread


def _next_finished(into: queue.Queue[Any], timeout: float = 20) -> Any:
    while True:
        message = into.get(timeout=timeout)
        if isinstance(message, Exception):
            raise message
        if message.event == "message" and message.data["type"] == FINISHED:
            return message


def test_the_reader_parses_what_the_standard_allows_however_the_bytes_are_cut(package: Any) -> None:
    from mcp_bridge_client._core import StreamReader

    wire = (
        b": heartbeat\r\nretry: 2500\r\n\r\nid: 7\r\nevent: tool.call.finished\r\n"
        b'data: {"a":\r\ndata: 1}\r\n\r\ndata: plain text\n\nid\nevent: x\ndata\n\n'
    )
    for cut in range(1, len(wire)):
        reader = StreamReader()
        messages = reader.feed(wire[:cut]) + reader.feed(wire[cut:])
        assert [(m.event, m.data, m.id) for m in messages] == [
            ("tool.call.finished", {"a": 1}, "7"),
            ("message", "plain text", "7"),
            ("x", "", None),
        ], cut
        assert reader.retry == 2.5


def test_a_client_follows_calls_as_they_finish_and_resumes_after_an_id(package: Any, live: BridgeProcess) -> None:
    with package.Client(live.url, api_key=KEY) as client:
        heard: queue.Queue[Any] = queue.Queue()
        stream = client.api.stream_events(type_=FINISHED)
        thread = _follow(stream, heard)
        client.call_tool("process_data", {"input": "one", "format": "text"}, server="demo")
        first = _next_finished(heard)
        assert (first.data["type"], first.data["data"]["tool"]) == (FINISHED, "process_data")
        assert first.id == first.data["id"] == stream.last_event_id
        stream.close()
        thread.join(10)
        assert not thread.is_alive()
        client.call_tool("process_data", {"input": "two", "format": "text"}, server="demo")
        again: queue.Queue[Any] = queue.Queue()
        resumed = client.api.stream_events(type_=FINISHED, last_event_id=first.id)
        thread = _follow(resumed, again)
        assert _next_finished(again).data["data"]["tool"] == "process_data"
        resumed.close()
        thread.join(10)


def test_the_async_client_streams_with_async_for(package: Any, live: BridgeProcess) -> None:
    async def main() -> Any:
        async with (
            package.AsyncClient(live.url, api_key=KEY) as client,
            client.api.stream_events(type_=FINISHED) as stream,
        ):

            async def first() -> Any:
                async for message in stream:
                    if message.data["type"] == FINISHED:
                        return message
                return None

            waiting = asyncio.ensure_future(first())
            while not stream.connected:  # noqa: ASYNC110 - open before the call ends, or its event is not heard
                await asyncio.sleep(0.02)
            await client.call_tool("process_data", {"input": "async", "format": "text"}, server="demo")
            return await asyncio.wait_for(waiting, 20)

    message = asyncio.run(main())
    assert message.data["data"]["tool"] == "process_data"


def test_a_stream_error_is_the_typed_exception(package: Any, live: BridgeProcess) -> None:
    with package.Client(live.url, api_key="wrong") as client, pytest.raises(package.Unauthorized):
        next(iter(client.api.stream_events()))


def test_a_bridge_restarted_under_a_stream_loses_it_no_event(package: Any, tmp_path: Path) -> None:
    port = free_port()
    args = ("--api-key", KEY, "--log-all-calls", "--registry", str(tmp_path / "store.db"))
    heard: queue.Queue[Any] = queue.Queue()
    retry = package.Retry(attempts=40, backoff=0.25, max_backoff=0.5)
    with package.Client(f"http://127.0.0.1:{port}", api_key=KEY, retry=retry) as client:
        with bridge_process(tmp_path, DEMO, *args, port=port):
            stream = client.api.stream_events(type_=FINISHED)
            thread = _follow(stream, heard)
            client.call_tool("process_data", {"input": "before", "format": "text"}, server="demo")
            before = _next_finished(heard)
        with bridge_process(tmp_path, DEMO, *args, port=port):
            client.call_tool("process_data", {"input": "after", "format": "text"}, server="demo")
            after = _next_finished(heard, timeout=60)
            stream.close()
        thread.join(10)
    assert after.id > before.id
    assert after.data["data"]["tool"] == "process_data"


NODE_STREAM = """
import { Client, StreamReader, Unauthorized } from "./dist/index.js";
const url = process.argv[2], key = process.argv[3];
const out = {};
const wire = ': heartbeat\\r\\nretry: 2500\\r\\n\\r\\nid: 7\\r\\nevent: tool.call.finished\\r\\n'
  + 'data: {"a":\\r\\ndata: 1}\\r\\n\\r\\ndata: plain text\\n\\nid\\nevent: x\\ndata\\n\\n';
out.cuts = new Set();
for (let cut = 1; cut < wire.length; cut++) {
  const reader = new StreamReader();
  const messages = [...reader.feed(wire.slice(0, cut)), ...reader.feed(wire.slice(cut))];
  out.cuts.add(JSON.stringify([messages, reader.retryMs]));
}
out.cuts = [...out.cuts].map((c) => JSON.parse(c));
const client = new Client(url, { apiKey: key });
const stream = client.api.streamEvents(undefined, undefined, undefined, undefined, "tool.call.finished");
const first = stream.next();
const call = () => client.callTool("process_data", { input: "node", format: "text" }).catch(() => {});
const calls = setInterval(call, 200);
const heard = await first;
clearInterval(calls);
await stream.return(undefined);
const message = heard.value;
out.heard = [message.event, message.data.type, message.data.data.tool, message.id === message.data.id];
try {
  await new Client(url, { apiKey: "wrong", retry: { attempts: 1 } }).api.streamEvents().next();
  out.refused = "no error";
} catch (e) {
  out.refused = [e instanceof Unauthorized, e.status];
}
console.log(JSON.stringify(out));
"""


def test_the_typescript_client_streams_with_for_await(live: BridgeProcess, tmp_path: Path) -> None:
    package = tmp_path / "mcp-bridge-client"
    shutil.copytree(ROOT / "generated" / "typescript" / "mcp-bridge-client", package)
    compiled = subprocess.run([str(TSC), "-p", str(package)], capture_output=True, text=True, check=False)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    (package / "stream.mjs").write_text(NODE_STREAM)
    ran = subprocess.run(
        ["node", "stream.mjs", live.url, KEY], cwd=package, capture_output=True, text=True, timeout=120, check=False
    )
    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout)
    assert out["cuts"] == [
        [
            [
                {"event": "tool.call.finished", "data": {"a": 1}, "id": "7"},
                {"event": "message", "data": "plain text", "id": "7"},
                {"event": "x", "data": ""},
            ],
            2500,
        ]
    ]
    assert out["heard"] == ["message", FINISHED, "process_data", True]
    assert out["refused"] == [True, 401]
