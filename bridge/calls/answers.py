"""Checking a caller's answers to a call's questions before they go upstream.

An answer is the wire result of the question's method: an ``ElicitResult`` (``action``, and
``content`` when accepted, which must match the question's ``requestedSchema``), a
``CreateMessageResult`` or a ``ListRootsResult``. Every problem is reported with a JSON pointer
into the caller's request, as any other bad input is; nothing wrong reaches the upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.errors import FieldError, RequestInvalid
from bridge.schema import CompiledSchema, SchemaCompileError, pointer

from .model import Question

__all__ = ["check_answers"]

_ELICIT_RESULT = CompiledSchema(
    {
        "type": "object",
        "required": ["action"],
        "properties": {"action": {"enum": ["accept", "decline", "cancel"]}, "content": {"type": "object"}},
    }
)
_SAMPLING_RESULT = CompiledSchema(
    {
        "type": "object",
        "required": ["role", "content", "model"],
        "properties": {
            "role": {"enum": ["user", "assistant"]},
            "content": {"type": ["object", "array"]},
            "model": {"type": "string"},
            "stopReason": {"type": "string"},
        },
    }
)
_ROOTS_RESULT = CompiledSchema(
    {
        "type": "object",
        "required": ["roots"],
        "properties": {
            "roots": {
                "type": "array",
                "items": {"type": "object", "required": ["uri"], "properties": {"uri": {"type": "string"}}},
            }
        },
    }
)
_RESULTS = {
    "elicitation/create": _ELICIT_RESULT,
    "sampling/createMessage": _SAMPLING_RESULT,
    "roots/list": _ROOTS_RESULT,
}


def check_answers(questions: Mapping[str, Question], answers: Mapping[str, Any], where: str) -> None:
    """Raise ``RequestInvalid`` naming every answer that is unknown or does not fit its question."""
    errors: list[FieldError] = []
    for qid, answer in answers.items():
        at = where + pointer([qid])
        question = questions.get(qid)
        if question is None:
            errors.append(FieldError(at, f"the call asks no pending question {qid!r}"))
            continue
        shape = _RESULTS.get(question.method)
        if shape is not None and not shape.is_valid(answer):
            errors.extend(shape.errors(answer, at))
            continue
        if question.method == "elicitation/create" and answer.get("action") == "accept":
            errors.extend(_content_errors(question, answer.get("content", {}), at + "/content"))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise RequestInvalid(f"invalid answers: {first.pointer}: {first.message}{more}", errors)


def _content_errors(question: Question, content: Any, at: str) -> list[FieldError]:
    """Accepted content against what the question asked for (its ``requestedSchema``)."""
    schema = question.params.get("requestedSchema")
    if not isinstance(schema, Mapping):
        return []
    try:
        compiled = CompiledSchema(schema)
    except SchemaCompileError:  # the upstream's schema is broken; it checks the answer itself
        return []
    return compiled.errors(content, at)
