"""The demo's data work, free of MCP: validation, transforms, statistics, reports.

Kept apart from the server so the numbers can be read and tested on their own. Every refusal is a
:class:`DataError` whose message says what is wrong with the data; the server turns it into a tool
error (``isError: true``). Results are always finite numbers: a computation that would overflow a
float is refused rather than answered with ``inf`` or ``NaN``, which JSON cannot carry.

PDF reports need fpdf2, the ``demo`` extra: it is imported only when a PDF is drawn, so the demo
(and the bridge, which never imports it) start without it, and asking for a PDF then raises
:class:`ReportUnavailable`, which says how to install it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any, Literal

__all__ = [
    "METRICS",
    "PDF_NEEDS_FPDF",
    "DataError",
    "ReportUnavailable",
    "analyze",
    "markdown_report",
    "pdf_report",
    "transform",
    "validate",
]

Metric = Literal["mean", "median", "std", "variance", "min", "max", "count", "sum"]
Transform = Literal["normalized", "standardized", "scaled", "sorted"]


#: What a PDF report answers when fpdf2 is not installed.
PDF_NEEDS_FPDF = "PDF reports need fpdf2: pip install 'mcp-rest-bridge[demo]'"


class DataError(ValueError):
    """The data cannot be used for what was asked; the message says why."""


class ReportUnavailable(Exception):
    """This install cannot render the report format asked for; the message says what to install."""


# --- validation -------------------------------------------------------------------------------


def _number(item: Any) -> float | None:
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, int | float):
        try:
            value = float(item)
        except OverflowError:  # an integer beyond the float range
            return None
        return value if math.isfinite(value) else None
    if isinstance(item, str):
        try:
            value = float(item.strip())
        except ValueError:
            return None
        return value if math.isfinite(value) else None
    return None


def _why_not(item: Any) -> str:
    if item is None:
        return "missing value (null)"
    if isinstance(item, bool):
        return "a boolean is not a number"
    if isinstance(item, str):
        return f"{item[:40]!r} is not a finite number"
    if isinstance(item, int | float):
        return f"{item} is not a finite number"
    return f"a {type(item).__name__} is not a number"


def validate(data: Sequence[Any]) -> dict[str, Any]:
    """Keep the finite numbers (numeric strings converted); report every other item by index."""
    kept: list[float] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(data):
        value = _number(item)
        if value is None:
            errors.append({"index": index, "value": item, "message": _why_not(item)})
        else:
            kept.append(value)
    return {"valid": not errors, "data": kept, "errors": errors, "count": len(kept), "rejected": len(errors)}


# --- transforms -------------------------------------------------------------------------------


def _require(data: Sequence[float], at_least: int, what: str) -> None:
    if len(data) < at_least:
        raise DataError(f"{what} needs at least {at_least} value(s), got {len(data)}")


def _finite(values: list[float], what: str) -> list[float]:
    if not all(math.isfinite(v) for v in values):
        raise DataError(f"{what} of these numbers does not fit in a float")
    return values


def _rescale(data: Sequence[float], offset: float, scale: float) -> list[float]:
    """``(x - offset) / scale`` for every x, halving everything first if a difference overflows."""
    out = [(x - offset) / scale for x in data]
    if all(math.isfinite(v) for v in out):
        return out
    return [(x / 2 - offset / 2) / (scale / 2) for x in data]


def transform(data: Sequence[float], how: Transform) -> list[float]:
    """Rescale ``data``: min-max to [0, 1], z-scores, divide by the largest magnitude, or sort.

    Degenerate data has a defined answer: constant data normalizes and standardizes to zeros,
    all-zero data scales to zeros. Empty data, and a single value to standardize, are refused.
    """
    _require(data, 1, f"the {how} transform")
    if how == "sorted":
        return sorted(data)
    if how == "normalized":
        low, high = min(data), max(data)
        if high == low:
            return [0.0 for _ in data]  # all equal: every value sits at the bottom of a zero range
        span = high - low
        if math.isinf(span):  # the range overflows a float: halve everything first, exactly
            return [(x / 2 - low / 2) / (high / 2 - low / 2) for x in data]
        return [(x - low) / span for x in data]
    if how == "standardized":
        _require(data, 2, "the standardized transform")
        try:
            mean, std = statistics.mean(data), statistics.pstdev(data)
        except OverflowError as exc:
            raise DataError("the standardized transform of these numbers does not fit in a float") from exc
        if std == 0:
            return [0.0 for _ in data]
        return _finite(_rescale(data, mean, std), "the standardized transform")
    peak = max(abs(x) for x in data)
    return [x / peak if peak else 0.0 for x in data]


# --- statistics -------------------------------------------------------------------------------


def _exact_sum(data: Sequence[float]) -> float:
    try:
        return math.fsum(data)
    except OverflowError:  # an intermediate sum overflowed; the exact one may still fit
        return float(sum((Fraction(x) for x in data), Fraction(0)))


def _median(data: Sequence[float]) -> float:
    ordered = sorted(data)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    low, high = ordered[middle - 1], ordered[middle]
    total = low + high
    return total / 2 if math.isfinite(total) else low / 2 + high / 2


#: Population statistics: the data handed over is the whole set being described, not a sample,
#: so ``std`` and ``variance`` divide by n (``statistics.pstdev``/``pvariance``).
METRICS: dict[str, Callable[[Sequence[float]], float]] = {
    "mean": statistics.mean,  # exact (fractions inside), so large values do not overflow on the way
    "median": _median,
    "std": statistics.pstdev,
    "variance": statistics.pvariance,
    "min": min,
    "max": max,
    "count": lambda d: float(len(d)),
    "sum": _exact_sum,
}


def analyze(data: Sequence[float], metrics: Sequence[Metric]) -> dict[str, Any]:
    """Compute ``metrics`` over ``data``; values are rounded to 12 decimals, ``count`` is an integer."""
    _require(data, 1, "analysis")
    results: dict[str, float | int] = {}
    for name in metrics:
        try:
            value = float(METRICS[name](data))
        except OverflowError as exc:
            raise DataError(f"the {name} of these numbers does not fit in a float") from exc
        if not math.isfinite(value):
            raise DataError(f"the {name} of these numbers does not fit in a float")
        results[name] = int(value) if name == "count" else round(value, 12)
    return {"metrics": results, "count": len(data)}


# --- reports ----------------------------------------------------------------------------------


def _rows(analysis: dict[str, Any]) -> list[tuple[str, str]]:
    metrics = analysis.get("metrics", analysis)
    if not isinstance(metrics, dict) or not metrics:
        raise DataError("the analysis has no metrics to report (expected {'metrics': {name: value}})")
    return [(str(k), f"{v:.6g}" if isinstance(v, int | float) else str(v)) for k, v in metrics.items()]


def _cell(text: str) -> str:
    """One Markdown table cell: no line breaks, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def markdown_report(analysis: dict[str, Any], title: str) -> str:
    """A Markdown heading and a two-column table of the metrics."""
    lines = [f"# {' '.join(title.split())}", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {_cell(name)} | {_cell(value)} |" for name, value in _rows(analysis)]
    if analysis.get("count") is not None:
        lines += ["", f"Computed over {analysis['count']} values."]
    return "\n".join(lines) + "\n"


def pdf_report(analysis: dict[str, Any], title: str) -> bytes:
    """A PDF with the title and a table of the metrics (one page unless there are very many).

    The PDF's core font covers Latin-1; other characters are drawn as ``?`` (the document's
    metadata title keeps them).
    """
    rows = _rows(analysis)
    try:
        from fpdf import FPDF  # the demo extra: only a PDF report needs it
    except ImportError as exc:
        raise ReportUnavailable(PDF_NEEDS_FPDF) from exc
    pdf = FPDF()
    encoding: str = pdf.core_fonts_encoding

    def drawable(text: str) -> str:
        return text.encode(encoding, "replace").decode(encoding)

    pdf.set_creator("mcp-rest-bridge demo")
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 10, drawable(title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", size=12)
    with pdf.table(col_widths=(60, 60), text_align=("LEFT", "RIGHT")) as table:
        table.row(("metric", "value"))
        for name, value in rows:
            table.row((drawable(name), drawable(value)))
    if analysis.get("count") is not None:
        pdf.ln(6)
        pdf.cell(0, 8, f"Computed over {analysis['count']} values.")
    return bytes(pdf.output())
