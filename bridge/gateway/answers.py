"""The lean answer to a tool call: the part of its result a caller asked for with ``Prefer``.

A tool with structured output sends it twice: as ``structuredContent`` and as the text block the
SDK serialises it to. A caller that wants one of the two says ``Prefer: return=structured`` or
``Prefer: return=content`` (RFC 7240); every edge that answers tool calls asks ``lean_answer``
which body to send and what to put in ``Preference-Applied``. A preference that cannot be
honoured is ignored, as RFC 7240 asks, and the whole result goes back without the header: a
tool that gave no ``structuredContent``, an input-required round, and a ``structuredContent``
that would read as a whole result (it has both ``content`` and ``isError``), so that the three
answers stay told apart by their shape alone.

The same header asks for an asynchronous answer (``respond-async``, ``wait=N``: see
``bridge.calls``); ``preferred_async`` reads that, with the same parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.model import INPUT_REQUIRED

__all__ = [
    "MAX_WAIT",
    "PREFERENCE_APPLIED",
    "RESPOND_ASYNC",
    "AsyncPreference",
    "lean_answer",
    "preferred_async",
    "preferred_return",
]

#: The response header naming the preference that shaped the answer (RFC 7240 §3).
PREFERENCE_APPLIED = "Preference-Applied"
_STRUCTURED = "return=structured"
_CONTENT = "return=content"
_QUOTED_PAIR = re.compile(r"\\(.)")
#: The preference asking for an asynchronous answer (RFC 7240 §4.1), and what it is applied as.
RESPOND_ASYNC = "respond-async"
#: Seconds of ``wait`` honoured at most; a longer wait is taken as this long.
MAX_WAIT = 300.0


@dataclass(frozen=True, slots=True)
class AsyncPreference:
    """What a caller's ``Prefer`` asks of a tool call's timing: 202 at once (``wait`` None, from
    ``respond-async``), or the answer if it comes within ``wait`` seconds, else 202."""

    wait: float | None


def _preferences(prefer: str) -> Iterator[tuple[str, str]]:
    """Each preference's name (lower-cased) and value (unquoted), in order; parameters dropped."""
    for preference in _split(prefer, ","):
        token = _split(preference, ";")[0]
        name, _, value = token.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
        yield name.strip().lower(), value


def preferred_return(prefer: str) -> str | None:
    """The value of the first ``return`` preference in ``prefer`` (one or more ``Prefer`` values,
    comma-joined), lower-cased; None when there is none. Only the first counts (RFC 7240 §2)."""
    for name, value in _preferences(prefer):
        if name == "return":
            return value.lower()
    return None


def preferred_async(prefer: str) -> AsyncPreference | None:
    """Whether ``prefer`` asks for an asynchronous answer (``respond-async``, ``wait=N``); None
    when it does not. A ``wait`` that is not a number of seconds is ignored (RFC 7240 §2); only
    the first ``wait`` counts."""
    asynchronous = False
    wait: float | None = None
    waited = False
    for name, value in _preferences(prefer):
        if name == RESPOND_ASYNC:
            asynchronous = True
        elif name == "wait" and not waited:
            waited = True
            if value.isdigit():
                wait = min(float(value), MAX_WAIT)
    if wait is not None:
        return AsyncPreference(wait)
    return AsyncPreference(None) if asynchronous else None


def lean_answer(result: Mapping[str, Any], prefer: str) -> tuple[Any, str | None]:
    """The body to send for a tool's ``result`` under ``prefer``, and the ``Preference-Applied``
    value (None: the whole result, exactly as without a preference)."""
    wanted = preferred_return(prefer)
    if wanted is None or result.get("resultType") == INPUT_REQUIRED:
        return result, None
    if wanted == "structured":
        structured = result.get("structuredContent")
        if isinstance(structured, Mapping) and not ("content" in structured and "isError" in structured):
            return structured, _STRUCTURED
    elif wanted == "content" and isinstance(result.get("content"), list):
        return result["content"], _CONTENT
    return result, None


def _split(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside quoted strings (RFC 9110 §5.6.4)."""
    parts: list[str] = []
    start, quoted, escaped = 0, False, False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts
