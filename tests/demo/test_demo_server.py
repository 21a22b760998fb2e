"""The demo server through the bridge, as a user of `make run` meets it."""

import base64
import json
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from bridge.config import demo_server
from bridge.runtime import Bridge
from tests.support import in_process_bridge


@pytest.fixture(scope="module")
def demo() -> Iterator[Bridge]:
    with in_process_bridge([demo_server()]) as running:
        yield running


@pytest.fixture
def dc(demo: Bridge) -> FlaskClient:
    return demo.app.test_client()


def call(dc: FlaskClient, tool: str, arguments: dict[str, object]) -> dict[str, object]:
    response = dc.post(f"/servers/demo/tools/{tool}", json=arguments)
    assert response.status_code == 200, response.json
    return response.json  # type: ignore[no-any-return]


def test_demo_lists_the_guides_tools_with_rich_schemas(dc: FlaskClient) -> None:
    tools = {t["name"]: t for t in dc.get("/servers/demo/tools").json["tools"]}
    assert set(tools) == {
        "process_data",
        "validate_data",
        "transform_data",
        "analyze_data",
        "generate_report",
    }
    metrics = tools["analyze_data"]["inputSchema"]["properties"]["metrics"]
    assert metrics["items"]["enum"] == ["mean", "median", "std", "variance", "min", "max", "count", "sum"]
    assert tools["analyze_data"]["outputSchema"]["properties"]["count"]["type"] == "integer"


def test_process_data_parses_the_guides_example(dc: FlaskClient) -> None:
    result = call(dc, "process_data", {"input": "test data", "format": "text"})
    assert result["structuredContent"] == {
        "format": "text",
        "count": 1,
        "lines": 1,
        "words": 2,
        "characters": 9,
        "value": "test data",
    }


def test_process_data_with_bad_json_is_a_422_tool_error(dc: FlaskClient) -> None:
    response = dc.post("/servers/demo/tools/process_data", json={"input": "{oops", "format": "json"})
    assert response.status_code == 422
    assert "input is not valid JSON" in response.json["detail"]


def test_analyze_data_computes_mean_median_and_std(dc: FlaskClient) -> None:
    result = call(dc, "analyze_data", {"data": [1, 2, 3, 4], "metrics": ["mean", "median", "std", "max"]})
    assert result["structuredContent"] == {
        "metrics": {"mean": 2.5, "median": 2.5, "std": 1.11803398875, "max": 4.0},
        "count": 4,
    }


def test_unknown_metric_is_refused_before_the_upstream(dc: FlaskClient) -> None:
    response = dc.post("/servers/demo/tools/analyze_data", json={"data": [1], "metrics": ["mode"]})
    assert response.status_code == 400
    assert response.json["errors"][0]["pointer"] == "/body/metrics/0"


def test_generate_report_returns_a_real_pdf_as_an_embedded_resource(dc: FlaskClient) -> None:
    result = call(
        dc,
        "generate_report",
        {"analysis": {"metrics": {"mean": 2.5}, "count": 4}, "format": "pdf", "title": "Q3"},
    )
    (resource,) = [b["resource"] for b in result["content"] if b["type"] == "resource"]  # type: ignore[union-attr, index]
    assert resource["mimeType"] == "application/pdf"
    assert resource["uri"] == "report://q3.pdf"
    pdf = base64.b64decode(resource["blob"])
    assert pdf.startswith(b"%PDF-")
    assert b"/Type /Page" in pdf


def test_generate_report_as_markdown_and_json(dc: FlaskClient) -> None:
    analysis = {"metrics": {"mean": 2.5}, "count": 4}
    markdown = call(dc, "generate_report", {"analysis": analysis, "format": "markdown"})
    assert "| mean | 2.5 |" in markdown["content"][0]["text"]  # type: ignore[index]
    as_json = call(dc, "generate_report", {"analysis": analysis})
    assert json.loads(as_json["content"][0]["text"]) == {"title": "Analysis report", **analysis}  # type: ignore[index]


def test_settings_resource_and_samples_template(dc: FlaskClient) -> None:
    settings = dc.get("/resources/read", query_string={"uri": "config://settings"}).json
    assert json.loads(settings["contents"][0]["text"])["reportFormats"] == ["json", "markdown", "pdf"]
    sample = dc.get("/resources/read", query_string={"uri": "data://samples/scores"}).json
    assert json.loads(sample["contents"][0]["text"])["data"] == [71.0, 85.0, 92.0, 64.0, 88.0, 79.0]


def test_summarize_prompt_renders(dc: FlaskClient) -> None:
    rendered = dc.post("/prompts/summarize_analysis", json={"metrics_json": '{"mean": 2}', "audience": "managers"})
    assert rendered.status_code == 200
    assert "for managers" in rendered.json["messages"][0]["content"]["text"]


def test_with_a_single_server_json_rpc_uses_the_servers_own_tool_names(dc: FlaskClient) -> None:
    response = dc.post("/mcp", json={"jsonrpc": "2.0", "method": "tools/list", "id": 7})
    names = {tool["name"] for tool in response.json["result"]["tools"]}
    assert names == {"process_data", "validate_data", "transform_data", "analyze_data", "generate_report"}
    called = dc.post(
        "/mcp",
        json={
            "jsonrpc": "2.0",
            "method": "tools/call",
            "params": {"name": "process_data", "arguments": {"input": "[1, 2]", "format": "json"}},
            "id": 8,
        },
    )
    assert called.json["result"]["structuredContent"]["count"] == 2
