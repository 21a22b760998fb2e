"""The bundled demo MCP server: data tools that really compute, run as a stdio child.

``mcp-bridge serve`` fronts it when no ``--config`` is given, so the README's examples work on
a fresh machine: validate → transform → analyze → report (JSON, Markdown, or a real PDF; the
PDF needs the ``demo`` extra, fpdf2, and without it that one format is a tool error saying so).

Built on the official SDK's ``MCPServer``: typed signatures give each tool its ``inputSchema``
(enums, ``minItems``, descriptions) and typed returns its ``outputSchema`` and
``structuredContent``. A refusal raises ``ToolError``, which the SDK answers as a result with
``isError: true`` and the message as text. Nothing here writes to stdout: that is the transport.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Annotated, Any, Literal

import mcp_types as types
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bridge.demo import analysis as stats
from bridge.demo import reading
from bridge.demo.analysis import DataError, Metric, ReportUnavailable, Transform
from bridge.demo.reading import OutputFormat, ReadAs, Summary

__all__ = ["SAMPLES", "SETTINGS", "VERSION", "create_server"]

VERSION = "2.0.0"  # 2: process_data's format became the output's, input_format the input's
ReportFormat = Literal["json", "markdown", "pdf"]

#: Real datasets for ``data://samples/{name}``: daily highs (°C), request latencies, exam scores.
SAMPLES: dict[str, list[float]] = {
    "temperatures": [12.5, 14.1, 13.8, 15.2, 16.9, 18.4, 17.7, 15.0],
    "latencies-ms": [102.0, 98.5, 110.2, 97.1, 250.4, 101.3, 99.9],
    "scores": [71.0, 85.0, 92.0, 64.0, 88.0, 79.0],
}
SETTINGS: dict[str, Any] = {
    "name": "demo",
    "version": VERSION,
    "inputFormats": ["auto", "json", "csv", "text"],
    "outputFormats": ["json", "text"],
    "transforms": ["normalized", "standardized", "scaled", "sorted"],
    "metrics": sorted(stats.METRICS),
    "reportFormats": ["json", "markdown", "pdf"],
    "statistics": "population (std and variance divide by n)",
    "samples": sorted(SAMPLES),
}

#: Every tool only computes on what it is given: no side effects, same answer every time.
PURE = types.ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

Finite = Annotated[float, Field(allow_inf_nan=False)]
Numbers = Annotated[list[Finite], Field(min_length=1, description="The numbers to work on (at least one).")]
MetricName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Step(BaseModel):
    """The result of an earlier step (validate_data, transform_data) whose numbers carry on."""

    model_config = ConfigDict(extra="allow")

    data: Numbers


#: Numbers, or the whole result of the step before, as the integration guide's pipeline passes it.
Dataset = Annotated[
    Numbers | Step,
    Field(description="The numbers to work on (at least one), or the result of validate_data or transform_data."),
]


def _numbers(data: list[float] | Step) -> list[float]:
    return data.data if isinstance(data, Step) else data


class ValidationIssue(BaseModel):
    """An item that is not a finite number."""

    index: int = Field(description="Position of the item in the input list.")
    value: Any = Field(default=None, description="The item as given.")
    message: str = Field(description="Why the item was not kept.")


class Validation(BaseModel):
    """The numbers found in a list, and what was wrong with the rest."""

    valid: bool = Field(description="True when every item was a finite number.")
    data: list[float] = Field(description="The numbers kept, in order, numeric strings converted.")
    errors: list[ValidationIssue] = Field(description="One entry per item not kept.")
    count: int = Field(description="How many numbers were kept.")
    rejected: int = Field(description="How many items were not kept.")


class Transformed(BaseModel):
    """Rescaled numbers, in input order (except for sorted)."""

    format: Transform = Field(description="The transform applied.")
    data: list[float] = Field(description="The transformed numbers.")
    count: int = Field(description="How many numbers.")


class Analysis(BaseModel):
    """Statistics over a list of numbers."""

    metrics: dict[str, float] = Field(description="Each requested metric by name (count is an integer).")
    count: int = Field(description="How many numbers were analyzed.")


class ReportInput(BaseModel):
    """An analysis to report: what analyze_data answers."""

    metrics: dict[MetricName, Finite] = Field(
        min_length=1, max_length=100, description="Metric values by name, e.g. {'mean': 2.5}."
    )
    count: int | None = Field(default=None, ge=0, description="How many values the metrics cover.")


class Report(BaseModel):
    """The report's contents; the rendered report itself is in the result's content."""

    title: str = Field(description="The report's title.")
    format: ReportFormat = Field(description="How the report was rendered.")
    metrics: dict[str, float] = Field(description="The metrics reported.")
    count: int | None = Field(default=None, description="How many values the metrics cover, when known.")
    uri: str | None = Field(default=None, description="PDF only: the URI of the embedded PDF resource.")
    size: int | None = Field(default=None, description="PDF only: the PDF's size in bytes.")


def _failing(exc: DataError | ReportUnavailable) -> ToolError:
    return ToolError(str(exc))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-") or "report"


def _report(analysis: ReportInput, format: ReportFormat, title: str) -> types.CallToolResult:
    data = analysis.model_dump(exclude_none=True)
    report = Report(title=title, format=format, metrics=analysis.metrics, count=analysis.count)
    if format == "markdown":
        markdown = stats.markdown_report(data, title)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=markdown)],
            structured_content=report.model_dump(mode="json", exclude_none=True),
        )
    if format == "json":
        structured = report.model_dump(mode="json", exclude_none=True)
        stats.markdown_report(data, title)  # the same checks as the other formats
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(structured, indent=2))],
            structured_content=structured,
        )
    pdf = stats.pdf_report(data, title)
    report.uri, report.size = f"report://{_slug(title)}.pdf", len(pdf)
    blob = types.BlobResourceContents(
        uri=report.uri, mime_type="application/pdf", blob=base64.b64encode(pdf).decode("ascii")
    )
    return types.CallToolResult(
        content=[
            types.TextContent(type="text", text=f"PDF report '{title}': {len(pdf)} bytes at {report.uri}"),
            types.EmbeddedResource(type="resource", resource=blob),
        ],
        structured_content=report.model_dump(mode="json", exclude_none=True),
    )


def create_server() -> MCPServer:
    """The demo server, ready for ``.run("stdio")``."""
    server = MCPServer(
        "demo",
        version=VERSION,
        instructions=(
            "Data tools that compute for real. Chain them: validate_data → transform_data → analyze_data → "
            "generate_report, passing each result's structuredContent on. process_data summarizes any text "
            "(and parses JSON and CSV), told as JSON or as a sentence."
        ),
    )

    @server.tool(
        title="Process data",
        description=(
            "Summarize text: characters, words and lines, and what it parses to when it is JSON (the value and "
            "its type) or CSV (the columns and records under the header line). format is how the answer is "
            "told: json gives the summary as JSON, text as one sentence; structuredContent is the summary "
            "either way. input_format auto reads JSON if the input parses as JSON, CSV if it is a table (a "
            "header of 2 or more names and rows of its width), else text; json, csv or text read it strictly "
            "as that, and input that is not valid in it is an error that says where."
        ),
        annotations=PURE,
    )
    def process_data(
        input: Annotated[str, Field(description="The data as text, e.g. 'test data', '[1, 2, 3]' or 'a,b\\n1,2'.")],
        format: Annotated[OutputFormat, Field(description="How to tell the summary: json or text.")] = "json",
        input_format: Annotated[
            ReadAs, Field(description="How to read the input: auto (find out), or strictly as json, csv or text.")
        ] = "auto",
    ) -> Annotated[types.CallToolResult, Summary]:
        try:
            summary = reading.parse_input(input, input_format)
        except DataError as exc:
            raise _failing(exc) from exc
        told = json.dumps(summary, indent=2) if format == "json" else reading.sentence(summary)
        text = types.TextContent(type="text", text=told)
        return types.CallToolResult(content=[text], structured_content=dict(summary))

    @server.tool(
        title="Validate data",
        description=(
            "Check every item of a list: finite numbers are kept and numeric strings ('2.5') converted; "
            "null, booleans, other strings, NaN and infinities are reported by index. valid is true when "
            "nothing was rejected."
        ),
        annotations=PURE,
    )
    def validate_data(
        data: Annotated[
            list[float | int | str | bool | None],
            Field(description="Items to check: numbers, numeric strings, or anything else to be reported."),
        ],
    ) -> Validation:
        return Validation.model_validate(stats.validate(data))

    @server.tool(
        title="Transform data",
        description=(
            "Rescale numbers. normalized: min-max to [0, 1] (constant data gives zeros); standardized: "
            "z-scores with the population standard deviation (needs 2 values; constant data gives zeros); "
            "scaled: divided by the largest magnitude, into [-1, 1]; sorted: ascending."
        ),
        annotations=PURE,
    )
    def transform_data(
        data: Dataset,
        format: Annotated[Transform, Field(description="Which transform to apply.")] = "normalized",
    ) -> Transformed:
        try:
            values = stats.transform(_numbers(data), format)
        except DataError as exc:
            raise _failing(exc) from exc
        return Transformed(format=format, data=values, count=len(values))

    @server.tool(
        title="Analyze data",
        description=(
            "Statistics over numbers: mean, median, std, variance, min, max, count, sum. std and variance are "
            "the population ones (divide by n): the list is the whole set being described. Values are rounded "
            "to 12 decimals."
        ),
        annotations=PURE,
    )
    def analyze_data(
        data: Dataset,
        metrics: Annotated[list[Metric], Field(min_length=1, description="Which statistics to compute.")] = [  # noqa: B006 - the SDK copies defaults into the schema
            "mean",
            "median",
            "std",
        ],
    ) -> Analysis:
        try:
            return Analysis.model_validate(stats.analyze(_numbers(data), metrics))
        except DataError as exc:
            raise _failing(exc) from exc

    @server.tool(
        title="Generate report",
        description=(
            "Render an analysis ({'metrics': {name: value}, 'count': n}, as analyze_data answers) as JSON, "
            "a Markdown table, or a one-page PDF returned as an embedded application/pdf resource "
            "(report://<title>.pdf, base64). structuredContent always summarizes the report."
        ),
        annotations=PURE,
    )
    def generate_report(
        analysis: Annotated[ReportInput, Field(description="The analysis to report (analyze_data's result).")],
        format: Annotated[ReportFormat, Field(description="How to render the report.")] = "json",
        title: Annotated[str, Field(min_length=1, max_length=120, description="The report's title.")] = (
            "Analysis report"
        ),
    ) -> Annotated[types.CallToolResult, Report]:
        try:
            return _report(analysis, format, title)
        except (DataError, ReportUnavailable) as exc:
            raise _failing(exc) from exc

    @server.resource(
        "config://settings",
        name="settings",
        title="Demo settings",
        description="What the demo supports: input formats, transforms, metrics, report formats, samples.",
        mime_type="application/json",
    )
    def settings() -> str:
        return json.dumps(SETTINGS, indent=2)

    @server.resource(
        "data://samples/{name}",
        name="sample",
        title="Sample dataset",
        description=f"A sample dataset as {{'name', 'data'}}; names: {', '.join(sorted(SAMPLES))}.",
        mime_type="application/json",
    )
    def sample(name: str) -> str:
        if name not in SAMPLES:
            raise ResourceNotFoundError(f"no sample named {name!r}; try one of {', '.join(sorted(SAMPLES))}")
        return json.dumps({"name": name, "data": SAMPLES[name]})

    @server.prompt(
        title="Summarize an analysis",
        description="Ask for a short plain-language summary of analyze_data's metrics for a given audience.",
    )
    def summarize_analysis(
        metrics_json: Annotated[str, Field(description="The metrics as JSON, e.g. analyze_data's result.")],
        audience: Annotated[str, Field(description="Who the summary is for.")] = "engineers",
    ) -> str:
        try:
            shown = json.dumps(json.loads(metrics_json), indent=2)
        except (ValueError, RecursionError):
            shown = metrics_json  # not JSON: pass it on as given
        return f"Summarize these statistics for {audience} in three sentences, noting anything unusual:\n\n{shown}"

    return server
