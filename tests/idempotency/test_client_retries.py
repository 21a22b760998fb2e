"""Generated clients retrying tool calls through a proxy that loses answers: the tool still runs once.

The clients are generated from the live spec of a real bridge in front of the ledger server; a
proxy (``lossy_proxy``) between them throws away the bridge's first answer after the tool ran.
A client sends one ``Idempotency-Key`` on every attempt of a call to a tool not marked harmless
to repeat, so its retry gets the first answer replayed; a harmless tool's calls go without.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.go_target import DEFAULT_MODULE
from generator.pipeline import generate_files, write
from tests.idempotency.conftest import ALICE, Ledger
from tests.idempotency.lossy_proxy import LossyProxy, lossy_proxy
from tests.support import ROOT, BridgeProcess

PAY = "/tools/pay"
QUALIFIED_PAY = "/tools/ledger.pay"
TYPED_PAY = "/servers/ledger/tools/pay"
BALANCE = "/servers/ledger/tools/balance"
NPM_BIN = ROOT / "tests" / "npm" / "node_modules" / ".bin"
GO = shutil.which("go")
_amounts = itertools.count(5000)


def amount() -> int:
    return next(_amounts)


@pytest.fixture(scope="module")
def proxy(served: BridgeProcess) -> Iterator[LossyProxy]:
    with lossy_proxy(served.url) as running:
        yield running


def one_key_on_every_attempt(keys: list[str | None], attempts: int = 2) -> str:
    assert len(keys) == attempts, keys
    assert keys[0] is not None
    assert set(keys) == {keys[0]}
    return keys[0]


# -- Python ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def py(served: BridgeProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    files, problems = generate_files("python", served.url + "/openapi.json", "idem_client", api_key=ALICE)
    assert problems.items == []
    out = tmp_path_factory.mktemp("py")
    write(files, out)
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("idem_client")
    finally:
        sys.path.remove(str(out))


def py_client(py: Any, url: str, **options: Any) -> Any:
    retry = options.pop("retry", py.Retry(backoff=0.01, jitter=False))
    return py.Client(url, api_key=ALICE, retry=retry, **options)


@pytest.mark.parametrize("how", ["503", "close"])
def test_python_call_tool_retried_after_a_lost_answer_runs_the_tool_once(
    py: Any, proxy: LossyProxy, ledger: Ledger, how: Any
) -> None:
    paid, before = amount(), len(proxy.seen_at(PAY))
    proxy.lose(PAY, how)
    with py_client(py, proxy.url) as client:
        result = client.call_tool("pay", {"amount": paid})
    assert result.structuredContent["paid"] == paid
    one_key_on_every_attempt(proxy.seen_at(PAY)[before:])
    assert ledger.runs("pay", paid) == 1


def test_python_typed_tool_method_retried_runs_the_tool_once(py: Any, proxy: LossyProxy, ledger: Ledger) -> None:
    paid, before = amount(), len(proxy.seen_at(TYPED_PAY))
    proxy.lose(TYPED_PAY, "close", "503")
    with py_client(py, proxy.url) as client:
        answer = client.tools.call_ledger_pay(amount=paid)
    assert answer.model_dump()["paid"] == paid
    one_key_on_every_attempt(proxy.seen_at(TYPED_PAY)[before:], attempts=3)
    assert ledger.runs("pay", paid) == 1


def test_python_typed_method_of_a_harmless_tool_sends_no_key(py: Any, proxy: LossyProxy, ledger: Ledger) -> None:
    before, ran = len(proxy.seen_at(BALANCE)), ledger.runs("balance", "-")
    proxy.lose(BALANCE, "503")
    with py_client(py, proxy.url) as client:
        client.tools.call_ledger_balance()
    assert proxy.seen_at(BALANCE)[before:] == [None, None]
    assert ledger.runs("balance", "-") == ran + 2  # ran twice, as it may


def test_python_callers_own_key_is_sent_on_every_attempt(py: Any, proxy: LossyProxy, ledger: Ledger) -> None:
    paid, before = amount(), len(proxy.seen_at(PAY))
    proxy.lose(PAY, "503")
    with py_client(py, proxy.url) as client:
        client.call_tool("pay", {"amount": paid}, idempotency_key=f"mine-{paid}")
    assert proxy.seen_at(PAY)[before:] == [f"mine-{paid}", f"mine-{paid}"]
    assert ledger.runs("pay", paid) == 1


def test_python_client_that_never_retries_sends_no_key(py: Any, proxy: LossyProxy) -> None:
    before = len(proxy.seen_at(PAY))
    with py_client(py, proxy.url, retry=py.Retry(attempts=1)) as client:
        client.call_tool("pay", {"amount": amount()})
    assert proxy.seen_at(PAY)[before:] == [None]


def test_python_retry_that_finds_the_first_attempt_running_waits_for_its_answer(
    py: Any, served: BridgeProcess, ledger: Ledger
) -> None:
    # The first attempt times out on the client while the tool still runs; the retry is told 409
    # (idempotency-key-in-flight), waits its Retry-After, and then gets the first attempt's answer.
    paid = amount()
    retry = py.Retry(attempts=6, backoff=0.01, jitter=False)
    with py_client(py, served.url, retry=retry, timeout=1.0) as client:
        result = client.call_tool("slow_pay", {"amount": paid, "seconds": 2.5})
    assert result.structuredContent["paid"] == paid
    assert ledger.runs("slow_pay", paid) == 1


def test_python_async_client_retried_runs_the_tool_once(py: Any, proxy: LossyProxy, ledger: Ledger) -> None:
    paid, before = amount(), len(proxy.seen_at(PAY))
    proxy.lose(PAY, "close")

    async def call() -> Any:
        async with py.AsyncClient(proxy.url, api_key=ALICE, retry=py.Retry(backoff=0.01, jitter=False)) as client:
            return await client.call_tool("pay", {"amount": paid})

    assert asyncio.run(call()).structuredContent["paid"] == paid
    one_key_on_every_attempt(proxy.seen_at(PAY)[before:])
    assert ledger.runs("pay", paid) == 1


# -- TypeScript --------------------------------------------------------------------------------

NODE_SCRIPT = """
import { Client } from "./dist/index.js";
const [url, key, generic, typed] = process.argv.slice(2);
const client = new Client(url, { apiKey: key, retry: { backoffMs: 10, jitter: false } });
const out = {};
out.generic = (await client.callTool("pay", { amount: Number(generic) })).structuredContent;
out.typed = (await client.tools.callLedgerPay({ amount: Number(typed) })).structured;
await client.tools.callLedgerBalance({});
console.log(JSON.stringify(out));
"""


def test_typescript_client_retried_runs_the_tool_once(
    served: BridgeProcess, proxy: LossyProxy, ledger: Ledger, tmp_path: Path
) -> None:
    tsc = NPM_BIN / "tsc"
    if not tsc.exists():
        pytest.skip("tests/npm is not installed (make installs it)")
    files, problems = generate_files("typescript", served.url + "/openapi.json", "idem-client", api_key=ALICE)
    assert problems.items == []
    write(files, tmp_path)
    package = tmp_path / "idem-client"
    compiled = subprocess.run([str(tsc), "-p", str(package)], capture_output=True, text=True, check=False)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    (package / "retry.mjs").write_text(NODE_SCRIPT)
    generic, typed = amount(), amount()
    seen = {path: len(proxy.seen_at(path)) for path in (PAY, TYPED_PAY, BALANCE)}
    proxy.lose(PAY, "503")
    proxy.lose(TYPED_PAY, "close")
    proxy.lose(BALANCE, "503")
    node = str(NPM_BIN / "node") if (NPM_BIN / "node").exists() else "node"
    ran = subprocess.run(
        [node, "retry.mjs", proxy.url, ALICE, str(generic), str(typed)],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout)
    assert (out["generic"]["paid"], out["typed"]["paid"]) == (generic, typed)
    one_key_on_every_attempt(proxy.seen_at(PAY)[seen[PAY] :])
    one_key_on_every_attempt(proxy.seen_at(TYPED_PAY)[seen[TYPED_PAY] :])
    assert proxy.seen_at(BALANCE)[seen[BALANCE] :] == [None, None]
    assert ledger.runs("pay", generic) == ledger.runs("pay", typed) == 1


# -- Go ----------------------------------------------------------------------------------------


def test_go_client_retried_runs_the_tool_once(
    served: BridgeProcess, proxy: LossyProxy, ledger: Ledger, tmp_path: Path
) -> None:
    if GO is None:
        pytest.skip("no go on PATH (.ci/run installs golang-go)")
    files, problems = generate_files("go", served.url + "/openapi.json", DEFAULT_MODULE, api_key=ALICE)
    assert problems.items == []
    module = tmp_path / "client"
    write(files, module)
    shutil.copy(Path(__file__).resolve().parent / "go" / "retry_test.go", module / "retry_test.go")
    generic, typed, own = amount(), amount(), amount()
    seen = {path: len(proxy.seen_at(path)) for path in (PAY, QUALIFIED_PAY, TYPED_PAY, BALANCE)}
    proxy.lose(PAY, "503")
    proxy.lose(QUALIFIED_PAY, "close")  # the call with the caller's own key
    proxy.lose(TYPED_PAY, "close")
    proxy.lose(BALANCE, "503")
    home = tmp_path / "go-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "CGO")) or k == "GOROOT"}
    env |= {
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GOWORK": "off",
        "GOTELEMETRY": "off",
        "GOCACHE": str(home / "cache"),
        "GOPATH": str(home / "path"),
        "CGO_ENABLED": "0",
        "MCP_PROXY_URL": proxy.url,
        "MCP_BRIDGE_KEY": ALICE,
        "MCP_AMOUNTS": f"{generic},{typed},{own}",
    }
    ran = subprocess.run(
        [GO, "test", "-count=1", "-v", "./..."],
        cwd=module,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "--- PASS: TestRetriedToolCallsRunOnce" in ran.stdout
    one_key_on_every_attempt(proxy.seen_at(PAY)[seen[PAY] :])
    assert proxy.seen_at(QUALIFIED_PAY)[seen[QUALIFIED_PAY] :] == [f"go-{own}", f"go-{own}"]
    one_key_on_every_attempt(proxy.seen_at(TYPED_PAY)[seen[TYPED_PAY] :])
    assert proxy.seen_at(BALANCE)[seen[BALANCE] :] == [None, None]
    assert ledger.runs("pay", generic) == ledger.runs("pay", typed) == ledger.runs("pay", own) == 1
