"""Chain the demo's tools over the bridge's REST API: validate → transform → analyze → PDF report.

    make run                                       # in one shell
    python examples/pipeline.py --out report.pdf   # in another

Only ``requests`` is needed: every step is a plain ``POST /servers/{server}/tools/{tool}`` of the
tool's arguments, and each step's ``structuredContent`` feeds the next. The PDF comes back as an
MCP embedded resource (``application/pdf``, base64) and is written to ``--out``. A refused step
stops the pipeline with the bridge's problem detail and exit status 1.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

DEFAULT_DATA: list[Any] = [12.5, "14.1", 13.8, None, 15.2, 16.9, "n/a", 18.4]
METRICS = ["mean", "median", "std", "min", "max", "count"]


class PipelineError(RuntimeError):
    """A step failed; the message names the tool and carries the bridge's problem detail."""


def _problem(response: requests.Response) -> str:
    """``status title: detail`` from an ``application/problem+json`` answer, or the raw text."""
    try:
        problem = response.json()
    except ValueError:
        return f"{response.status_code} {response.text[:500]}"
    if not isinstance(problem, dict):
        return f"{response.status_code} {response.text[:500]}"
    message = f"{problem.get('status', response.status_code)} {problem.get('title', response.reason)}"
    if problem.get("detail"):
        message += f": {problem['detail']}"
    for error in problem.get("errors") or []:
        if isinstance(error, dict):
            message += f"\n  {error.get('pointer', '')}: {error.get('message', error.get('detail', ''))}"
    return message


def call_tool(
    session: requests.Session, base_url: str, server: str, tool: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    """One tool call through the bridge; the tool's result (``content``, ``structuredContent``, ``isError``)."""
    url = f"{base_url}/servers/{quote(server, safe='')}/tools/{quote(tool, safe='')}"
    response = session.post(url, json=arguments, timeout=60)
    if not response.ok:
        raise PipelineError(f"{tool}: {_problem(response)}")
    try:
        result = response.json()
    except ValueError as exc:
        raise PipelineError(f"{tool}: the bridge answered {response.status_code} without JSON") from exc
    if not isinstance(result, dict):
        raise PipelineError(f"{tool}: the bridge answered {response.status_code} with JSON that is not a tool result")
    if result.get("isError"):  # the bridge answers these as 422 problems; a plain MCP relay might not
        texts = [block.get("text", "") for block in result.get("content", []) if block.get("type") == "text"]
        raise PipelineError(f"{tool}: {' '.join(texts) or 'the tool reported an error'}")
    return result


def _structured(result: dict[str, Any], tool: str) -> dict[str, Any]:
    structured = result.get("structuredContent")
    if not isinstance(structured, dict):
        raise PipelineError(f"{tool}: the result has no structuredContent")
    return structured


def run_pipeline(base_url: str, data: list[Any], api_key: str | None = None, server: str = "demo") -> dict[str, Any]:
    """Run the four steps; return each step's structuredContent, the report's URI and the PDF's bytes."""
    base_url = base_url.rstrip("/")
    with requests.Session() as session:
        if api_key:
            session.headers["Authorization"] = f"Bearer {api_key}"

        def step(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
            return call_tool(session, base_url, server, tool, arguments)

        validated = _structured(step("validate_data", {"data": data}), "validate_data")
        if not validated["data"]:
            raise PipelineError(f"validate_data: no numbers among the {len(data)} item(s) given")
        transformed = _structured(
            step("transform_data", {"data": validated["data"], "format": "normalized"}), "transform_data"
        )
        analysis = _structured(step("analyze_data", {"data": transformed["data"], "metrics": METRICS}), "analyze_data")
        report = step(
            "generate_report",
            {
                "analysis": {"metrics": analysis["metrics"], "count": analysis["count"]},
                "format": "pdf",
                "title": "Pipeline",
            },
        )
    embedded = next(
        (
            block["resource"]
            for block in report.get("content", [])
            if block.get("type") == "resource" and block.get("resource", {}).get("mimeType") == "application/pdf"
        ),
        None,
    )
    if embedded is None or "blob" not in embedded:
        raise PipelineError("generate_report: the result has no embedded application/pdf resource")
    pdf = base64.b64decode(embedded["blob"])
    if not pdf.startswith(b"%PDF"):
        raise PipelineError("generate_report: the embedded resource is not a PDF")
    return {
        "validated": validated,
        "transformed": transformed,
        "analysis": analysis,
        "report_uri": embedded["uri"],
        "pdf": pdf,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the bridge's base URL")
    parser.add_argument("--api-key", help="sent as 'Authorization: Bearer KEY'")
    parser.add_argument("--server", default="demo", help="the bridge's name for the demo server")
    parser.add_argument("--out", type=Path, default=Path("report.pdf"), help="where to write the PDF")
    parser.add_argument("--data", type=json.loads, default=DEFAULT_DATA, help="a JSON list of values to run on")
    args = parser.parse_args(argv)
    if not isinstance(args.data, list):
        parser.error("--data must be a JSON list")
    try:
        result = run_pipeline(args.url, args.data, api_key=args.api_key, server=args.server)
    except PipelineError as exc:
        print(f"pipeline failed: {exc}", file=sys.stderr)
        return 1
    except requests.RequestException as exc:
        print(f"pipeline failed: cannot reach the bridge at {args.url}: {exc}", file=sys.stderr)
        return 1
    args.out.write_bytes(result["pdf"])
    validated = result["validated"]
    print(f"validated: kept {validated['count']}, rejected {validated['rejected']}")
    print("normalized:", ", ".join(f"{x:.3g}" for x in result["transformed"]["data"]))
    print("analysis:", ", ".join(f"{k}={v:.4g}" for k, v in result["analysis"]["metrics"].items()))
    print(f"report: {args.out} ({len(result['pdf'])} bytes, {result['report_uri']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
