"""The bundled demo MCP server: data tools that really compute, run as a stdio child.

``mcp-bridge serve`` fronts it when no ``--config`` is given, so the README's examples work on
a fresh machine: validate → transform → analyze → report (JSON, Markdown, or a real PDF).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Annotated, Any, Literal

import mcp_types as types
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from bridge.demo import analysis as stats
from bridge.demo.analysis import DataError, Metric, Transform

__all__ = ["SAMPLES", "SETTINGS", "create_server"]

VERSION = "1.0.0"
SAMPLES: dict[str, list[float]] = {
    "temperatures": [12.5, 14.1, 13.8, 15.2, 16.9, 18.4, 17.7, 15.0],
    "latencies-ms": [102.0, 98.5, 110.2, 97.1, 250.4, 101.3, 99.9],
    "scores": [71.0, 85.0, 92.0, 64.0, 88.0, 79.0],
}
SETTINGS: dict[str, Any] = {
    "name": "demo",
    "version": VERSION,
    "formats": ["json", "csv", "text"],
    "transforms": ["normalized", "standardized", "scaled", "sorted"],
    "metrics": sorted(stats.METRICS),
    "reportFormats": ["json", "markdown", "pdf"],
    "statistics": "population (std and variance divide by n)",
    "samples": sorted(SAMPLES),
}

Numbers = Annotated[list[float], Field(min_length=1, description="The numbers to work on.")]


class ValidationIssue(BaseModel):
    index: int
    value: Any = None
    message: str


class Validation(BaseModel):
    valid: bool = Field(description="True when every item was a finite number.")
    data: list[float] = Field(description="The numbers kept, numeric strings converted.")
    errors: list[ValidationIssue]
    count: int
    rejected: int


class Transformed(BaseModel):
    format: Transform
    data: list[float]
    count: int


class Analysis(BaseModel):
    metrics: dict[str, float]
    count: int


def _failing(exc: DataError) -> ToolError:
    return ToolError(str(exc))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "report"


def create_server() -> MCPServer:
    server = MCPServer("demo", version=VERSION, instructions="Data tools: validate, transform, analyze, report.")

    @server.tool(description="Parse input text as JSON, CSV (with a header line) or plain text and describe it.")
    def process_data(
        input: Annotated[str, Field(description="The data as text.")],
        format: Annotated[Literal["json", "csv", "text"], Field(description="How to read the input.")] = "json",
    ) -> dict[str, Any]:
        try:
            return stats.parse_input(input, format)
        except DataError as exc:
            raise _failing(exc) from exc

    @server.tool(description="Keep the finite numbers of a list (numeric strings converted) and report the rest.")
    def validate_data(
        data: Annotated[
            list[float | int | str | bool | None],
            Field(description="Items to check; numbers or numeric strings."),
        ],
    ) -> Validation:
        return Validation.model_validate(stats.validate(data))

    @server.tool(description="Rescale numbers: normalized (min-max to [0, 1]), standardized (z), scaled, sorted.")
    def transform_data(data: Numbers, format: Transform = "normalized") -> Transformed:
        try:
            values = stats.transform(data, format)
        except DataError as exc:
            raise _failing(exc) from exc
        return Transformed(format=format, data=values, count=len(values))

    @server.tool(description="Population statistics over numbers: mean, median, std, variance, min, max, count, sum.")
    def analyze_data(
        data: Numbers,
        metrics: Annotated[list[Metric], Field(min_length=1, description="Which statistics to compute.")] = [  # noqa: B006 - the SDK copies defaults into the schema
            "mean",
            "median",
            "std",
        ],
    ) -> Analysis:
        try:
            return Analysis.model_validate(stats.analyze(data, metrics))
        except DataError as exc:
            raise _failing(exc) from exc

    @server.tool(
        description="Render an analysis ({'metrics': {...}}) as JSON, a Markdown table, or a PDF resource.",
        structured_output=False,
    )
    def generate_report(
        analysis: Annotated[dict[str, Any], Field(description="The output of analyze_data.")],
        format: Literal["json", "markdown", "pdf"] = "json",
        title: Annotated[str, Field(min_length=1, max_length=120)] = "Analysis report",
    ) -> list[types.ContentBlock]:
        try:
            if format == "markdown":
                return [types.TextContent(type="text", text=stats.markdown_report(analysis, title))]
            if format == "pdf":
                pdf = stats.pdf_report(analysis, title)
                blob = types.BlobResourceContents(
                    uri=f"report://{_slug(title)}.pdf",
                    mime_type="application/pdf",
                    blob=base64.b64encode(pdf).decode("ascii"),
                )
                return [
                    types.TextContent(type="text", text=f"PDF report '{title}', {len(pdf)} bytes"),
                    types.EmbeddedResource(type="resource", resource=blob),
                ]
            report = {"title": title, **analysis}
            stats.markdown_report(analysis, title)  # same checks as the other formats
            return [types.TextContent(type="text", text=json.dumps(report, indent=2))]
        except DataError as exc:
            raise _failing(exc) from exc

    @server.resource("config://settings", name="settings", mime_type="application/json")
    def settings() -> str:
        return json.dumps(SETTINGS, indent=2)

    @server.resource("data://samples/{name}", name="sample", mime_type="application/json")
    def sample(name: str) -> str:
        if name not in SAMPLES:
            raise ValueError(f"no sample named {name!r}; try one of {sorted(SAMPLES)}")
        return json.dumps({"name": name, "data": SAMPLES[name]})

    @server.prompt(description="Ask for a plain-language summary of an analysis.")
    def summarize_analysis(metrics_json: str, audience: str = "engineers") -> str:
        return (
            f"Summarize these statistics for {audience} in three sentences, noting anything unusual:\n\n{metrics_json}"
        )

    return server
