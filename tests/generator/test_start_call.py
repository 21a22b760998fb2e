"""The TypeScript and Go clients start asynchronous calls (``startCall``, ``StartCall``) on a live bridge.

The checked-in clients (generated/typescript, generated/go) against one bridge in front of the
calls test server: a started call is polled until it completes, a wait that ends in time answers
the tool's result, one idempotency key starts one call, and a refused start is a typed error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.generator.npm import NODE, PACKAGE
from tests.generator.test_go_client import CHECKED_IN, FIXTURES, declared, go, gofmt_vet_build, module_with, passed
from tests.support import ROOT, BridgeProcess, bridge_process

KEY = "start-call-key"
TSC = ROOT / "tests" / "npm" / "node_modules" / ".bin" / "tsc"


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    """A bridge (no callback secret) in front of the calls test server, as server ``calls``."""
    server = {"command": sys.executable, "args": ["-m", "tests.servers.calls_server", "stdio"], "cwd": str(ROOT)}
    with bridge_process(
        tmp_path_factory.mktemp("start-call"), {"mcpServers": {"calls": server}}, "--api-key", KEY
    ) as b:
        yield b


NODE_SCRIPT = """
import { Client, InvalidRequest, NotFound } from "./dist/index.js";
const [url, key] = process.argv.slice(2);
const sent = [];
const recording = (input, init) => {
  sent.push(init.headers);
  return fetch(input, init);
};
const client = new Client(url, { apiKey: key, fetch: recording, retry: { attempts: 2, backoffMs: 10 } });
const out = {};

const started = await client.startCall("slow", { seconds: 0.4, steps: 2 });
out.started = [started.result, started.call.state, started.call.tool];
out.sent = [sent[0].Prefer, sent[0]["Idempotency-Key"].length, sent[0]["Callback-Url"]];
let call = started.call;
for (let polls = 0; call.state === "working" && polls < 400; polls++) {
  await new Promise((resolve) => setTimeout(resolve, 50));
  call = await client.api.getCall(started.call.id);
}
out.polled = [call.state, call.result.content[0].text];

const waited = await client.startCall("slow", { seconds: 0, steps: 1 }, { server: "calls", waitSeconds: 4.5 });
out.waited = [waited.call, waited.result.content[0].text, sent.at(-1).Prefer];

const once = { idempotencyKey: "ts-start-call-once" };
const first = await client.startCall("calls.slow", { seconds: 0 }, once);
const again = await client.startCall("calls.slow", { seconds: 0 }, once);
out.once = [again.call.id === first.call.id, sent.at(-1)["Idempotency-Key"]];

const refused = {};
async function expect(name, Kind, start) {
  try { await start(); refused[name] = "no error"; }
  catch (e) {
    refused[name] = [e instanceof Kind, e.status, e.errors.length ? e.errors.map((f) => f.pointer) : e.detail];
  }
}
const callback = { callbackUrl: "https://example.com/done" };
await expect("callback", InvalidRequest, () => client.startCall("slow", { seconds: 0 }, callback));
await expect("unknown", NotFound, () => client.startCall("nope", {}, { server: "calls" }));
out.refused = refused;
console.log(JSON.stringify(out));
"""


def test_typescript_start_call_polls_to_completed_waits_keys_and_types_refusals(
    bridge: BridgeProcess, tmp_path: Path
) -> None:
    package = tmp_path / "client"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("node_modules", "dist"))
    compiled = subprocess.run([str(TSC), "-p", str(package)], capture_output=True, text=True, check=False)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    (package / "check.mjs").write_text(NODE_SCRIPT)
    ran = subprocess.run(
        [str(NODE), "check.mjs", bridge.url, KEY], cwd=package, capture_output=True, text=True, timeout=120, check=False
    )
    assert ran.returncode == 0, ran.stderr + bridge.log()[-3000:]
    assert json.loads(ran.stdout) == {
        "started": [None, "working", "slow"],
        "sent": ["respond-async", 36, None],
        "polled": ["completed", "worked 0.4 s"],
        "waited": [None, "worked 0 s", "respond-async, wait=5"],
        "once": [True, "ts-start-call-once"],
        "refused": {
            "callback": [True, 400, ["/header/Callback-Url"]],
            "unknown": [True, 404, "server 'calls' has no tool named 'nope'"],
        },
    }


def test_go_start_call_polls_to_completed_waits_keys_and_types_refusals(
    bridge: BridgeProcess, tmp_path: Path, go_env: dict[str, str]
) -> None:
    module = module_with(tmp_path, CHECKED_IN, "calls")
    gofmt_vet_build(go_env, module)
    result = go(
        go_env, module, "test", "-count=1", "-v", "./...", extra={"MCP_BRIDGE_URL": bridge.url, "MCP_BRIDGE_KEY": KEY}
    )
    assert result.returncode == 0, result.stdout + result.stderr + bridge.log()[-3000:]
    assert passed(result.stdout) == declared(FIXTURES / "calls")
