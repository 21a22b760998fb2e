"""The event-stream parser of the lean HTTP path (``bridge/upstream/sse_events.py``), held to the SSE spec.

The examples are the HTML standard's own and the corner cases around them (line ends of every
kind, split anywhere between chunks; comments; fields without a colon; the byte order mark; ids
that persist; events without data; bytes that are not UTF-8; the size bound). A property test
holds the parser, fed in arbitrary pieces, to a direct reading of the spec over the whole stream.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.upstream.sse_events import Event, EventParser, EventTooLarge

BIG = 1 << 20


def parse(pieces: Iterable[bytes], limit: int = BIG) -> list[Event]:
    parser = EventParser(limit)
    return [event for piece in pieces for event in parser.feed(piece)]


def splits(stream: bytes) -> list[list[bytes]]:
    """The stream whole, cut once at every byte boundary, and one byte at a time."""
    cuts = [[stream[:i], stream[i:]] for i in range(1, len(stream))]
    return [[stream], *cuts, [stream[i : i + 1] for i in range(len(stream))]]


def spec_reading(stream: bytes) -> tuple[list[Event], int | None]:
    """The HTML standard's interpretation, step by step, over the whole stream at once."""
    text = stream.decode("utf-8", "replace").removeprefix("\ufeff")
    lines = re.split("\r\n|\r|\n", text)[:-1]  # the last is a line never ended
    events: list[Event] = []
    data, kind, last_id, retry = "", "", "", None
    for line in lines:
        if line == "":
            if data:
                events.append(Event(kind or "message", data.removesuffix("\n"), last_id))
            data, kind = "", ""
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        value = value.removeprefix(" ") if colon else ""
        if name == "event":
            kind = value
        elif name == "data":
            data += value + "\n"
        elif name == "id" and "\0" not in value:
            last_id = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)
    return events, retry


def test_the_standards_examples_give_the_standards_events() -> None:
    assert parse([b"data: YHOO\ndata: +2\ndata: 10\n\n"]) == [Event("message", "YHOO\n+2\n10", "")]
    stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n"
    assert parse([stream]) == [Event("message", "first event", "1"), Event("message", "second event", "")]
    assert parse([stream, b"\n"])[-1] == Event("message", " third event", "")
    assert parse([b"data\n\ndata\ndata\n\ndata:"]) == [Event("message", "", ""), Event("message", "\n", "")]
    assert parse([b"data:test\n\ndata: test\n\n"]) == [Event("message", "test", "")] * 2


SDK_ANSWER = b'event: message\r\ndata: {"jsonrpc":"2.0","id":"lean-1","result":{}}\r\n\r\n'
ODD = (
    b"\xef\xbb\xbf: a comment first\r"
    b"retry: 1500\n"
    b"id: 7\r\n"
    b"event:ping\rdata: not this one\n\n"
    b'event\ndata\r\ndata:{\r: between the data lines\ndata:  "a": 1}\r\r'
    b"id\n"
    b"event: message\r\ndata: done\r\n\r\n"
)
ODD_EVENTS = [Event("ping", "not this one", "7"), Event("message", '\n{\n "a": 1}', "7"), Event("message", "done", "")]


@pytest.mark.parametrize("stream", [SDK_ANSWER, ODD, ODD.replace(b"\r\n", b"\r"), ODD.replace(b"\r\n", b"\n")])
def test_events_are_the_same_however_the_stream_is_cut_into_chunks(stream: bytes) -> None:
    whole = parse([stream])
    assert whole == spec_reading(stream)[0]
    for pieces in splits(stream):
        assert parse(pieces) == whole, pieces


def test_a_stream_of_every_kind_of_line_end_and_field_reads_as_the_spec_says() -> None:
    parser = EventParser(BIG)
    assert list(parser.feed(ODD)) == ODD_EVENTS
    assert parser.retry == 1500


@pytest.mark.parametrize("end", [b"\n", b"\r", b"\r\n"])
def test_a_line_end_is_lf_cr_or_crlf_and_a_crlf_split_across_chunks_is_one_line_end(end: bytes) -> None:
    stream = b"data: a" + end + b"data: b" + end + end
    assert parse([stream]) == [Event("message", "a\nb", "")]
    assert parse([b"data: a\r", b"\n", b"\r", b"\n"]) == [Event("message", "a", "")]
    assert parse([b"data: a\r", b"\r"]) == [Event("message", "a", "")]  # CR CR: two line ends


def test_an_event_is_dispatched_as_soon_as_its_blank_line_arrives() -> None:
    parser = EventParser(BIG)
    assert list(parser.feed(b"data: a\r")) == []
    assert list(parser.feed(b"\r")) == [Event("message", "a", "")]  # no waiting for a possible LF


def test_one_byte_order_mark_at_the_streams_start_is_dropped_even_split_and_no_other() -> None:
    bom = b"\xef\xbb\xbf"
    assert parse([bom + b"data: x\n\n"]) == [Event("message", "x", "")]
    assert parse([b"\xef", b"", b"\xbb", b"\xbf", b"data: x\n\n"]) == [Event("message", "x", "")]
    assert parse([bom + bom + b"data: x\n\n"]) == []  # the second makes the field "\ufeffdata"
    assert parse([b"data: " + bom + b"x\n\n"]) == [Event("message", "\ufeffx", "")]
    assert parse([b"\xef\xbbdata: x\n\n"]) == []  # not a mark: part of the first field's name


def test_field_values_lose_one_leading_space_and_lines_without_colon_are_fields_without_value() -> None:
    assert parse([b"data:  two spaces\n\n"]) == [Event("message", " two spaces", "")]
    assert parse([b"data:no space\n\n"]) == [Event("message", "no space", "")]
    assert parse([b"data: a: b\n\n"]) == [Event("message", "a: b", "")]
    assert parse([b"data\ndata\n\n"]) == [Event("message", "\n", "")]
    assert parse([b"event\ndata: x\n\n"]) == [Event("message", "x", "")]
    assert parse([b"Data: x\ndata : x\nunknown: y\n\n"]) == []  # names are exact; these are ignored


def test_comments_are_skipped_wherever_they_are() -> None:
    stream = b":\n: keep-alive\ndata: a\n:data: no\ndata: b\n: \n\n"
    assert parse([stream]) == [Event("message", "a\nb", "")]
    assert parse([b": only comments\n\n:\n\n"]) == []


def test_an_event_without_data_is_not_dispatched_but_its_id_stays_for_the_next() -> None:
    stream = b"event: ping\n\nid: 5\n\nretry: 10\n\ndata: x\n\nid: 6\0\ndata: y\n\nid\ndata: z\n\n"
    parser = EventParser(BIG)
    assert list(parser.feed(stream)) == [
        Event("message", "x", "5"),
        Event("message", "y", "5"),
        Event("message", "z", ""),
    ]
    assert parser.retry == 10


def test_the_event_type_is_reset_after_each_event() -> None:
    stream = b"event: first\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\nevent: gone\n\ndata: 4\n\n"
    assert [(e.type, e.data) for e in parse([stream])] == [
        ("first", "1"),
        ("message", "2"),
        ("message", "3"),
        ("message", "4"),
    ]


@pytest.mark.parametrize("value", [b"1a", b"-1", b"  5", b"", b"\xd9\xa3", b"1.5"])
def test_a_retry_that_is_not_all_ascii_digits_is_ignored(value: bytes) -> None:
    parser = EventParser(BIG)
    list(parser.feed(b"retry: 3000\n\nretry:" + value + b"\n\n"))
    assert parser.retry == 3000


def test_an_event_not_ended_by_a_blank_line_is_dropped_at_the_streams_end() -> None:
    assert parse([b"data: whole\n\ndata: cut off\n"]) == [Event("message", "whole", "")]
    assert parse([b"data: whole\n\ndata: cut off"]) == [Event("message", "whole", "")]


def test_bytes_that_are_not_utf8_become_replacement_characters_as_in_the_whole_streams_decoding() -> None:
    stream = b"event: \xff\ndata: caf\xc3\xa9 \xc3\ndata: \xe2\x82\nid: \x80\n\n"
    assert parse([stream]) == spec_reading(stream)[0] == [Event("\ufffd", "café \ufffd\n\ufffd", "\ufffd")]
    for pieces in splits(stream):
        assert parse(pieces) == parse([stream])


def test_an_event_larger_than_the_bound_fails_with_httpx2s_words() -> None:
    parser = EventParser(100)
    with pytest.raises(EventTooLarge) as refused:
        list(parser.feed(b"data: " + b"x" * 100 + b"\n\n"))
    assert str(refused.value) == "Server-sent event exceeded the 100 byte limit."


def test_the_bound_counts_the_events_field_lines_and_a_line_still_arriving() -> None:
    assert parse([b"data: " + b"x" * 94 + b"\n\n"], limit=100) == [Event("message", "x" * 94, "")]
    with pytest.raises(EventTooLarge):
        parse([b"data: " + b"x" * 47 + b"\n", b"data: " + b"x" * 48 + b"\n\n"], limit=100)
    with pytest.raises(EventTooLarge):  # no line end yet: the bound holds what is buffered
        parse([b"data: " + b"x" * 50, b"x" * 50], limit=100)
    with pytest.raises(EventTooLarge):
        parse([b"data: 1\n", b"data: " + b"x" * 90], limit=100)


def test_the_bound_is_per_event_and_comments_do_not_count() -> None:
    event = b": " + b"c" * 200 + b"\ndata: " + b"x" * 90 + b"\n\n"
    assert parse([event * 20], limit=100) == [Event("message", "x" * 90, "")] * 20


def test_events_before_the_one_past_the_bound_come_out_first() -> None:
    """As from httpx2's reader: an answer ahead of an oversized event in the same chunk is read."""
    parser = EventParser(100)
    events = parser.feed(b"data: answer\n\ndata: " + b"x" * 200)
    assert next(events) == Event("message", "answer", "")
    with pytest.raises(EventTooLarge):
        next(events)


NAMES = [b"data", b"data", b"event", b"id", b"retry", b"", b"Data", b"\xef\xbb\xbfdata", b"x"]
COLONS = [b"", b":", b": ", b":  "]
VALUES = [b"x", b"42", b" ", b":", b"\0", b"message", b"ping", b"\xc3\xa9", b"\xff", b"\xe2\x82", b"\xef\xbb\xbf"]
LINE_ENDS = [b"\n", b"\r", b"\r\n", b"\n\n", b"\r\r", b"\r\n\r\n"]
line = st.builds(
    lambda name, colon, value, end: name + colon + b"".join(value) + end,
    st.sampled_from(NAMES),
    st.sampled_from(COLONS),
    st.lists(st.sampled_from(VALUES), max_size=4),
    st.sampled_from(LINE_ENDS),
)
#: A whole event as the MCP SDK's server writes each message (the parser's quick case, when a chunk is one).
mcp_event = st.builds(
    lambda value: b"event: message\r\ndata: " + b"".join(value) + b"\r\n\r\n",
    st.lists(st.sampled_from(VALUES), max_size=4),
)
streams = st.builds(
    lambda bom, lines, tail: bom + b"".join(lines) + tail,
    st.sampled_from([b"", b"\xef\xbb\xbf", b"\xef\xbb"]),
    st.lists(st.one_of(line, mcp_event), max_size=12),
    st.sampled_from([b"", b"data: cut off", b"\r"]),
)


@settings(max_examples=300, deadline=None)
@given(head=st.lists(line, max_size=4), events=st.lists(mcp_event, min_size=1, max_size=4))
def test_the_sdk_s_one_event_chunks_read_as_the_spec_reads_them(head: list[bytes], events: list[bytes]) -> None:
    # Each event in a chunk of its own, after lines that may leave an id, a type, data or a line
    # unfinished: the quick case must give what the spec gives, or leave the chunk to the lines.
    parser = EventParser(BIG)
    read = [event for piece in [b"".join(head), *events] for event in parser.feed(piece)]
    assert (read, parser.retry) == spec_reading(b"".join(head) + b"".join(events))


def test_a_one_event_chunk_past_the_bound_fails_as_when_read_by_lines() -> None:
    event = b'event: message\r\ndata: {"jsonrpc":"2.0"}\r\n\r\n'
    fits = len(b"event: message") + len(b'data: {"jsonrpc":"2.0"}')
    assert parse([event], limit=fits) == [Event("message", '{"jsonrpc":"2.0"}', "")]
    for pieces in ([event], [event[:10], event[10:]]):
        with pytest.raises(EventTooLarge):
            parse(pieces, limit=fits - 1)


@settings(max_examples=500, deadline=None)
@given(stream=streams, data=st.data())
def test_any_stream_cut_anywhere_reads_as_the_spec_reads_it_whole(stream: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=6))
    bounds = [0, *sorted(cuts), len(stream)]
    expected = spec_reading(stream)
    for pieces in (
        [stream[a:b] for a, b in itertools.pairwise(bounds)],
        [stream[i : i + 1] for i in range(len(stream))],
    ):
        parser = EventParser(BIG)
        assert ([event for piece in pieces for event in parser.feed(piece)], parser.retry) == expected


def test_the_last_id_to_resume_from_is_that_of_the_last_event_ended_with_data_or_not() -> None:
    parser = EventParser(BIG)
    assert parser.last_id == ""
    list(parser.feed(b"id: prime\r\nretry: 500\r\ndata: \r\n\r\n"))  # a priming event: no data
    assert parser.last_id == "prime"
    list(parser.feed(b"id: 2\r\nevent: message\r\ndata: {}\r\n\r\n"))
    assert parser.last_id == "2"
    list(parser.feed(b"id: 3\r\ndata: {"))  # cut before its end: not where to resume from
    assert parser.last_id == "2"
    list(parser.feed(b"}\r\n\r\n"))
    assert parser.last_id == "3"
    list(parser.feed(b"event: message\r\ndata: {}\r\n\r\n"))  # the SDK's one-event chunk keeps the id
    assert parser.last_id == "3"
