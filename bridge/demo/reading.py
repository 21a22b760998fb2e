"""What a piece of text holds, for the demo's ``process_data``: JSON, CSV or prose, counted and told.

Any text gets a summary (characters, words, lines); text that is JSON or CSV also gets what it
parses to. How the text is read is either chosen (``json``, ``csv``, ``text``: strict, and input
that is not valid in the chosen format is a :class:`~bridge.demo.analysis.DataError` saying where)
or left to :func:`detect` (``auto``: JSON if it parses as JSON, else CSV if it looks like a table,
else text; never an error). The summary is then told as JSON or as one plain sentence.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict  # pydantic needs this one below Python 3.12

from bridge.demo.analysis import DataError

__all__ = ["Kind", "OutputFormat", "ReadAs", "Summary", "detect", "parse_input", "sentence"]

#: What the text turned out to be.
Kind = Literal["json", "csv", "text"]
#: How to read the text: as one kind, strictly, or ``auto`` to find out.
ReadAs = Literal["auto", "json", "csv", "text"]
#: How the summary is told: ``json`` (the summary itself) or ``text`` (one sentence).
OutputFormat = Literal["json", "text"]
JsonType = Literal["object", "array", "string", "number", "boolean", "null"]


class Summary(TypedDict):
    """What the input holds. count is the number of items (JSON), records (CSV) or lines (text)."""

    kind: Kind
    count: int
    characters: int
    words: int
    lines: int
    type: NotRequired[JsonType]
    value: NotRequired[Any]
    columns: NotRequired[list[str]]
    records: NotRequired[list[dict[str, str]]]


def _summary(kind: Kind, count: int, text: str) -> Summary:
    return {
        "kind": kind,
        "count": count,
        "characters": len(text),
        "words": len(text.split()),
        "lines": len(text.splitlines()),
    }


# --- JSON -------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise DataError(f"input is not valid JSON: {name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise DataError(f"input is not valid JSON: the number {text[:40]} does not fit in a float")
    return value


def _json_type(value: Any) -> JsonType:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _parse_json(text: str) -> Summary:
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise DataError(f"input is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except DataError:
        raise
    except RecursionError as exc:
        raise DataError("input is not usable JSON: it nests too deeply") from exc
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise DataError(f"input is not usable JSON: {exc}") from exc
    summary = _summary("json", len(value) if isinstance(value, list | dict) else 1, text)
    summary["type"] = _json_type(value)
    summary["value"] = value
    return summary


# --- CSV --------------------------------------------------------------------------------------


def _parse_csv(text: str) -> Summary:
    reader = csv.reader(io.StringIO(text), strict=True)
    header: list[str] | None = None
    records: list[dict[str, str]] = []
    try:
        for row in reader:
            if not row:
                continue  # a blank line separates nothing in CSV
            if header is None:
                header = [name.strip() for name in row]
                if "" in header:
                    raise DataError(f"CSV header column {header.index('') + 1} has no name")
                repeated = sorted({name for name in header if header.count(name) > 1})
                if repeated:
                    raise DataError(f"CSV header repeats the column name(s) {', '.join(repeated)}")
                continue
            if len(row) != len(header):
                raise DataError(f"CSV line {reader.line_num} has {len(row)} field(s), the header has {len(header)}")
            records.append(dict(zip(header, row, strict=True)))
    except csv.Error as exc:
        raise DataError(f"input is not valid CSV: line {reader.line_num}: {exc}") from exc
    if header is None:
        raise DataError("input has no CSV header line")
    summary = _summary("csv", len(records), text)
    summary["columns"] = header
    summary["records"] = records
    return summary


# --- text -------------------------------------------------------------------------------------


def _parse_text(text: str) -> Summary:
    summary = _summary("text", len(text.splitlines()), text)
    summary["value"] = text
    return summary


_PARSERS = {"json": _parse_json, "csv": _parse_csv, "text": _parse_text}


def parse_input(text: str, read_as: ReadAs = "auto") -> Summary:
    """Summarize ``text`` read as ``read_as``.

    JSON is strict (no ``NaN``/``Infinity``); CSV needs a header line of distinct, non-empty names
    and rows of the header's width; text is only counted. ``auto`` reads it as :func:`detect` says.
    """
    return _PARSERS[detect(text) if read_as == "auto" else read_as](text)


def detect(text: str) -> Kind:
    """The kind of ``text``: JSON if it parses as JSON; CSV if it is a table (a header of two or
    more distinct names, then at least one row, every row as wide as the header); else text."""
    try:
        _parse_json(text)
    except DataError:
        pass
    else:
        return "json"
    rows = [row for row in text.splitlines() if row.strip()]
    if len(rows) < 2 or "," not in rows[0]:
        return "text"  # a single comma-free line is prose however it is read
    try:
        table = _parse_csv(text)
    except DataError:
        return "text"
    return "csv" if table["count"] and len(table["columns"]) >= 2 else "text"


# --- telling it -------------------------------------------------------------------------------


def _many(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def sentence(summary: Summary) -> str:
    """The summary as one plain sentence, e.g. ``text: 1 line, 2 words, 9 characters``."""
    counts = ", ".join(
        (_many(summary["lines"], "line"), _many(summary["words"], "word"), _many(summary["characters"], "character"))
    )
    if summary["kind"] == "csv":
        columns = summary.get("columns", [])
        what = f"CSV: {_many(summary['count'], 'record')} under {_many(len(columns), 'column')} ({', '.join(columns)})"
    elif summary["kind"] == "json":
        kind = summary.get("type", "value")
        what = f"JSON {kind}"
        if kind == "array":
            what += f" of {_many(summary['count'], 'item')}"
        elif kind == "object":
            what += f" with {_many(summary['count'], 'key')}"
    else:
        what = "text"
    return f"{what}: {counts}"
