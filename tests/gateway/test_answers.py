"""The lean answer: which part of a tool result a ``Prefer`` header asks for, and when it is ignored."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.gateway.answers import MAX_WAIT, AsyncPreference, lean_answer, preferred_async, preferred_return

CONTENT = [{"type": "text", "text": '{"sum": 6}'}]
RESULT: dict[str, Any] = {"content": CONTENT, "structuredContent": {"sum": 6}, "isError": False}


@pytest.mark.parametrize(
    ("prefer", "expected"),
    [
        ("return=structured", "structured"),
        ("RETURN = Content", "content"),
        ('return="structured"; extra=1', "structured"),
        ('return="str\\uctured"', "structured"),
        ("wait=10, return=content", "content"),
        ('handling=lenient; note="a, return=content", return=structured', "structured"),
        ("return=content, return=structured", "content"),
        ("return=minimal", "minimal"),
        ("respond-async, wait=5", None),
        ("", None),
        ("returns=structured", None),
    ],
)
def test_the_first_return_preference_is_read_whatever_surrounds_it(prefer: str, expected: str | None) -> None:
    assert preferred_return(prefer) == expected


def test_return_structured_answers_the_structured_content_alone() -> None:
    assert lean_answer(RESULT, "return=structured") == ({"sum": 6}, "return=structured")


def test_return_content_answers_the_content_blocks_alone() -> None:
    assert lean_answer(RESULT, "return=content") == (CONTENT, "return=content")


@pytest.mark.parametrize(
    ("result", "prefer"),
    [
        ({"content": CONTENT, "isError": False}, "return=structured"),
        ({"content": CONTENT, "structuredContent": None, "isError": False}, "return=structured"),
        ({**RESULT, "structuredContent": {"content": [], "isError": False}}, "return=structured"),
        ({"resultType": "input_required", "inputRequests": {}}, "return=content"),
        (RESULT, "return=minimal"),
        (RESULT, "return=representation"),
        (RESULT, "wait=3"),
    ],
    ids=[
        "no-structured-content",
        "null-structured-content",
        "structured-content-shaped-like-a-result",
        "input-required",
        "minimal",
        "representation",
        "no-return-preference",
    ],
)
def test_a_preference_that_cannot_be_honoured_answers_the_whole_result_unannounced(
    result: dict[str, Any], prefer: str
) -> None:
    assert lean_answer(result, prefer) == (result, None)


@pytest.mark.parametrize(
    ("prefer", "expected"),
    [
        ("respond-async", AsyncPreference(None)),
        ("Respond-Async; x=1", AsyncPreference(None)),
        ("wait=5", AsyncPreference(5.0)),
        ('respond-async, wait="10"', AsyncPreference(10.0)),
        ("wait=1, wait=9, respond-async", AsyncPreference(1.0)),
        ("wait=99999", AsyncPreference(MAX_WAIT)),
        ("wait=soon, respond-async", AsyncPreference(None)),
        ("wait=-1", None),
        ('handling=lenient; note="respond-async"', None),
        ("return=structured", None),
        ("", None),
    ],
)
def test_respond_async_and_wait_are_read_with_the_same_parser(prefer: str, expected: AsyncPreference | None) -> None:
    assert preferred_async(prefer) == expected
