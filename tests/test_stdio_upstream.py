"""Stdio upstreams through the bridge's own transport, and tool results held to their output schema.

The transport (``bridge/upstream/stdio.py``) replaces the SDK's pipe tasks on POSIX; the output
check (``bridge/upstream/results.py``) replaces the SDK's per-call python-jsonschema check. Both
are held here to what the SDK's versions promise, against real child processes; so is where a
child runs (``bridge/upstream/placement.py``), and what a child that cannot start is called.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bridge import __version__ as bridge_version
from bridge.config import ServerConfig
from harness import pid_alive, poll
from tests.support import PINNABLE, RICH_SERVER, children_running, cpus_of, in_process_bridge, rich_stdio

OUTPUT_SERVER = Path(__file__).resolve().parent / "servers" / "output_server.py"
GENERATIONS = ["auto", "legacy"]
UPSTREAM_ERROR = {
    "type": "https://mcp-rest-bridge.dev/problems/upstream-error",
    "title": "The upstream MCP server failed",
    "status": 502,
    "server": "out",
}
INVALID_RESULT = "server 'out' sent an invalid result: "


def output_stdio(*flags: str, protocol: str = "auto") -> ServerConfig:
    args = (str(OUTPUT_SERVER), *flags)
    return ServerConfig(name="out", transport="stdio", command=sys.executable, args=args, protocol=protocol)


@pytest.mark.parametrize("protocol", GENERATIONS)
def test_results_are_held_to_the_tools_output_schema(protocol: str) -> None:
    with in_process_bridge([output_stdio(protocol=protocol)]) as bridge:
        client = bridge.app.test_client()
        ok = client.post("/servers/out/tools/echo_n", json={"value": 3})
        assert ok.status_code == 200
        assert ok.json["structuredContent"] == {"n": 3}

        wrong = client.post("/servers/out/tools/echo_n", json={"value": "many"})
        assert wrong.status_code == 502
        assert wrong.json == {
            **UPSTREAM_ERROR,
            "detail": INVALID_RESULT + 'Invalid structured content returned by tool echo_n: "many" is not of type'
            ' "integer" at /n',
            "instance": "/servers/out/tools/echo_n",
        }

        missing = client.post("/servers/out/tools/no_structure", json={})
        assert missing.status_code == 502
        assert missing.json == {
            **UPSTREAM_ERROR,
            "detail": INVALID_RESULT + "Tool no_structure has an output schema but did not return structured content",
            "instance": "/servers/out/tools/no_structure",
        }

        # ``format`` is an annotation in a result, as in the SDK's own check.
        email = client.post("/servers/out/tools/email", json={"value": "not an address"})
        assert email.status_code == 200
        assert email.json["structuredContent"] == {"address": "not an address"}

        # A schema that does not compile is left to the SDK, which refuses every result of it.
        broken = client.post("/servers/out/tools/broken", json={})
        assert broken.status_code == 502
        # After its first line the detail is python-jsonschema's own account of the metaschema.
        problem = dict(broken.json)
        detail = problem.pop("detail")
        assert problem == {**UPSTREAM_ERROR, "instance": "/servers/out/tools/broken"}
        first_line = "Invalid schema for tool broken: 12 is not valid under any of the given schemas"
        assert detail.splitlines()[0] == INVALID_RESULT + first_line

        assert client.post("/servers/out/tools/echo_n", json={"value": 4}).json["structuredContent"] == {"n": 4}
        assert client.get("/servers/out").json["status"] == "ready"  # a lying tool is not a lost connection


@pytest.mark.parametrize("protocol", GENERATIONS)
def test_upstreams_are_told_who_calls_them(protocol: str) -> None:
    with in_process_bridge([output_stdio(protocol=protocol)]) as bridge:
        told = bridge.app.test_client().post("/servers/out/tools/client", json={})
    assert told.json["structuredContent"] == {"name": "mcp-rest-bridge", "version": bridge_version}


def test_a_line_that_is_not_json_rpc_is_skipped_and_the_session_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.upstream.stdio")
    with in_process_bridge([output_stdio("--noise")]) as bridge:
        client = bridge.app.test_client()
        assert client.post("/servers/out/tools/echo_n", json={"value": 1}).status_code == 200
    assert any("not a JSON-RPC message" in record.getMessage() for record in caplog.records)


def test_megabytes_cross_the_pipes_both_ways_intact() -> None:
    with in_process_bridge([rich_stdio(), output_stdio()], max_body=8 * 1024 * 1024) as bridge:
        client = bridge.app.test_client()
        # A 3 MB result arrives in many pipe reads and is joined into one message.
        big = client.post("/servers/out/tools/big", json={"size": 3_000_000})
        assert big.status_code == 200
        assert big.json["content"][0]["text"] == "x" * 3_000_000
        # A 2 MB argument fills the child's stdin pipe many times over: the sender waits for it.
        text = "é" * 1_000_000 + "\n" + "z" * 100
        echoed = client.post("/servers/rich/tools/echo", json={"text": text})
        assert echoed.status_code == 200
        assert echoed.json["content"][0]["text"] == text


def test_a_child_that_ignores_eof_and_sigterm_is_killed_with_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = (
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "open(sys.argv[1], 'w').write(f'{os.getpid()} {child.pid}')\n"
        "time.sleep(600)\n"
    )
    stubborn = ServerConfig(name="stubborn", transport="stdio", command=sys.executable, args=("-c", script, str(pids)))
    with in_process_bridge([stubborn], connect_timeout=1.0) as bridge:
        assert bridge.app.test_client().get("/servers/stubborn").json["status"] in ("down", "connecting")
        first = [int(p) for p in poll(lambda: pids.exists() and pids.read_text().split())]
    # stdin closed, 2 s grace, SIGTERM to the group (ignored), 2 s, SIGKILL: all of it well inside the wait.
    poll(lambda: not any(pid_alive(pid) for pid in first), timeout=15)


def test_a_server_that_cannot_be_started_names_its_command_in_its_last_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.upstream")
    absent = ServerConfig(name="absent", transport="stdio", command="nonexistent-cmd")
    nowhere = ServerConfig(name="nowhere", transport="stdio", command=sys.executable, cwd=str(tmp_path / "gone"))
    with in_process_bridge([absent, nowhere], connect_timeout=5) as bridge:
        client = bridge.app.test_client()
        absent_status = client.get("/servers/absent").json
        nowhere_status = client.get("/servers/nowhere").json
    assert absent_status["status"] in ("down", "connecting")
    assert absent_status["lastError"] == "cannot start 'nonexistent-cmd': No such file or directory"
    assert nowhere_status["lastError"] == (
        f"cannot start {sys.executable!r} in {str(tmp_path / 'gone')!r}: No such file or directory"
    )
    logged = [record.getMessage() for record in caplog.records]
    assert "upstream absent: cannot start 'nonexistent-cmd': No such file or directory" in logged


@pytest.mark.skipif(not PINNABLE, reason="needs Linux and 2 CPUs")
def test_a_pinned_child_and_everything_it_starts_run_on_its_cpus_only(tmp_path: Path) -> None:
    everywhere = os.sched_getaffinity(0)
    cpu = max(everywhere)
    pids = tmp_path / "pids"
    # Starts a grandchild, then becomes the rich server itself (same pid), which starts its own threads.
    script = (
        "import os, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "open(sys.argv[1], 'w').write(f'{os.getpid()} {child.pid}')\n"
        "os.execv(sys.executable, [sys.executable, sys.argv[2], 'stdio'])\n"
    )
    args = ("-c", script, str(pids), str(RICH_SERVER))
    pinned = ServerConfig(name="pinned", transport="stdio", command=sys.executable, args=args, cpus=(cpu,))
    free = rich_stdio("free")
    with in_process_bridge([pinned, free]) as bridge:
        client = bridge.app.test_client()
        assert client.post("/servers/pinned/tools/echo", json={"text": "hi"}).json["content"][0]["text"] == "hi"
        assert client.post("/servers/free/tools/echo", json={"text": "hi"}).status_code == 200
        child, grandchild = (int(p) for p in pids.read_text().split())
        assert cpus_of(child) == {cpu}
        assert len(os.listdir(f"/proc/{child}/task")) > 1  # the server's worker threads carry the mask too
        assert cpus_of(grandchild) == {cpu}
        # The other child, and every thread of the bridge (the loop thread forked the pinned child), are free.
        (unpinned,) = set(children_running(RICH_SERVER)) - {child}
        assert cpus_of(unpinned) == everywhere
        assert cpus_of(os.getpid()) == everywhere


def _child_cpus(bridge_children: set[int], name: str) -> set[int]:
    """The CPU set of the rich server started for ``name`` (its ``--name`` argument)."""
    for pid in bridge_children:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if name.encode() in argv:
            return cpus_of(pid)
    raise AssertionError(f"no child for {name}")


@pytest.mark.skipif(not PINNABLE, reason="needs Linux and 2 CPUs")
def test_auto_puts_each_pinned_child_on_its_own_cpu_and_frees_it_when_the_child_goes() -> None:
    usable = sorted(os.sched_getaffinity(0))
    first, second = (replace(rich_stdio(name), cpus="auto") for name in ("first", "second"))
    with in_process_bridge([first, second]) as bridge:
        client = bridge.app.test_client()
        for name in ("first", "second"):
            assert client.post(f"/servers/{name}/tools/echo", json={"text": "hi"}).status_code == 200
        children = set(children_running(RICH_SERVER))
        placed = [_child_cpus(children, "first"), _child_cpus(children, "second")]
    # One CPU each, two different ones, the highest-numbered first (children start in config order).
    assert all(len(cpus) == 1 for cpus in placed)
    assert placed[0] | placed[1] == set(usable[-2:])
    with in_process_bridge([replace(rich_stdio("again"), cpus="auto")]) as bridge:
        assert bridge.app.test_client().post("/servers/again/tools/echo", json={"text": "hi"}).status_code == 200
        # The earlier children are gone, so their CPUs count as free again.
        assert _child_cpus(set(children_running(RICH_SERVER)), "again") == {usable[-1]}
