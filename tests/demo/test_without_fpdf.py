"""The demo without its extra (fpdf2): it starts and serves, and only a PDF report is a tool error saying why."""

import asyncio
import sys

import pytest
from mcp import Client
from mcp_types import CallToolResult, TextContent

from bridge.demo import create_server

ANALYSIS = {"metrics": {"mean": 2.5}, "count": 4}


def test_a_pdf_report_is_a_tool_error_naming_the_extra_and_other_formats_still_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "fpdf", None)  # what an install without the demo extra sees

    async def run() -> tuple[CallToolResult, CallToolResult]:
        async with Client(create_server()) as client:
            pdf = await client.call_tool("generate_report", {"analysis": ANALYSIS, "format": "pdf"})
            markdown = await client.call_tool("generate_report", {"analysis": ANALYSIS, "format": "markdown"})
            return pdf, markdown

    pdf, markdown = asyncio.run(run())
    assert (pdf.is_error, pdf.structured_content) == (True, None)
    why = "PDF reports need fpdf2: pip install 'mcp-rest-bridge[demo]'"
    assert pdf.content == [TextContent(type="text", text=f"Error executing tool generate_report: {why}")]
    assert not markdown.is_error
    (table,) = markdown.content
    assert isinstance(table, TextContent)
    assert "| mean | 2.5 |" in table.text
