"""``GET /mcp/stream`` against a real bridge process and real MCP servers, read by a plain SSE client."""

from __future__ import annotations

import concurrent.futures
import socket
import time
from pathlib import Path

import pytest
import requests

from harness import poll
from tests.events.conftest import ADMIN, KEYS, OTHER, USER, call, servers
from tests.events.sse import Message, SseClient
from tests.support import BridgeProcess, bridge_process

PROBLEMS = "https://mcp-rest-bridge.dev/problems/"


def stream(bridge: BridgeProcess, query: str = "", key: str | None = USER, **headers: str) -> SseClient:
    sent = {"X-API-Key": key} if key else {}
    return SseClient(bridge.url, "/mcp/stream" + (f"?{query}" if query else ""), {**sent, **headers})


def opened(client: SseClient) -> SseClient:
    """``client`` once the bridge follows the feed for it (the stream's first comment has arrived)."""
    assert client.status == 200, client.body
    with pytest.raises(TimeoutError):
        client.next(timeout=0.3)  # reads the retry and the opening comment; no event yet
    assert client.comments[:1] == ["stream open"]
    return client


def test_a_call_gives_started_then_finished_with_ids_in_order_and_no_event_line(live: BridgeProcess) -> None:
    with opened(stream(live, "type=tool.call")) as client:
        assert client.response_headers["content-type"].startswith("text/event-stream")
        assert client.response_headers["cache-control"] == "no-cache"
        assert client.retry == 3000
        call(live, "echo", {"text": "hello"})
        started, finished = client.take(2)
    assert [started.event, finished.event] == [None, None]  # what EventSource.onmessage receives
    assert started.id == started.data["id"]
    assert finished.id == finished.data["id"]
    assert started.id < finished.id
    assert len(started.id) == 26
    assert (started.data["type"], finished.data["type"]) == ("tool.call.started", "tool.call.finished")
    assert finished.data["server"] == "events"
    assert finished.data["data"]["tool"] == "echo"
    assert finished.data["data"]["callId"] == started.data["data"]["callId"]
    assert finished.data["data"]["outcome"] == "ok"
    assert finished.data["data"]["isError"] is False
    # The guide's receiver reads these names; params and result are left out unless asked for.
    assert (finished.data["event"], finished.data["tool"]) == ("tool_executed", "echo")
    assert "params" not in finished.data
    assert "result" not in finished.data


def test_filters_by_type_name_legacy_name_and_server(live: BridgeProcess) -> None:
    with (
        opened(stream(live, "type=tool_executed")) as legacy,
        opened(stream(live, "type=tool.call.started&server=demo")) as demo_starts,
        opened(stream(live, "type=tool.call.failed,tool.call.finished&type=server")) as several,
    ):
        call(live, "echo", {"text": "one"})
        call(live, "process_data", {"input": "[1, 2]", "format": "json"}, server="demo")
        finished = legacy.take(2)
        assert [(m.data["type"], m.data["server"]) for m in finished] == [
            ("tool.call.finished", "events"),
            ("tool.call.finished", "demo"),
        ]
        (start,) = demo_starts.take(1)
        assert (start.data["type"], start.data["server"]) == ("tool.call.started", "demo")
        assert [m.data["type"] for m in several.take(2)] == ["tool.call.finished", "tool.call.finished"]
        with pytest.raises(TimeoutError):
            demo_starts.next(timeout=0.5)  # the events server's start was not for it


def test_payload_shows_own_calls_only_and_every_call_to_an_admin(live: BridgeProcess) -> None:
    query = "type=tool.call.finished&payload=true"
    with opened(stream(live, query)) as mine, opened(stream(live, query, key=ADMIN)) as admin:
        call(live, "echo", {"text": "own"}, key=USER)
        call(live, "echo", {"text": "someone else's"}, key=OTHER)
        own, others = mine.take(2)
        assert own.data["params"] == {"text": "own"}
        assert own.data["result"]["structuredContent"] == {"result": "own"}
        assert "params" not in others.data
        assert "result" not in others.data
        assert [m.data["params"] for m in admin.take(2)] == [{"text": "own"}, {"text": "someone else's"}]


def test_last_event_id_header_and_query_resume_after_that_event(live: BridgeProcess) -> None:
    with opened(stream(live, "type=tool.call.finished")) as first:
        for text in ("a", "b", "c"):
            call(live, "echo", {"text": text})
        a, b, c = first.take(3)
    with stream(live, "type=tool.call.finished", **{"Last-Event-ID": a.id or ""}) as again:
        assert [m.id for m in again.take(2)] == [b.id, c.id]
    with stream(live, f"type=tool.call.finished&lastEventId={b.id}") as query:
        assert [m.id for m in query.take(1)] == [c.id]
        with pytest.raises(TimeoutError):
            query.next(timeout=0.3)


def test_an_unknown_type_is_400_with_a_pointer_to_it(live: BridgeProcess) -> None:
    with stream(live, "type=tool.call,nonsense&server=events") as client:
        assert client.status == 400
        problem = client.problem()
    assert client.response_headers["content-type"] == "application/problem+json"
    assert problem["type"] == PROBLEMS + "invalid-request"
    assert problem["instance"] == "/mcp/stream"
    assert [e["pointer"] for e in problem["errors"]] == ["/query/type/1"]
    assert "'nonsense' is no event type nor group" in problem["errors"][0]["message"]


def test_payload_must_be_a_boolean(live: BridgeProcess) -> None:
    with stream(live, "payload=maybe") as client:
        assert (client.status, client.problem()["errors"]) == (
            400,
            [{"pointer": "/query/payload", "message": '"maybe" is not one of "true" or "false"'}],
        )


def test_query_values_follow_the_spec_each_repeated_one_too(live: BridgeProcess) -> None:
    with stream(live, "type=tool.call&type=") as empty, stream(live, "server=") as server:
        assert (empty.status, [e["pointer"] for e in empty.problem()["errors"]]) == (400, ["/query/type"])
        assert (server.status, [e["pointer"] for e in server.problem()["errors"]]) == (400, ["/query/server"])


def test_without_a_key_401_and_with_a_wrong_one_401(live: BridgeProcess) -> None:
    with stream(live, key=None) as none, stream(live, key="wrong") as wrong:
        assert (none.status, wrong.status) == (401, 401)
        assert none.response_headers["www-authenticate"].startswith("Bearer")
        assert wrong.problem()["detail"] == "the API key is not valid"


def ticket(bridge: BridgeProcess, key: str = USER, **headers: str) -> requests.Response:
    return requests.post(f"{bridge.url}/mcp/stream/tickets", headers={"X-API-Key": key, **headers}, timeout=10)


def test_a_ticket_opens_one_stream_once_as_its_principal(live: BridgeProcess) -> None:
    issued = ticket(live)
    assert issued.status_code == 201
    assert issued.headers["cache-control"] == "no-store"
    body = issued.json()
    assert body["expiresIn"] == 60
    assert len(body["ticket"]) >= 40
    with opened(stream(live, f"type=tool.call.finished&payload=true&ticket={body['ticket']}", key=None)) as client:
        call(live, "echo", {"text": "mine"})
        (finished,) = client.take(1)
        assert finished.data["params"] == {"text": "mine"}  # the ticket stands for USER: its own payloads
    with stream(live, f"ticket={body['ticket']}", key=None) as again:
        assert again.status == 401
        assert "used already or expired" in again.problem()["detail"]
    assert ticket(live, key="wrong").status_code == 401


def test_tickets_and_paths_never_reach_the_log_with_their_query(live: BridgeProcess) -> None:
    issued = ticket(live).json()["ticket"]
    before = live.log().count("GET /mcp/stream 200")
    with stream(live, f"ticket={issued}", key=None) as client:
        assert client.status == 200
    poll(lambda: live.log().count("GET /mcp/stream 200") > before, 10, what="the stream's access line")
    assert "POST /mcp/stream/tickets 201" in live.log()
    assert issued not in live.log()


def test_a_page_of_another_origin_is_refused_and_the_own_origin_let_in(live: BridgeProcess) -> None:
    host = live.url.removeprefix("http://")
    with stream(live, Origin="http://evil.example") as foreign:
        assert foreign.status == 403
        assert foreign.problem()["detail"].startswith("pages from the origin 'http://evil.example' may not")
    assert ticket(live, Origin="http://evil.example").status_code == 403
    with stream(live, Origin=f"http://{host}") as own:
        assert own.status == 200


def test_an_allowed_origin_is_let_in(tmp_path: Path, witness: Path) -> None:
    with bridge_process(tmp_path, servers(witness), *KEYS, "--allowed-origin", "https://dash.example") as bridge:
        with stream(bridge, Origin="https://dash.example") as allowed:
            assert allowed.status == 200
        with stream(bridge, Origin="https://other.example") as other:
            assert other.status == 403


def many_progress_events(bridge: BridgeProcess, calls: int, steps: int) -> None:
    """``calls`` calls at once, each publishing ``steps`` progress events besides its start and end."""
    with concurrent.futures.ThreadPoolExecutor(calls) as pool:
        for answer in pool.map(lambda _: call(bridge, "steps", {"count": steps}), range(calls)):
            assert answer["structuredContent"] == {"result": steps}


def test_a_subscriber_that_falls_behind_is_told_and_catches_up_from_the_log_losing_nothing(
    live: BridgeProcess,
) -> None:
    big = "x" * 16_000  # with payload=true each call's events carry it: the stalled socket fills soon
    with opened(stream(live, "type=tool.call")) as reader:
        # A client that reads nothing until the burst is over.
        stalled = SseClient(
            live.url, "/mcp/stream?type=tool.call&payload=true", {"X-API-Key": USER}, receive_buffer=4096
        )
        assert stalled.status == 200
        with concurrent.futures.ThreadPoolExecutor(8) as pool:  # fills the socket's buffers
            list(pool.map(lambda _: call(live, "echo", {"text": big}), range(150)))
        many_progress_events(live, 12, 100)  # then 1,224 small events overflow the follower's buffer
        stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        expected = [m.id for m in reader.take(300 + 1224)]
        got: list[Message] = []
        notices = []
        while len(got) < len(expected):
            message = stalled.next(timeout=10)
            if message.event is None:
                got.append(message)
            else:
                notices.append(message)
        stalled.close()
    assert [n.event for n in notices] == ["stream.lagged"]
    assert notices[0].data["type"] == "stream.lagged"
    assert [m.id for m in got] == expected
    assert all(m.data["params"] == {"text": big} for m in got if m.data["data"]["tool"] == "echo")


def test_a_resume_after_an_event_the_log_dropped_says_gap_then_sends_what_it_has(tmp_path: Path, witness: Path) -> None:
    with bridge_process(tmp_path, servers(witness), *KEYS, "--event-log-size", "50") as bridge:
        with opened(stream(bridge, "type=tool.call")) as reader:
            call(bridge, "echo", {"text": "first"})
            first = reader.take(2)[0]
            many_progress_events(bridge, 10, 100)  # 1,020 events: the log is pruned at its 1,000th
            everything = reader.take(10 * 102)
        with stream(bridge, "type=tool.call", **{"Last-Event-ID": first.id or ""}) as back:
            gap = back.next()
            assert gap.event == "stream.gap"
            assert gap.id is None
            assert gap.data["data"]["lastEventId"] == first.id
            resumed = back.next()
            assert gap.data["data"]["resumedFrom"] == resumed.id
            kept = [m.id for m in everything]
            at = kept.index(resumed.id)
            assert len(kept) - at <= 80  # pruned to 50 at the 1,000th append; the rest came after
            assert [m.id for m in back.take(len(kept) - at - 1)] == kept[at + 1 :]


def test_events_keep_flowing_while_a_client_vanishes_mid_stream(live: BridgeProcess) -> None:
    with opened(stream(live, "type=tool.call.finished")) as steady:
        gone = opened(stream(live, "type=tool.call.finished"))
        gone.close()
        started = time.monotonic()
        call(live, "echo", {"text": "still"})
        (finished,) = steady.take(1)
        assert finished.data["tool"] == "echo"
        assert time.monotonic() - started < 5


def test_other_methods_on_the_stream_routes_are_405_with_allow(live: BridgeProcess) -> None:
    for method, path, allowed in (("POST", "/mcp/stream", "GET"), ("GET", "/mcp/stream/tickets", "POST")):
        response = requests.request(method, live.url + path, headers={"X-API-Key": USER}, timeout=10)
        assert (response.status_code, response.headers["allow"]) == (405, allowed)
        assert response.json()["type"] == PROBLEMS + "method-not-allowed"
