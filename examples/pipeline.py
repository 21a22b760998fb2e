"""Chain the demo's tools over the bridge's REST API: validate → transform → analyze → PDF report.

    make run                                   # in one shell
    python examples/pipeline.py --out report.pdf   # in another

Only ``requests`` is needed: every step is a plain POST of the tool's arguments, and each step's
``structuredContent`` feeds the next.
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path
from typing import Any

import requests

DEFAULT_DATA: list[Any] = [12.5, "14.1", 13.8, None, 15.2, 16.9, "n/a", 18.4]


class PipelineError(RuntimeError):
    """A step failed; the message is the bridge's problem detail."""


def call_tool(
    session: requests.Session, base_url: str, server: str, tool: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    response = session.post(f"{base_url}/servers/{server}/tools/{tool}", json=arguments, timeout=60)
    if not response.ok:
        problem = response.json() if "json" in response.headers.get("Content-Type", "") else {}
        raise PipelineError(f"{tool}: {response.status_code} {problem.get('detail', response.text)}")
    result: dict[str, Any] = response.json()
    return result


def run_pipeline(base_url: str, data: list[Any], api_key: str | None = None, server: str = "demo") -> dict[str, Any]:
    """Run the four steps and return each step's result, the PDF's bytes included."""
    session = requests.Session()
    if api_key:
        session.headers["Authorization"] = f"Bearer {api_key}"
    base_url = base_url.rstrip("/")

    validated = call_tool(session, base_url, server, "validate_data", {"data": data})["structuredContent"]
    transformed = call_tool(
        session, base_url, server, "transform_data", {"data": validated["data"], "format": "normalized"}
    )["structuredContent"]
    analysis = call_tool(
        session,
        base_url,
        server,
        "analyze_data",
        {"data": transformed["data"], "metrics": ["mean", "median", "std", "min", "max", "count"]},
    )["structuredContent"]
    report = call_tool(
        session,
        base_url,
        server,
        "generate_report",
        {"analysis": analysis, "format": "pdf", "title": "Pipeline"},
    )
    embedded = next(block["resource"] for block in report["content"] if block["type"] == "resource")
    return {
        "validated": validated,
        "transformed": transformed,
        "analysis": analysis,
        "report_uri": embedded["uri"],
        "pdf": base64.b64decode(embedded["blob"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key")
    parser.add_argument("--server", default="demo")
    parser.add_argument("--out", type=Path, default=Path("report.pdf"))
    args = parser.parse_args()
    try:
        result = run_pipeline(args.url, DEFAULT_DATA, api_key=args.api_key, server=args.server)
    except (PipelineError, requests.RequestException) as exc:
        print(f"pipeline failed: {exc}", file=sys.stderr)
        return 1
    args.out.write_bytes(result["pdf"])
    validated = result["validated"]
    print(f"validated: kept {validated['count']}, rejected {validated['rejected']}")
    print("analysis:", ", ".join(f"{k}={v:.4g}" for k, v in result["analysis"]["metrics"].items()))
    print(f"report: {args.out} ({len(result['pdf'])} bytes, {result['report_uri']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
