"""Request ids and trace context as the HTTP edge takes them from a request's headers (and its ``_meta``)."""

from __future__ import annotations

import logging

import orjson
import pytest

from bridge.telemetry import REQUEST_ID_META, JsonFormatter, RequestContext, RequestIdFilter, current, with_request_id
from bridge.telemetry.context import request_id_of

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_PARENT = "b7ad6b7169203331"


@pytest.mark.parametrize(
    "given", ["abc-123", "01HZX3V1Q9", "f47ac10b-58cc-4372-a567-0e02b2c3d479", "a" * 128, "b64+/="]
)
def test_a_short_safe_request_id_is_kept(given: str) -> None:
    assert RequestContext.begin(given, None).request_id == given


@pytest.mark.parametrize("given", ["", "a" * 129, "two words", "line\nbreak", 'quote"', "ünïcode", "semi;colon"])
def test_an_unsafe_or_long_request_id_is_replaced_by_a_new_one(given: str) -> None:
    context = RequestContext.begin(given, None)
    assert context.request_id != given
    assert len(context.request_id) == 32
    assert int(context.request_id, 16) >= 0


def test_without_a_request_id_one_is_made_and_each_request_gets_its_own() -> None:
    first, second = RequestContext.begin(None, None), RequestContext.begin(None, None)
    assert first.request_id != second.request_id


def test_an_answer_made_in_the_http_protocol_keeps_a_safe_id_and_gets_a_new_one_otherwise() -> None:
    assert request_id_of(b"poll-1") == b"poll-1"
    made = [request_id_of(None), request_id_of(b"two words"), request_id_of(b"a" * 129), request_id_of(None)]
    assert len(set(made)) == len(made)
    assert all(len(m) == 32 and int(m, 16) >= 0 for m in made)


def test_a_valid_traceparent_is_continued_with_a_span_of_the_request_s_own() -> None:
    context = RequestContext.begin(None, f"00-{CALLER_TRACE}-{CALLER_PARENT}-01")
    version, trace_id, parent, flags = context.traceparent.split("-")
    assert (version, trace_id, flags) == ("00", CALLER_TRACE, "01")
    assert parent != CALLER_PARENT
    assert len(parent) == 16


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"00-{'0' * 32}-{CALLER_PARENT}-01",  # all-zero trace id
        f"00-{CALLER_TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"ff-{CALLER_TRACE}-{CALLER_PARENT}-01",  # version ff is invalid
        f"00-{CALLER_TRACE.upper()}-{CALLER_PARENT}-01",  # upper case hex is not allowed
        f"00-{CALLER_TRACE}-{CALLER_PARENT}-01-extra",  # version 00 has exactly four fields
    ],
)
def test_an_invalid_traceparent_starts_a_new_trace(header: str) -> None:
    context = RequestContext.begin(None, header)
    assert context.trace_id != CALLER_TRACE
    assert context.traceparent.endswith("-00")  # not sampled: nobody asked for it


def test_a_later_traceparent_version_is_read_for_its_first_four_fields() -> None:
    context = RequestContext.begin(None, f"01-{CALLER_TRACE}-{CALLER_PARENT}-00-more")
    assert context.trace_id == CALLER_TRACE
    assert not context.sampled


def test_the_upstream_meta_names_the_request_and_its_trace() -> None:
    context = RequestContext.begin("req-1", f"00-{CALLER_TRACE}-{CALLER_PARENT}-01")
    assert context.meta() == {"traceparent": context.traceparent, REQUEST_ID_META: "req-1"}


def test_a_request_s_meta_names_it_where_its_header_fields_did_not() -> None:
    context = RequestContext.begin(None, None)
    span = context.span_id
    context.continue_from({"traceparent": f"00-{CALLER_TRACE}-{CALLER_PARENT}-01", REQUEST_ID_META: "from-meta"})
    assert (context.request_id, context.trace_id, context.sampled) == ("from-meta", CALLER_TRACE, True)
    assert context.span_id == span  # still the request's own span, now under the caller's
    context.continue_from({"traceparent": f"00-{'1' * 32}-{CALLER_PARENT}-00", REQUEST_ID_META: "later"})
    assert (context.request_id, context.trace_id) == ("from-meta", CALLER_TRACE)  # a request is named once


def test_header_fields_win_over_the_meta_each_on_its_own() -> None:
    named = RequestContext.begin("from-header", None)
    named.continue_from({"traceparent": f"00-{CALLER_TRACE}-{CALLER_PARENT}-01", REQUEST_ID_META: "from-meta"})
    assert (named.request_id, named.trace_id) == ("from-header", CALLER_TRACE)
    traced = RequestContext.begin(None, f"00-{CALLER_TRACE}-{CALLER_PARENT}-00")
    traced.continue_from({"traceparent": f"00-{'1' * 32}-{CALLER_PARENT}-01", REQUEST_ID_META: "from-meta"})
    assert (traced.request_id, traced.trace_id, traced.sampled) == ("from-meta", CALLER_TRACE, False)


@pytest.mark.parametrize(
    "meta",
    [
        None,
        ["traceparent"],
        {"traceparent": "garbage", REQUEST_ID_META: "two words"},
        {"traceparent": 7, REQUEST_ID_META: 7},
        {"traceparent": f"00-{CALLER_TRACE}-{'0' * 16}-01", REQUEST_ID_META: "a" * 129},
    ],
)
def test_what_is_not_a_valid_name_in_the_meta_changes_nothing(meta: object) -> None:
    context = RequestContext.begin(None, None)
    before = (context.request_id, context.trace_id, context.span_id, context.sampled)
    context.continue_from(meta)
    assert (context.request_id, context.trace_id, context.span_id, context.sampled) == before


def test_a_problem_names_the_request_it_answers_whether_the_caller_named_it_or_not() -> None:
    token = current.set(RequestContext.begin("req-2", None))
    try:
        assert with_request_id({"status": 400}) == {"status": 400, "requestId": "req-2"}
    finally:
        current.reset(token)
    made = RequestContext.begin(None, None)
    token = current.set(made)
    try:
        assert with_request_id({"status": 400}) == {"status": 400, "requestId": made.request_id}
    finally:
        current.reset(token)
    assert with_request_id({"status": 400}) == {"status": 400}  # outside any request: none to name


def test_a_json_log_line_carries_the_request_id_of_the_request_it_was_made_for() -> None:
    record = logging.LogRecord("bridge.test", logging.INFO, __file__, 1, "called %s", ("echo",), None)
    token = current.set(RequestContext.begin("req-3", None))
    try:
        RequestIdFilter().filter(record)
    finally:
        current.reset(token)
    line = orjson.loads(JsonFormatter().format(record))
    assert line["requestId"] == "req-3"
    assert (line["level"], line["logger"], line["message"]) == ("INFO", "bridge.test", "called echo")
    outside = logging.LogRecord("bridge.test", logging.INFO, __file__, 1, "idle", (), None)
    RequestIdFilter().filter(outside)
    assert orjson.loads(JsonFormatter().format(outside))["requestId"] == "-"
