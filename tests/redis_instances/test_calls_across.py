"""Asynchronous calls from any instance: a call running on A read, followed, answered and cancelled on B;
a call whose instance died is cut off as a restart cuts it off."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

from harness import poll
from tests.calls.conftest import BOB
from tests.redis_instances.conftest import Api, instance
from tests.support import BridgeProcess

PROBLEMS = "https://mcp-rest-bridge.dev/problems/"


def test_a_call_started_on_a_is_read_on_b_with_its_latest_progress(
    pair: tuple[BridgeProcess, BridgeProcess],
) -> None:
    a, b = pair
    call = Api(a.url).start("slow", {"seconds": 3, "steps": 3})
    on_b = Api(b.url)
    seen = on_b.get(call["id"])  # at once: B knows the call as soon as A has answered its caller
    assert (seen["id"], seen["state"], seen["tool"]) == (call["id"], "working", "slow")
    progressed = poll(lambda: (view := on_b.get(call["id"])).get("progress") and view, 10, what="progress on B")
    assert progressed["progress"]["total"] == 3
    assert progressed["state"] == "working"
    done = on_b.until(call["id"], "completed")
    assert done["result"]["structuredContent"] == {"result": "worked 3 s"}
    assert done == Api(a.url).get(call["id"])


def test_a_call_started_on_a_is_followed_on_b_to_its_end(pair: tuple[BridgeProcess, BridgeProcess]) -> None:
    a, b = pair
    call = Api(a.url).start("slow", {"seconds": 1.5, "steps": 3})
    # The stream ends with the call's last view: read whole (the end can come in one read with it).
    answer = Api(b.url)("GET", f"/calls/{call['id']}/events", Accept="text/event-stream")
    assert answer.status_code == 200, answer.text
    views = [_frame(block) for block in answer.text.split("\n\n") if block.startswith("id:")]
    versions = [int(v["id"]) for v in views]
    assert versions == sorted(versions)
    assert [v["event"] for v in views][-1] == "completed"
    assert [v["event"] for v in views][:-1] == ["working"] * (len(views) - 1)
    progress = [v["data"]["progress"]["progress"] for v in views if v["data"].get("progress")]
    assert progress  # progress made on A, seen on B as it came
    assert progress == sorted(progress)
    assert views[-1]["data"]["result"]["structuredContent"] == {"result": "worked 1.5 s"}


def _frame(block: str) -> dict[str, Any]:
    fields = dict(line.split(": ", 1) for line in block.splitlines())
    return {"id": fields["id"], "event": fields["event"], "data": json.loads(fields["data"])}


def test_a_call_on_a_that_asks_is_answered_on_b(pair: tuple[BridgeProcess, BridgeProcess]) -> None:
    a, b = pair
    call = Api(a.url).start("ask")
    on_b = Api(b.url)
    asking = on_b.until(call["id"], "input_required")
    (question,) = asking["questions"]
    wrong = on_b("POST", f"/calls/{call['id']}/input", {"answers": {question["id"]: {"action": "maybe"}}})
    assert wrong.status_code == 400  # checked on B, with its pointer, before it goes to A
    assert wrong.json()["errors"][0]["pointer"] == f"/body/answers/{question['id']}/action"
    reply = {"answers": {question["id"]: {"action": "accept", "content": {"name": "Ada"}}}}
    answered = on_b("POST", f"/calls/{call['id']}/input", reply)
    assert answered.status_code == 200, answered.text
    assert answered.json()["state"] in ("working", "completed")
    done = on_b.until(call["id"], "completed")
    assert "Ada" in str(done["result"])


def test_a_call_on_a_is_cancelled_on_b(pair: tuple[BridgeProcess, BridgeProcess]) -> None:
    a, b = pair
    on_a, on_b = Api(a.url), Api(b.url)
    cancelled_before = on_a.says("cancellations")
    call = on_a.start("hold", {"seconds": 60})
    on_b.until(call["id"], "working")
    answer = on_b("DELETE", f"/calls/{call['id']}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "cancelled"
    assert on_a.get(call["id"])["state"] == "cancelled"
    assert on_a.says("cancellations") == cancelled_before + 1  # the upstream call was cancelled on A


def test_another_callers_call_is_not_found_on_b(pair: tuple[BridgeProcess, BridgeProcess]) -> None:
    a, b = pair
    call = Api(a.url).start("slow", {"seconds": 0.2})
    other = Api(b.url, "bob-key-of-the-calls-tests")
    assert other("GET", f"/calls/{call['id']}").status_code == 404
    assert other("DELETE", f"/calls/{call['id']}").status_code == 404
    assert Api(b.url)("GET", "/calls/no-such-call").status_code == 404


def test_a_call_whose_instance_died_is_cut_off_and_cancelling_it_answers_503(
    pair: tuple[BridgeProcess, BridgeProcess], shared: Path, redis_url: str
) -> None:
    _, b = pair
    on_b = Api(b.url)
    with instance(shared, redis_url) as doomed:
        call = Api(doomed.url).start("hold", {"seconds": 60})
        on_b.until(call["id"], "working")
        doomed.process.stop(signal.SIGKILL)
        refused = on_b("DELETE", f"/calls/{call['id']}")
    assert refused.status_code == 503, refused.text
    assert refused.json()["type"] == PROBLEMS + "call-cut-off"
    ended = on_b.get(call["id"])
    assert ended["state"] == "failed"
    assert ended["problem"]["type"] == PROBLEMS + "call-cut-off"


def test_an_instance_starting_leaves_a_call_running_on_another_alone(
    pair: tuple[BridgeProcess, BridgeProcess], shared: Path, redis_url: str
) -> None:
    a, _ = pair
    on_a = Api(a.url)
    call = on_a.start("hold", {"seconds": 60})
    with instance(shared, redis_url) as newcomer:  # reads every kept call as it starts
        on_newcomer = Api(newcomer.url)
        assert on_newcomer.get(call["id"])["state"] == "working"
        assert on_a.get(call["id"])["state"] == "working"
        cancelled = on_newcomer("DELETE", f"/calls/{call['id']}")
    assert cancelled.status_code == 200, cancelled.text
    assert on_a.get(call["id"])["state"] == "cancelled"


def test_a_callers_calls_made_on_either_instance_are_listed_on_both(pair: tuple[BridgeProcess, BridgeProcess]) -> None:
    a, b = pair
    done = Api(a.url).start("slow", {"seconds": 0})
    Api(a.url).until(done["id"], "completed")
    running = Api(b.url).start("slow", {"seconds": 5})  # made later, and still running on b
    try:
        for bridge in pair:
            api = Api(bridge.url)

            def both(api: Api = api) -> list[dict[str, Any]] | None:
                calls: list[dict[str, Any]] = api("GET", "/calls").json()["calls"]
                return calls if {done["id"], running["id"]} <= {c["id"] for c in calls} else None

            # Listed once its first view is kept in the shared store: milliseconds after its start.
            listed = poll(both, 10, what=f"both calls listed on {bridge.url}")
            ids = [c["id"] for c in listed]
            assert ids.index(running["id"]) < ids.index(done["id"])  # newest first, whichever instance
            states = {c["id"]: c["state"] for c in listed}
            assert (states[done["id"]], states[running["id"]]) == ("completed", "working")
            working = [c["id"] for c in api("GET", "/calls?state=working").json()["calls"]]
            assert running["id"] in working
            assert done["id"] not in working
            first = api("GET", "/calls?limit=1").json()
            assert ([c["id"] for c in first["calls"]], first["next"]) == ([running["id"]], running["id"])
            then = api("GET", f"/calls?limit=1&after={first['next']}").json()
            assert [c["id"] for c in then["calls"]] == [done["id"]]
            others = [c["id"] for c in Api(bridge.url, BOB)("GET", "/calls").json()["calls"]]
            assert not {done["id"], running["id"]} & set(others)
    finally:
        Api(b.url)("DELETE", f"/calls/{running['id']}")
