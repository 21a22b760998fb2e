"""Generated clients, Python and TypeScript, against a live bridge in front of real servers.

The live spec is read from the running bridge, so the clients also carry one typed method per
tool. Every kind of operation is called, and the error paths arrive as typed exceptions.
"""

import asyncio
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import requests

from generator.pipeline import generate_files, write
from harness import free_port
from tests.support import ROOT, BridgeProcess, bridge_process

KEY = "client-key"
ADMIN = "client-admin-key"
TSC = ROOT / "tests" / "npm" / "node_modules" / ".bin" / "tsc"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    config = {
        "mcpServers": {
            "demo": {"command": sys.executable, "args": ["-m", "bridge.demo"]},
            "time": {"command": sys.executable, "args": ["-m", "mcp_server_time"]},
            "dead": {"url": f"http://127.0.0.1:{free_port()}/mcp", "type": "streamable-http"},
        }
    }
    with bridge_process(tmp_path_factory.mktemp("clients"), config, "--api-key", KEY, "--admin-key", ADMIN) as bridge:
        yield bridge


@pytest.fixture(scope="module")
def py_client(live: BridgeProcess, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("py")
    files, problems = generate_files("python", live.url + "/openapi.json", "live_client")
    assert problems.items == []
    write(files, out)
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("live_client"), out
    finally:
        sys.path.remove(str(out))


def test_generated_python_client_passes_mypy_strict(py_client: Any) -> None:
    _, out = py_client
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "live_client"], cwd=out, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_python_client_covers_every_kind_of_operation(py_client: Any, live: BridgeProcess) -> None:
    package, _ = py_client
    with package.Client(live.url + "/mcp", api_key=KEY) as client:
        assert {s.name for s in client.list_servers()} == {"demo", "time", "dead"}
        assert "demo.process_data" in {t.qualifiedName for t in client.list_tools()}
        assert {t.name for t in client.list_tools("time")} == {"get_current_time", "convert_time"}
        processed = client.call_tool("process_data", {"input": "test data", "format": "text"})
        assert processed.structuredContent == {
            "kind": "text",
            "count": 1,
            "characters": 9,
            "words": 2,
            "lines": 1,
            "value": "test data",
        }
        zone = client.call_tool(server="time", tool="get_current_time", params={"timezone": "UTC"})
        assert zone.structuredContent["timezone"] == "UTC"
        settings = client.get_resource("config://settings")
        assert json.loads(settings.contents[0].text)["name"] == "demo"
        raw = client.get_resource_bytes("data://samples/scores", server="demo")
        assert json.loads(raw)["name"] == "scores"
        assert [p.name for p in client.list_prompts("demo")] == ["summarize_analysis"]
        rendered = client.get_prompt("summarize_analysis", {"metrics_json": "{}"})
        assert rendered.messages[0].role == "user"
        assert client.rpc("ping") == {}
        stats = client.tools.call_demo_analyze_data(data=[1, 2, 3, 4], metrics=["mean", "max"])
        assert type(stats).__name__ == "CallDemoAnalyzeDataOutput"
        assert stats.metrics == {"mean": 2.5, "max": 4.0}
        assert stats.count == 4
        prompt = client.prompts.prompt_demo_summarize_analysis(metrics_json="{}", audience="ops")
        assert "for ops" in prompt.messages[0].content.text
        assert client.get_prompt("summarize_analysis", {"metrics_json": "{}"}, server="demo").messages
    once = package.Client(live.url, api_key=KEY, retry=package.Retry(attempts=1))
    with once, pytest.raises(package.ServiceUnavailable):
        once.ready()  # "dead" never comes up


def test_the_metrics_arrive_as_the_prometheus_text_they_are_for_an_admin_only(
    py_client: Any, live: BridgeProcess
) -> None:
    package, _ = py_client
    with package.Client(live.url, api_key=ADMIN) as admin:
        admin.call_tool("process_data", {"input": "counted", "format": "text"})
        text = admin.api.get_metrics()
    assert isinstance(text, str)
    assert "# TYPE mcp_bridge_tool_calls_total counter" in text
    assert 'mcp_bridge_tool_calls_total{server="demo",status="200",tool="process_data"}' in text

    async def scraped() -> str:
        async with package.AsyncClient(live.url, api_key=ADMIN) as client:
            found: str = await client.api.get_metrics()
            return found

    assert "mcp_bridge_tool_calls_in_flight" in asyncio.run(scraped())
    with (
        package.Client(live.url, api_key=KEY, retry=package.Retry(attempts=1)) as user,
        pytest.raises(package.Forbidden),
    ):
        user.api.get_metrics()


def test_async_client_offers_the_same_surface_with_await(py_client: Any, live: BridgeProcess) -> None:
    package, _ = py_client

    async def main() -> dict[str, Any]:
        async with package.AsyncClient(live.url + "/mcp", api_key=KEY) as client:
            processed = await client.call_tool("process_data", {"input": "test data", "format": "text"})
            zone = await client.call_tool(server="time", tool="get_current_time", params={"timezone": "UTC"})
            stats = await client.tools.call_demo_analyze_data(data=[1, 2, 3, 4], metrics=["mean"])
            prompt = await client.prompts.prompt_demo_summarize_analysis(metrics_json="{}", audience="ops")
            return {
                "servers": sorted(s.name for s in await client.list_servers()),
                "tools": sorted(t.name for t in await client.list_tools("time")),
                "words": processed.structuredContent["words"],
                "zone": zone.structuredContent["timezone"],
                "settings": (await client.get_resource("config://settings")).contents[0].uri,
                "bytes": json.loads(await client.get_resource_bytes("data://samples/scores", server="demo"))["name"],
                "prompts": [p.name for p in await client.list_prompts("demo")],
                "rendered": (await client.get_prompt("summarize_analysis", {"metrics_json": "{}"})).messages[0].role,
                "rpc": await client.rpc("ping"),
                "typed": (type(stats).__name__, stats.metrics, stats.count),
                "prompt": "for ops" in prompt.messages[0].content.text,
            }

    assert asyncio.run(main()) == {
        "servers": ["dead", "demo", "time"],
        "tools": ["convert_time", "get_current_time"],
        "words": 2,
        "zone": "UTC",
        "settings": "config://settings",
        "bytes": "scores",
        "prompts": ["summarize_analysis"],
        "rendered": "user",
        "rpc": {},
        "typed": ("CallDemoAnalyzeDataOutput", {"mean": 2.5}, 4),
        "prompt": True,
    }


def test_typed_tool_methods_get_the_lean_structured_answer(py_client: Any, live: BridgeProcess) -> None:
    package, _ = py_client
    seen: list[tuple[str | None, str | None, Any]] = []
    session = requests.Session()
    session.hooks["response"].append(
        lambda r, *_, **__: seen.append(
            (r.request.headers.get("Prefer"), r.headers.get("Preference-Applied"), r.json())
        )
    )
    with package.Client(live.url, api_key=KEY, session=session) as client:
        stats = client.tools.call_demo_analyze_data(data=[1, 2], metrics=["max"])
        whole = client.call_tool("analyze_data", {"data": [1, 2], "metrics": ["max"]})

    async def record(response: httpx2.Response) -> None:
        await response.aread()
        seen.append(
            (response.request.headers.get("Prefer"), response.headers.get("Preference-Applied"), response.json())
        )

    async def main() -> Any:
        async with package.AsyncClient(
            live.url, api_key=KEY, session=httpx2.AsyncClient(event_hooks={"response": [record]})
        ) as client:
            return await client.tools.call_demo_analyze_data(data=[1, 2], metrics=["max"])

    lean = {"metrics": {"max": 2.0}, "count": 2}
    assert (stats.model_dump(exclude_none=True), asyncio.run(main()).model_dump(exclude_none=True)) == (lean, lean)
    assert seen[0] == seen[2] == ("return=structured", "return=structured", lean)
    assert seen[1][:2] == (None, None)
    assert seen[1][2]["structuredContent"] == lean == whole.structuredContent


def test_the_guides_spellings_token_and_x_api_key_authenticate(py_client: Any, live: BridgeProcess) -> None:
    package, _ = py_client
    with package.Client(url=live.url, token=KEY) as by_token:
        assert "demo" in {s.name for s in by_token.list_servers()}
    with package.Client(live.url + "/mcp", headers={"X-API-Key": KEY}) as by_header:
        assert by_header.call_tool(server="demo", tool="process_data", params={"input": "[1]"}).isError is False

    async def main() -> set[str]:
        async with package.AsyncClient(url=live.url, token=KEY) as client:
            return {s.name for s in await client.list_servers()}

    assert "demo" in asyncio.run(main())
    with pytest.raises(TypeError, match="give one"):
        package.Client(live.url, api_key="a", token="b")


WRONG_CALLS = """
from live_client import AsyncClient, Client

async def use(client: Client, aclient: AsyncClient) -> None:
    client.tools.call_demo_analyze_data(data="1, 2, 3")
    await aclient.tools.call_demo_analyze_data(data=[1.5], metrics=["mean"], nonsense=1)
    stats = client.tools.call_demo_analyze_data(data=[1, 2])
    stats.metrics.upper()
    client.tools.call_demo_process_data(format="text")
"""
RIGHT_CALLS = """
from live_client import AsyncClient, Client, models

async def use(client: Client, aclient: AsyncClient, values: list[int]) -> None:
    stats: models.CallDemoAnalyzeDataOutput = client.tools.call_demo_analyze_data(data=values, metrics=["mean"])
    again = await aclient.tools.call_demo_analyze_data(data=[1.5, 2])
    print(stats.metrics, again.count)
    parsed = client.tools.call_demo_process_data(input="[1]", format="json")
    print(parsed)
"""


def test_a_wrong_argument_to_a_typed_tool_method_fails_mypy_strict(py_client: Any, tmp_path: Path) -> None:
    _, out = py_client
    found = {}
    for name, source in (("wrong", WRONG_CALLS), ("right", RIGHT_CALLS)):
        (tmp_path / f"{name}.py").write_text(source)
        found[name] = subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--strict",
                "--no-incremental",
                "--hide-error-context",
                str(tmp_path / f"{name}.py"),
            ],
            cwd=out,
            env={**os.environ, "MYPYPATH": str(out)},
            capture_output=True,
            text=True,
            check=False,
        )
    assert found["right"].returncode == 0, found["right"].stdout
    errors = [line.split(": error: ", 1)[1] for line in found["wrong"].stdout.splitlines() if ": error: " in line]
    assert errors == [
        'Argument "data" to "call_demo_analyze_data" of "Tools" has incompatible type "str"; '
        'expected "Sequence[float] | CallDemoAnalyzeDataStep | Mapping[str, Any]"  [arg-type]',
        'Unexpected keyword argument "nonsense" for "call_demo_analyze_data" of "AsyncTools"  [call-arg]',
        '"dict[str, float]" has no attribute "upper"  [attr-defined]',
        'Missing named argument "input" for "call_demo_process_data" of "Tools"  [call-arg]',
    ]


def test_python_client_raises_typed_errors(py_client: Any, live: BridgeProcess) -> None:
    package, _ = py_client
    fast = package.Retry(attempts=2, backoff=0.01, max_backoff=0.05)
    client = package.Client(live.url, api_key=KEY, retry=fast)
    with pytest.raises(package.BadRequest) as bad:
        client.call_tool("analyze_data", {"data": "x"})
    assert type(bad.value) is package.InvalidRequest
    assert [(e.pointer, e.message) for e in bad.value.errors] == [
        ("/body/data", "\"x\" is not valid under any of the schemas listed in the 'anyOf' keyword")
    ]
    with pytest.raises(package.Unauthorized) as unauthorized:
        package.Client(live.url, retry=fast).list_servers()
    assert unauthorized.value.status == 401
    with pytest.raises(package.NotFound) as missing:
        client.call_tool(server="time", tool="nope", params={})
    assert missing.value.detail == "server 'time' has no tool named 'nope'"
    with pytest.raises(package.ToolError) as failed:
        client.call_tool("process_data", {"input": "{", "input_format": "json"})
    assert type(failed.value) is package.ToolError
    assert failed.value.status == 422
    assert "not valid JSON" in failed.value.content[0]["text"]
    with pytest.raises(package.ServiceUnavailable) as down:
        client.call_tool(server="dead", tool="anything", params={})
    assert type(down.value) is package.UpstreamUnavailable
    assert down.value.server == "dead"
    assert down.value.retry_after is not None
    assert down.value.retry_after >= 1
    with pytest.raises(package.TransportError):
        package.Client(f"http://127.0.0.1:{free_port()}", retry=fast).list_servers()


def test_async_client_raises_the_same_typed_errors(py_client: Any, live: BridgeProcess) -> None:
    package, _ = py_client
    fast = package.Retry(attempts=2, backoff=0.01, max_backoff=0.05)

    async def kinds() -> list[tuple[str, int | None]]:
        found: list[tuple[str, int | None]] = []
        async with package.AsyncClient(live.url, api_key=KEY, retry=fast) as client:
            calls = [
                client.call_tool("analyze_data", {"data": "x"}),
                client.call_tool(server="time", tool="nope", params={}),
                client.call_tool("process_data", {"input": "{", "input_format": "json"}),
            ]
            for call in calls:
                try:
                    await call
                except package.ProblemError as error:
                    found.append((type(error).__name__, error.status))
        async with package.AsyncClient(live.url, retry=fast) as anonymous:
            try:
                await anonymous.list_servers()
            except package.Unauthorized as error:
                found.append((type(error).__name__, error.status))
        async with package.AsyncClient(f"http://127.0.0.1:{free_port()}", retry=fast) as nowhere:
            try:
                await nowhere.list_servers()
            except package.TransportError as error:
                found.append((type(error).__name__, None))
        return found

    assert asyncio.run(kinds()) == [
        ("InvalidRequest", 400),
        ("NotFound", 404),
        ("ToolError", 422),
        ("Unauthorized", 401),
        ("TransportError", None),
    ]


def test_python_client_retries_503_honouring_retry_after(py_client: Any, live: BridgeProcess) -> None:
    package, _ = py_client
    waits: list[float] = []
    client = package.Client(live.url, api_key=KEY, retry=package.Retry(attempts=3, backoff=0.01, max_backoff=2.0))
    client.http._sleep = waits.append
    with pytest.raises(package.ServiceUnavailable):
        client.call_tool(server="dead", tool="anything", params={})
    assert len(waits) == 2  # three attempts, two pauses
    assert all(wait >= 1.0 for wait in waits)  # Retry-After (>= 1 s) outweighs the 10 ms backoff
    waits.clear()
    with pytest.raises(package.BadRequest):
        client.call_tool("analyze_data", {"data": "x"})
    assert waits == []  # never retried on 4xx


def test_async_client_retries_503_honouring_retry_after(py_client: Any, live: BridgeProcess) -> None:
    package, _ = py_client
    waits: list[float] = []

    async def pause(seconds: float) -> None:
        waits.append(seconds)

    async def main() -> None:
        retry = package.Retry(attempts=3, backoff=0.01, max_backoff=2.0)
        async with package.AsyncClient(live.url, api_key=KEY, retry=retry) as client:
            client.http._sleep = pause
            with pytest.raises(package.UpstreamUnavailable):
                await client.call_tool(server="dead", tool="anything", params={})
            assert len(waits) == 2
            assert all(wait >= 1.0 for wait in waits)
            waits.clear()
            with pytest.raises(package.BadRequest):
                await client.call_tool("analyze_data", {"data": "x"})
            assert waits == []

    asyncio.run(main())


NODE_SCRIPT = """
import { Client, ToolError, BadRequest, Unauthorized, NotFound, ServiceUnavailable } from "./dist/index.js";
const url = process.argv[2], key = process.argv[3], admin = process.argv[4];
const client = new Client({ url: url + "/mcp", apiKey: key, retry: { attempts: 1 } });
const out = {};
out.servers = (await client.listServers()).map((s) => s.name).sort();
out.tools = (await client.listTools("time")).map((t) => t.name).sort();
out.processed = (await client.callTool("process_data", { input: "test data", format: "text" })).structuredContent;
const zone = await client.callTool({ server: "time", tool: "get_current_time", params: { timezone: "UTC" } });
out.zone = zone.structuredContent.timezone;
out.settings = (await client.getResource("config://settings")).contents[0].uri;
out.bytes = JSON.parse(new TextDecoder().decode(await client.getResourceBytes("data://samples/scores", "demo"))).name;
out.prompt = (await client.getPrompt("summarize_analysis", { metrics_json: "{}" })).messages[0].role;
out.rpc = await client.rpc("ping");
const analysis = await client.tools.callDemoAnalyzeData({ data: [1, 2, 3, 4], metrics: ["mean"] });
out.typed = [analysis.structured.metrics, analysis.structured.count];
const metrics = await new Client({ url, apiKey: admin }).api.getMetrics();
out.metrics = [typeof metrics, metrics.includes("# TYPE mcp_bridge_tool_calls_total counter")];
const errors = {};
async function expect(name, Kind, call) {
  try { await call(); errors[name] = "no error"; }
  catch (e) { errors[name] = [e instanceof Kind, e.status, e.constructor.name]; }
}
await expect("400", BadRequest, () => client.callTool("analyze_data", { data: "x" }));
await expect("401", Unauthorized, () => new Client(url, { retry: { attempts: 1 } }).listServers());
await expect("404", NotFound, () => client.callTool({ server: "time", tool: "nope" }));
await expect("422", ToolError, () => client.callTool("process_data", { input: "{", input_format: "json" }));
await expect("503", ServiceUnavailable, () => client.callTool({ server: "dead", tool: "anything" }));
out.errors = errors;
console.log(JSON.stringify(out));
"""


def test_typescript_client_compiles_strict_and_works_from_node(live: BridgeProcess, tmp_path: Path) -> None:
    files, problems = generate_files("typescript", live.url + "/openapi.json", "live-client")
    assert problems.items == []
    write(files, tmp_path)
    package = tmp_path / "live-client"
    compiled = subprocess.run([str(TSC), "-p", str(package)], capture_output=True, text=True, check=False)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    (package / "check.mjs").write_text(NODE_SCRIPT)
    ran = subprocess.run(
        ["node", "check.mjs", live.url, KEY, ADMIN],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout)
    assert out["servers"] == ["dead", "demo", "time"]
    assert out["tools"] == ["convert_time", "get_current_time"]
    assert out["processed"]["words"] == 2
    assert out["zone"] == "UTC"
    assert out["settings"] == "config://settings"
    assert out["bytes"] == "scores"
    assert out["prompt"] == "user"
    assert out["rpc"] == {}
    assert out["typed"] == [{"mean": 2.5}, 4]
    assert out["metrics"] == ["string", True]
    assert out["errors"] == {
        "400": [True, 400, "InvalidRequest"],
        "401": [True, 401, "Unauthorized"],
        "404": [True, 404, "NotFound"],
        "422": [True, 422, "ToolError"],
        "503": [True, 503, "UpstreamUnavailable"],
    }


def test_checked_in_typescript_client_compiles_strict(tmp_path: Path) -> None:
    import shutil

    package = tmp_path / "mcp-bridge-client"
    shutil.copytree(ROOT / "generated" / "typescript" / "mcp-bridge-client", package)
    compiled = subprocess.run([str(TSC), "-p", str(package)], capture_output=True, text=True, check=False)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
