"""The demo server, first as an MCP client meets it (``python -m bridge.demo`` over stdio, driven by
the official SDK client), then through the bridge's REST API as a user of ``make run`` meets it.

The stdio tests share one server session for the module: a blocking portal runs the SDK client's
event loop in a thread, so the tests themselves stay plain functions.
"""

from __future__ import annotations

import base64
import json
import math
import re
import statistics
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from flask.testing import FlaskClient
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, EmbeddedResource, GetPromptResult, ReadResourceResult, TextContent, Tool
from werkzeug.test import TestResponse

from bridge.config import demo_server
from bridge.runtime import Bridge
from tests.support import in_process_bridge

TOOLS = {"process_data", "validate_data", "transform_data", "analyze_data", "generate_report"}


@dataclass
class Demo:
    """A live stdio session with the demo server, callable from synchronous tests."""

    portal: BlockingPortal
    client: Client

    def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        result: CallToolResult = self.portal.call(self.client.call_tool, tool, arguments)
        return result

    def ok(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The structuredContent of a call that must succeed."""
        result = self.call(tool, arguments)
        assert not result.is_error, result.content
        assert isinstance(result.structured_content, dict)
        return result.structured_content

    def error(self, tool: str, arguments: dict[str, Any]) -> str:
        """The message of a call that must come back as a tool error (isError: true)."""
        result = self.call(tool, arguments)
        assert result.is_error
        assert result.structured_content is None
        (block,) = result.content
        assert isinstance(block, TextContent)
        return block.text

    def tools(self) -> dict[str, Tool]:
        return {tool.name: tool for tool in self.portal.call(self.client.list_tools).tools}

    def read(self, uri: str) -> ReadResourceResult:
        return self.portal.call(self.client.read_resource, uri)

    def prompt(self, name: str, arguments: dict[str, str]) -> GetPromptResult:
        return self.portal.call(self.client.get_prompt, name, arguments)


@pytest.fixture(scope="module")
def sdk() -> Iterator[Demo]:
    server = StdioServerParameters(command=sys.executable, args=["-m", "bridge.demo"])
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(Client(server)) as client:
        yield Demo(portal, client)


def _text(result: CallToolResult, index: int = 0) -> str:
    block = result.content[index]
    assert isinstance(block, TextContent)
    return block.text


def _page_streams(pdf: bytes) -> bytes:
    """The PDF's content streams, inflated: where the drawn text is."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL)
    return b"\n".join(zlib.decompress(stream) for stream in streams)


# --- over stdio, with the official SDK client ---------------------------------------------------


def test_the_demo_offers_five_tools_with_described_enums_min_items_and_output_schemas(sdk: Demo) -> None:
    tools = sdk.tools()
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True
        assert tool.output_schema is not None, tool.name
        assert all("description" in spec for spec in tool.input_schema["properties"].values()), tool.name
    process = tools["process_data"].input_schema
    assert process["properties"]["format"]["enum"] == ["json", "text"]
    assert process["properties"]["input_format"]["enum"] == ["auto", "json", "csv", "text"]
    assert process["required"] == ["input"]
    transform = tools["transform_data"].input_schema["properties"]
    numbers, step = transform["data"]["anyOf"]  # a list, or the step before's whole result
    assert numbers["minItems"] == 1
    assert step["$ref"] == "#/$defs/Step"
    assert transform["format"]["enum"] == ["normalized", "standardized", "scaled", "sorted"]
    metrics = tools["analyze_data"].input_schema["properties"]["metrics"]
    assert metrics["items"]["enum"] == ["mean", "median", "std", "variance", "min", "max", "count", "sum"]
    assert metrics["default"] == ["mean", "median", "std"]
    report = tools["generate_report"].input_schema
    assert report["properties"]["format"]["enum"] == ["json", "markdown", "pdf"]
    assert report["$defs"]["ReportInput"]["properties"]["metrics"]["minProperties"] == 1
    assert tools["analyze_data"].output_schema["required"] == ["metrics", "count"]  # type: ignore[index]


def test_process_data_answers_the_guides_call_with_a_json_summary_of_plain_text(sdk: Demo) -> None:
    result = sdk.call("process_data", {"input": "test data", "format": "json"})
    expected = {"kind": "text", "count": 1, "characters": 9, "words": 2, "lines": 1, "value": "test data"}
    assert result.structured_content == expected
    assert json.loads(_text(result)) == expected  # the same summary as text, for clients without structuredContent


def test_process_data_reads_json_and_names_its_json_type(sdk: Demo) -> None:
    assert sdk.ok("process_data", {"input": '{"a": [1, 2.5], "b": null}'}) == {
        "kind": "json",
        "count": 2,
        "characters": 26,
        "words": 5,
        "lines": 1,
        "type": "object",
        "value": {"a": [1, 2.5], "b": None},
    }
    assert sdk.ok("process_data", {"input": "[1, 2, 3]", "format": "json"})["type"] == "array"
    assert sdk.ok("process_data", {"input": "[1, 2, 3]", "input_format": "json"})["value"] == [1, 2, 3]


@pytest.mark.parametrize("input_format", ["auto", "csv"])
def test_process_data_turns_csv_rows_into_records_under_the_header(sdk: Demo, input_format: str) -> None:
    text = 'city,temp\nOslo,4.5\n"Rio, de Janeiro",27\n'
    assert sdk.ok("process_data", {"input": text, "input_format": input_format}) == {
        "kind": "csv",
        "count": 2,
        "characters": len(text),
        "words": 5,
        "lines": 3,
        "columns": ["city", "temp"],
        "records": [{"city": "Oslo", "temp": "4.5"}, {"city": "Rio, de Janeiro", "temp": "27"}],
    }


def test_process_data_counts_lines_words_and_characters_of_text_and_tells_them_in_a_sentence(sdk: Demo) -> None:
    result = sdk.call("process_data", {"input": "the quick brown\nfox jumps", "format": "text"})
    assert result.structured_content == {
        "kind": "text",
        "count": 2,
        "characters": 25,
        "words": 5,
        "lines": 2,
        "value": "the quick brown\nfox jumps",
    }
    assert _text(result) == "text: 2 lines, 5 words, 25 characters"


@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("[1, 2, 3]", "JSON array of 3 items: 1 line, 3 words, 9 characters"),
        ('{"a": 1}', "JSON object with 1 key: 1 line, 2 words, 8 characters"),
        ("42", "JSON number: 1 line, 1 word, 2 characters"),
        ("a,b\n1,2\n", "CSV: 1 record under 2 columns (a, b): 2 lines, 2 words, 8 characters"),
        ("{", "text: 1 line, 1 word, 1 character"),
    ],
)
def test_process_data_finds_out_what_the_input_is_and_tells_it_as_text(sdk: Demo, text: str, told: str) -> None:
    assert _text(sdk.call("process_data", {"input": text, "format": "text"})) == told


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("{oops", "json", "input is not valid JSON: line 1 column 2"),
        ("[1, NaN]", "json", "NaN is not a JSON number"),
        ("a,b\n1,2,3\n", "csv", "CSV line 2 has 3 field(s), the header has 2"),
        ("a,a\n1,2\n", "csv", "CSV header repeats the column name(s) a"),
        ("", "csv", "input has no CSV header line"),
    ],
)
def test_process_data_answers_invalid_input_with_an_error_result_saying_why(
    sdk: Demo, text: str, fmt: str, message: str
) -> None:
    assert message in sdk.error("process_data", {"input": text, "input_format": fmt})


def test_validate_data_keeps_numbers_converts_numeric_strings_and_reports_the_rest(sdk: Demo) -> None:
    result = sdk.ok("validate_data", {"data": [1, "2.5", None, "x", True, -3e2, " 7 ", "1e999"]})
    assert result["valid"] is False
    assert result["data"] == [1.0, 2.5, -300.0, 7.0]
    assert (result["count"], result["rejected"]) == (4, 4)
    assert [(e["index"], e["message"]) for e in result["errors"]] == [
        (2, "missing value (null)"),
        (3, "'x' is not a finite number"),
        (4, "a boolean is not a number"),
        (7, "'1e999' is not a finite number"),
    ]
    assert sdk.ok("validate_data", {"data": [0, 1]}) == {
        "valid": True,
        "data": [0.0, 1.0],
        "errors": [],
        "count": 2,
        "rejected": 0,
    }


DATA = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]  # mean 5, population std 2


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("normalized", [(x - 2) / 7 for x in DATA]),
        ("standardized", [(x - 5) / 2 for x in DATA]),
        ("scaled", [x / 9 for x in DATA]),
        ("sorted", sorted(DATA)),
    ],
)
def test_transform_data_normalizes_standardizes_scales_and_sorts(sdk: Demo, how: str, expected: list[float]) -> None:
    shuffled = [5.0, 2.0, 9.0, 4.0, 7.0, 4.0, 5.0, 4.0] if how == "sorted" else DATA
    result = sdk.ok("transform_data", {"data": shuffled, "format": how})
    assert result["format"] == how
    assert result["count"] == len(DATA)
    assert result["data"] == pytest.approx(expected)


def test_transform_data_maps_constant_data_to_zeros_and_refuses_one_value_to_standardize(sdk: Demo) -> None:
    assert sdk.ok("transform_data", {"data": [3, 3, 3]})["data"] == [0.0, 0.0, 0.0]
    assert sdk.ok("transform_data", {"data": [3, 3], "format": "standardized"})["data"] == [0.0, 0.0]
    assert sdk.ok("transform_data", {"data": [0, 0], "format": "scaled"})["data"] == [0.0, 0.0]
    message = sdk.error("transform_data", {"data": [3], "format": "standardized"})
    assert "the standardized transform needs at least 2 value(s), got 1" in message
    assert "at least 1 item" in sdk.error("transform_data", {"data": []})


def test_transform_data_normalizes_a_range_wider_than_a_float_without_overflow(sdk: Demo) -> None:
    assert sdk.ok("transform_data", {"data": [-1e308, 0, 1e308]})["data"] == [0.0, 0.5, 1.0]


def test_analyze_data_computes_mean_median_and_std(sdk: Demo) -> None:
    result = sdk.ok("analyze_data", {"data": [1, 2, 3, 4]})  # the default metrics
    assert result == {"metrics": {"mean": 2.5, "median": 2.5, "std": 1.11803398875}, "count": 4}
    assert result["metrics"]["std"] == pytest.approx(statistics.pstdev([1, 2, 3, 4]))  # population: sqrt(1.25)


def test_analyze_data_computes_every_metric_over_the_population(sdk: Demo) -> None:
    every = ["mean", "median", "std", "variance", "min", "max", "count", "sum"]
    result = sdk.ok("analyze_data", {"data": DATA, "metrics": every})
    assert result == {
        "metrics": {
            "mean": 5.0,
            "median": 4.5,
            "std": 2.0,
            "variance": 4.0,
            "min": 2.0,
            "max": 9.0,
            "count": 8,
            "sum": 40.0,
        },
        "count": 8,
    }


def test_analyze_data_refuses_a_sum_beyond_the_float_range_and_unknown_metrics(sdk: Demo) -> None:
    assert "the sum of these numbers does not fit in a float" in sdk.error(
        "analyze_data", {"data": [1.7e308, 1.7e308], "metrics": ["sum"]}
    )
    assert sdk.ok("analyze_data", {"data": [1.7e308, 1.7e308], "metrics": ["mean", "median"]})["metrics"] == {
        "mean": 1.7e308,
        "median": 1.7e308,
    }
    assert "metrics.0" in sdk.error("analyze_data", {"data": [1], "metrics": ["mode"]})


ANALYSIS = {"metrics": {"mean": 2.5, "median": 2.5, "std": math.sqrt(1.25)}, "count": 4}


def test_generate_report_as_json_gives_the_report_as_structured_content_and_text(sdk: Demo) -> None:
    result = sdk.call("generate_report", {"analysis": ANALYSIS, "title": "Q3"})
    expected = {"title": "Q3", "format": "json", **ANALYSIS}
    assert result.structured_content == expected
    assert json.loads(_text(result)) == expected


def test_generate_report_as_markdown_is_a_table_of_the_metrics(sdk: Demo) -> None:
    result = sdk.call("generate_report", {"analysis": ANALYSIS, "format": "markdown", "title": "Q3"})
    assert _text(result) == (
        "# Q3\n\n| metric | value |\n| --- | --- |\n| mean | 2.5 |\n| median | 2.5 |\n| std | 1.11803 |\n\n"
        "Computed over 4 values.\n"
    )
    assert result.structured_content == {"title": "Q3", "format": "markdown", **ANALYSIS}


def test_generate_report_as_pdf_embeds_a_real_one_page_pdf_resource(sdk: Demo) -> None:
    result = sdk.call("generate_report", {"analysis": ANALYSIS, "format": "pdf", "title": "Q3 latency"})
    assert not result.is_error
    resource = result.content[1]
    assert isinstance(resource, EmbeddedResource)
    assert resource.resource.uri == "report://q3-latency.pdf"
    assert resource.resource.mime_type == "application/pdf"
    pdf = base64.b64decode(resource.resource.blob)  # type: ignore[union-attr]
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) == 1
    drawn = _page_streams(pdf)
    for text in (b"(Q3 latency) Tj", b"(mean) Tj", b"(2.5) Tj", b"(std) Tj", b"(1.11803) Tj"):
        assert text in drawn
    assert result.structured_content == {
        "title": "Q3 latency",
        "format": "pdf",
        **ANALYSIS,
        "uri": "report://q3-latency.pdf",
        "size": len(pdf),
    }


def test_generate_report_draws_characters_beyond_latin_1_as_question_marks(sdk: Demo) -> None:
    result = sdk.call("generate_report", {"analysis": {"metrics": {"µ ☃": 1}}, "format": "pdf", "title": "Snow ☃"})
    blob = result.content[1].resource.blob  # type: ignore[union-attr]
    assert b"(Snow ?) Tj" in _page_streams(base64.b64decode(blob))


def test_generate_report_without_metrics_is_refused(sdk: Demo) -> None:
    assert "analysis.metrics" in sdk.error("generate_report", {"analysis": {"metrics": {}}})
    assert "analysis.metrics" in sdk.error("generate_report", {"analysis": {"count": 3}})


def test_settings_resource_says_what_the_demo_supports(sdk: Demo) -> None:
    (contents,) = sdk.read("config://settings").contents
    assert contents.mime_type == "application/json"
    settings = json.loads(contents.text)  # type: ignore[union-attr]
    assert settings["name"] == "demo"
    assert settings["metrics"] == ["count", "max", "mean", "median", "min", "std", "sum", "variance"]
    assert settings["reportFormats"] == ["json", "markdown", "pdf"]
    assert settings["samples"] == ["latencies-ms", "scores", "temperatures"]


def test_sample_template_serves_each_dataset_and_refuses_unknown_names(sdk: Demo) -> None:
    (contents,) = sdk.read("data://samples/scores").contents
    assert json.loads(contents.text) == {"name": "scores", "data": [71.0, 85.0, 92.0, 64.0, 88.0, 79.0]}  # type: ignore[union-attr]
    temperatures = json.loads(sdk.read("data://samples/temperatures").contents[0].text)["data"]  # type: ignore[union-attr]
    assert sdk.ok("analyze_data", {"data": temperatures, "metrics": ["mean"]})["metrics"]["mean"] == 15.45
    with pytest.raises(MCPError, match="no sample named 'nope'"):
        sdk.read("data://samples/nope")


def test_summarize_analysis_prompt_asks_for_a_summary_for_the_audience(sdk: Demo) -> None:
    rendered = sdk.prompt("summarize_analysis", {"metrics_json": '{"mean": 2.5}', "audience": "managers"})
    (message,) = rendered.messages
    assert message.role == "user"
    assert isinstance(message.content, TextContent)
    assert message.content.text.startswith("Summarize these statistics for managers in three sentences")
    assert message.content.text.endswith('{\n  "mean": 2.5\n}')


# --- through the bridge's REST API ----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Iterator[Bridge]:
    with in_process_bridge([demo_server()]) as running:
        yield running


@pytest.fixture
def dc(demo: Bridge) -> FlaskClient:
    client: FlaskClient = demo.app.test_client()
    return client


def body(response: TestResponse) -> Any:
    """The response's JSON body (Flask types it as optional)."""
    return response.json


def call(dc: FlaskClient, tool: str, arguments: dict[str, object]) -> dict[str, Any]:
    response = dc.post(f"/servers/demo/tools/{tool}", json=arguments)
    assert response.status_code == 200, body(response)
    result: dict[str, Any] = body(response)
    return result


def test_demo_lists_the_guides_tools_with_rich_schemas(dc: FlaskClient) -> None:
    tools = {t["name"]: t for t in body(dc.get("/servers/demo/tools"))["tools"]}
    assert set(tools) == TOOLS
    metrics = tools["analyze_data"]["inputSchema"]["properties"]["metrics"]
    assert metrics["items"]["enum"] == ["mean", "median", "std", "variance", "min", "max", "count", "sum"]
    assert tools["analyze_data"]["outputSchema"]["properties"]["count"]["type"] == "integer"


def test_process_data_answers_the_guides_example_with_a_json_summary(dc: FlaskClient) -> None:
    result = call(dc, "process_data", {"input": "test data", "format": "json"})
    summary = {"kind": "text", "count": 1, "characters": 9, "words": 2, "lines": 1, "value": "test data"}
    assert result["content"] == [{"type": "text", "text": json.dumps(summary, indent=2)}]
    assert (result["structuredContent"], result["isError"]) == (summary, False)
    told = call(dc, "process_data", {"input": "test data", "format": "text"})
    assert told["content"] == [{"type": "text", "text": "text: 1 line, 2 words, 9 characters"}]
    assert told["structuredContent"] == summary


def test_process_data_with_bad_json_is_a_422_tool_error(dc: FlaskClient) -> None:
    response = dc.post("/servers/demo/tools/process_data", json={"input": "{oops", "input_format": "json"})
    assert response.status_code == 422
    said = "Error executing tool process_data: input is not valid JSON: line 1 column 2:"
    said += " Expecting property name enclosed in double quotes"
    assert body(response) == {
        "type": "https://mcp-rest-bridge.dev/problems/tool-error",
        "title": "The tool reported an error",
        "status": 422,
        "detail": f"tool 'demo.process_data' failed: {said}",
        "content": [{"type": "text", "text": said}],
        "instance": "/servers/demo/tools/process_data",
    }


def test_analyze_data_over_rest_computes_mean_median_and_std(dc: FlaskClient) -> None:
    result = call(dc, "analyze_data", {"data": [1, 2, 3, 4], "metrics": ["mean", "median", "std", "max"]})
    assert result["structuredContent"] == {
        "metrics": {"mean": 2.5, "median": 2.5, "std": 1.11803398875, "max": 4.0},
        "count": 4,
    }


def test_unknown_metric_is_refused_before_the_upstream(dc: FlaskClient) -> None:
    response = dc.post("/servers/demo/tools/analyze_data", json={"data": [1], "metrics": ["mode"]})
    assert response.status_code == 400
    refusal = '"mode" is not one of "mean", "median" or 6 other candidates'
    assert body(response) == {
        "type": "https://mcp-rest-bridge.dev/problems/invalid-request",
        "title": "Request is invalid",
        "status": 400,
        "detail": f"invalid arguments for tool 'demo.analyze_data': /body/metrics/0: {refusal}",
        "errors": [{"pointer": "/body/metrics/0", "message": refusal}],
        "instance": "/servers/demo/tools/analyze_data",
    }


def test_generate_report_returns_a_real_pdf_as_an_embedded_resource(dc: FlaskClient) -> None:
    result = call(
        dc,
        "generate_report",
        {"analysis": {"metrics": {"mean": 2.5}, "count": 4}, "format": "pdf", "title": "Q3"},
    )
    (resource,) = [b["resource"] for b in result["content"] if b["type"] == "resource"]
    assert resource["mimeType"] == "application/pdf"
    assert resource["uri"] == "report://q3.pdf"
    pdf = base64.b64decode(resource["blob"])
    assert pdf.startswith(b"%PDF-")
    assert b"/Type /Page" in pdf
    assert result["structuredContent"]["size"] == len(pdf)


def test_generate_report_as_markdown_and_json(dc: FlaskClient) -> None:
    analysis = {"metrics": {"mean": 2.5}, "count": 4}
    markdown = call(dc, "generate_report", {"analysis": analysis, "format": "markdown"})
    assert "| mean | 2.5 |" in markdown["content"][0]["text"]
    as_json = call(dc, "generate_report", {"analysis": analysis})
    expected = {"title": "Analysis report", "format": "json", **analysis}
    assert as_json["structuredContent"] == expected
    assert json.loads(as_json["content"][0]["text"]) == expected


def test_settings_resource_and_samples_template(dc: FlaskClient) -> None:
    settings = json.loads(
        body(dc.get("/resources/read", query_string={"uri": "config://settings"}))["contents"][0]["text"]
    )
    assert settings["inputFormats"] == ["auto", "json", "csv", "text"]
    assert settings["outputFormats"] == ["json", "text"]
    assert settings["reportFormats"] == ["json", "markdown", "pdf"]
    sample = body(dc.get("/resources/read", query_string={"uri": "data://samples/scores"}))
    assert json.loads(sample["contents"][0]["text"])["data"] == [71.0, 85.0, 92.0, 64.0, 88.0, 79.0]


def test_summarize_prompt_renders(dc: FlaskClient) -> None:
    rendered = dc.post("/prompts/summarize_analysis", json={"metrics_json": '{"mean": 2}', "audience": "managers"})
    assert rendered.status_code == 200
    assert "for managers" in body(rendered)["messages"][0]["content"]["text"]


def test_with_a_single_server_json_rpc_uses_the_servers_own_tool_names(dc: FlaskClient) -> None:
    response = dc.post("/mcp", json={"jsonrpc": "2.0", "method": "tools/list", "id": 7})
    names = {tool["name"] for tool in body(response)["result"]["tools"]}
    assert names == TOOLS
    called = dc.post(
        "/mcp",
        json={
            "jsonrpc": "2.0",
            "method": "tools/call",
            "params": {"name": "process_data", "arguments": {"input": "[1, 2]", "format": "json"}},
            "id": 8,
        },
    )
    assert body(called)["result"]["structuredContent"]["count"] == 2
