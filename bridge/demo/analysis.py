"""The demo's data work, free of MCP: parsing, validation, transforms, statistics, reports.

Kept apart from the server so the numbers can be read and tested on their own.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any, Literal

from fpdf import FPDF

__all__ = [
    "METRICS",
    "DataError",
    "analyze",
    "markdown_report",
    "parse_input",
    "pdf_report",
    "transform",
    "validate",
]

Metric = Literal["mean", "median", "std", "variance", "min", "max", "count", "sum"]
Transform = Literal["normalized", "standardized", "scaled", "sorted"]


class DataError(ValueError):
    """The data cannot be used for what was asked; the message says why."""


def parse_input(text: str, fmt: Literal["json", "csv", "text"]) -> dict[str, Any]:
    """Parse ``text`` in ``fmt`` and describe what it holds."""
    if fmt == "json":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"input is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
        kind = type(value).__name__ if value is not None else "null"
        size = len(value) if isinstance(value, list | dict) else 1
        return {"format": "json", "type": kind, "count": size, "value": value, "characters": len(text)}
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        if not rows:
            raise DataError("input has no CSV rows below a header line")
        columns = list(rows[0].keys())
        return {
            "format": "csv",
            "columns": columns,
            "count": len(rows),
            "records": rows,
            "characters": len(text),
        }
    lines = text.splitlines()
    words = text.split()
    return {
        "format": "text",
        "count": len(lines),
        "lines": len(lines),
        "words": len(words),
        "characters": len(text),
        "value": text,
    }


def _number(item: Any) -> float | None:
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, int | float):
        return float(item) if math.isfinite(item) else None
    if isinstance(item, str):
        try:
            value = float(item.strip())
        except ValueError:
            return None
        return value if math.isfinite(value) else None
    return None


def validate(data: Sequence[Any]) -> dict[str, Any]:
    """Keep the finite numbers (numeric strings converted); report every other item."""
    kept: list[float] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(data):
        value = _number(item)
        if value is None:
            errors.append({"index": index, "value": item, "message": "not a finite number"})
        else:
            kept.append(value)
    return {"valid": not errors, "data": kept, "errors": errors, "count": len(kept), "rejected": len(errors)}


def _require(data: Sequence[float], at_least: int, what: str) -> None:
    if len(data) < at_least:
        raise DataError(f"{what} needs at least {at_least} value(s), got {len(data)}")


def transform(data: Sequence[float], how: Transform) -> list[float]:
    """Rescale ``data``: min-max to [0, 1], z-scores, divide by the largest magnitude, or sort."""
    _require(data, 1, f"the {how} transform")
    if how == "sorted":
        return sorted(data)
    if how == "normalized":
        low, high = min(data), max(data)
        if high == low:
            return [0.0 for _ in data]  # all equal: every value sits at the bottom of a zero range
        return [(x - low) / (high - low) for x in data]
    if how == "standardized":
        _require(data, 2, "the standardized transform")
        mean, std = statistics.fmean(data), statistics.pstdev(data)
        if std == 0:
            return [0.0 for _ in data]
        return [(x - mean) / std for x in data]
    peak = max(abs(x) for x in data)
    return [x / peak if peak else 0.0 for x in data]


#: Population statistics: the data handed over is the whole set being described, not a sample.
METRICS: dict[str, Callable[[Sequence[float]], float]] = {
    "mean": statistics.fmean,
    "median": statistics.median,
    "std": statistics.pstdev,
    "variance": statistics.pvariance,
    "min": min,
    "max": max,
    "count": lambda d: float(len(d)),
    "sum": math.fsum,
}


def analyze(data: Sequence[float], metrics: Sequence[Metric]) -> dict[str, Any]:
    _require(data, 1, "analysis")
    results: dict[str, float | int] = {}
    for name in metrics:
        value = METRICS[name](data)
        results[name] = int(value) if name == "count" else round(value, 12)
    return {"metrics": results, "count": len(data)}


def _rows(analysis: dict[str, Any]) -> list[tuple[str, str]]:
    metrics = analysis.get("metrics", analysis)
    if not isinstance(metrics, dict) or not metrics:
        raise DataError("the analysis has no metrics to report (expected {'metrics': {name: value}})")
    return [(str(k), f"{v:.6g}" if isinstance(v, int | float) else str(v)) for k, v in metrics.items()]


def markdown_report(analysis: dict[str, Any], title: str) -> str:
    lines = [f"# {title}", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in _rows(analysis)]
    if "count" in analysis:
        lines += ["", f"Computed over {analysis['count']} values."]
    return "\n".join(lines) + "\n"


def pdf_report(analysis: dict[str, Any], title: str) -> bytes:
    """A one-page PDF with the title and a table of the metrics."""
    rows = _rows(analysis)
    pdf = FPDF()
    pdf.set_creator("mcp-rest-bridge demo")
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 12, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=12)
    with pdf.table(col_widths=(60, 60), text_align=("LEFT", "RIGHT")) as table:
        table.row(("metric", "value"))
        for name, value in rows:
            table.row((name, value))
    if "count" in analysis:
        pdf.ln(6)
        pdf.cell(0, 8, f"Computed over {analysis['count']} values.")
    return bytes(pdf.output())
