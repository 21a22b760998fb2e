"""A slow, failing, crashed, hung or absent upstream never hangs or kills the bridge."""

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bridge.config import ServerConfig
from harness import free_port, pid_alive, poll
from tests.support import in_process_bridge, rich_stdio


def test_slow_call_past_its_timeout_is_504_and_the_session_stays_usable() -> None:
    with in_process_bridge([rich_stdio(timeout=0.5)]) as bridge:
        client = bridge.app.test_client()
        response = client.post("/servers/rich/tools/slow", json={"seconds": 5})
        assert response.status_code == 504
        assert response.json["type"] == "https://mcp-rest-bridge.dev/problems/upstream-timeout"
        assert response.json["detail"] == "server 'rich' did not answer within 0.5 s"
        degraded = client.get("/servers/rich").json
        assert (degraded["status"], degraded["lastError"]) == ("degraded", "a call timed out after 0.5 s")
        assert client.get("/readyz").status_code == 200  # degraded still takes calls
        assert client.post("/servers/rich/tools/echo", json={"text": "still here"}).status_code == 200
        assert client.get("/servers/rich").json["status"] == "ready"  # one success and it is ready again


def test_many_calls_are_in_flight_on_one_session_at_once() -> None:
    with in_process_bridge([rich_stdio()]) as bridge:
        client = bridge.app.test_client()

        def call(_: int) -> int:
            response = client.post("/servers/rich/tools/concurrency_probe", json={"seconds": 0.5})
            assert response.status_code == 200
            return int(response.json["structuredContent"]["result"])

        with ThreadPoolExecutor(8) as pool:
            peaks = list(pool.map(call, range(8)))
        assert max(peaks) >= 4  # the server saw several calls overlapping on its one session


def test_crashed_stdio_server_gives_503_with_retry_after_then_recovers() -> None:
    with in_process_bridge([rich_stdio()]) as bridge:
        client = bridge.app.test_client()
        first_pid = client.post("/servers/rich/tools/pid", json={}).json["structuredContent"]["result"]
        crashed = client.post("/servers/rich/tools/crash", json={})
        assert crashed.status_code == 503
        assert int(crashed.headers["Retry-After"]) >= 1
        assert crashed.json["type"] == "https://mcp-rest-bridge.dev/problems/upstream-unavailable"
        assert client.get("/healthz").status_code == 200  # the bridge itself keeps serving

        def recovered() -> int | None:
            response = client.post("/servers/rich/tools/pid", json={})
            if response.status_code == 503:
                assert "Retry-After" in response.headers
                return None
            assert response.status_code == 200
            return int(response.json["structuredContent"]["result"])

        new_pid = poll(recovered)
        assert new_pid != first_pid
        assert not pid_alive(first_pid)
        assert client.get("/servers/rich").json["status"] == "ready"


def test_absent_http_upstream_is_down_and_503_while_others_serve() -> None:
    dead = ServerConfig(name="dead", transport="streamable-http", url=f"http://127.0.0.1:{free_port()}/mcp")
    with in_process_bridge([rich_stdio(), dead], connect_timeout=5) as bridge:
        client = bridge.app.test_client()
        server = client.get("/servers/dead").json
        assert server["status"] in ("down", "connecting")  # it is tried again and again, refused each time
        assert server["lastError"] == "[Errno 111] Connection refused"
        response = client.post("/servers/dead/tools/anything", json={})
        assert response.status_code == 503
        assert "Retry-After" in response.headers
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert {"name": "rich", "status": "ready"} in ready.json["servers"]
        assert client.post("/servers/rich/tools/echo", json={"text": "ok"}).status_code == 200


def test_hung_stdio_server_times_out_on_connect_and_its_child_is_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "hung.pid"
    script = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(600)"
    hung = ServerConfig(name="hung", transport="stdio", command=sys.executable, args=("-c", script, str(pid_file)))
    with in_process_bridge([hung], connect_timeout=1.5) as bridge:
        client = bridge.app.test_client()
        status = client.get("/servers/hung").json
        assert status["status"] in ("down", "connecting")
        assert client.get("/tools").json == {"tools": []}
        pid = int(poll(lambda: pid_file.exists() and pid_file.read_text()))
    poll(lambda: not pid_alive(pid), timeout=10)
