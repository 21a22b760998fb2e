"""Servers registered over REST: admin keys, checks before keeping, secrets kept out, restarts."""

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from bridge.runtime import Bridge
from tests.leaks import secret
from tests.servers.launch import RICH_SERVER, free_port, running_http_server
from tests.support import PINNABLE, bridge_process, children_running, cpus_of, in_process_bridge, rich_stdio

ADMIN = {"Authorization": "Bearer admin-key"}
PLAIN = {"X-API-Key": "plain-key"}
TOKEN = secret("upstream-secret-token")


@pytest.fixture(scope="module")
def guarded_url() -> Iterator[str]:
    with running_http_server("http", token=TOKEN) as url:
        yield url


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Bridge]:
    settings = {
        "api_keys": ("plain-key",),
        "admin_keys": ("admin-key",),
        "registry_path": str(tmp_path / "r.db"),
        "allow_private_upstreams": True,  # the test servers listen on loopback
    }
    with in_process_bridge([rich_stdio()], **settings) as running:
        yield running


@pytest.fixture
def gc(gateway: Bridge) -> FlaskClient:
    return gateway.app.test_client()


def _registration(url: str, name: str = "remote") -> dict[str, object]:
    return {"name": name, "url": url, "transport": "http", "authentication": {"type": "bearer", "token": TOKEN}}


def test_admin_registers_an_http_server_which_then_serves_its_tools(gc: FlaskClient, guarded_url: str) -> None:
    response = gc.post("/servers", json=_registration(guarded_url), headers=ADMIN)
    assert response.status_code == 201, response.json
    assert response.headers["Location"] == "/servers/remote"
    info = response.json
    assert (info["name"], info["source"], info["transport"], info["status"]) == (
        "remote",
        "registry",
        "streamable-http",
        "ready",
    )
    assert info["protocolVersion"] == "2026-07-28"
    assert info["counts"] == gc.get("/servers/rich", headers=PLAIN).json["counts"]  # the same server, over HTTP
    assert TOKEN not in response.get_data(as_text=True)
    listed = gc.get("/servers", headers=PLAIN).get_data(as_text=True)
    assert TOKEN not in listed
    added = gc.post("/servers/remote/tools/add", json={"a": 1, "b": 2}, headers=PLAIN)
    assert added.json["structuredContent"] == {"result": 3}
    assert "/servers/remote/tools/add" in gc.get("/openapi.json").json["paths"]


def test_without_the_upstream_token_the_registration_is_refused_and_nothing_stays(
    gc: FlaskClient, guarded_url: str
) -> None:
    body = {"name": "remote", "url": guarded_url, "transport": "streamable-http"}
    response = gc.post("/servers", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert response.json["detail"].startswith("server 'remote' could not be reached as an MCP server")
    assert gc.get("/servers/remote", headers=PLAIN).status_code == 404


def test_unreachable_server_is_422(gc: FlaskClient) -> None:
    body = {"name": "nowhere", "url": f"http://127.0.0.1:{free_port()}/mcp", "transport": "sse"}
    response = gc.post("/servers", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert gc.get("/servers/nowhere", headers=PLAIN).status_code == 404


def test_duplicate_name_is_409(gc: FlaskClient, guarded_url: str) -> None:
    body = _registration(guarded_url, name="rich")
    response = gc.post("/servers", json=body, headers=ADMIN)
    assert response.status_code == 409
    assert response.json["detail"] == "a server named 'rich' exists already"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"name": "x", "url": "http://127.0.0.1:1/mcp"}, "/body"),
        ({"name": "Bad Name", "url": "http://127.0.0.1:1/mcp", "transport": "http"}, "/body/name"),
        ({"name": "x", "url": "ftp://nope", "transport": "sse"}, "/body/url"),
        ({"name": "x", "transport": "http"}, "/body/url"),
        (
            {"name": "x", "url": "http://127.0.0.1:1/mcp", "transport": "http", "authentication": {"type": "bearer"}},
            "/body/authentication",
        ),
        ({"name": "x", "url": "http://127.0.0.1:1/mcp", "transport": "http", "cpus": []}, "/body/cpus"),
        ({"name": "x", "url": "http://127.0.0.1:1/mcp", "transport": "http", "cpus": "all"}, "/body/cpus"),
        # Valid in shape, but a URL server is no child of the bridge's to hold or to start somewhere.
        ({"name": "x", "url": "http://127.0.0.1:1/mcp", "transport": "http", "cpus": [0]}, "/body/cpus"),
        ({"name": "x", "url": "http://127.0.0.1:1/mcp", "transport": "http", "cwd": "/tmp"}, "/body/cwd"),
    ],
)
def test_bad_registration_is_400_with_pointer(gc: FlaskClient, body: dict[str, object], pointer: str) -> None:
    response = gc.post("/servers", json=body, headers=ADMIN)
    assert response.status_code == 400
    assert response.json["type"] == "https://mcp-rest-bridge.dev/problems/invalid-request"
    assert pointer in {e["pointer"] for e in response.json["errors"]}


def test_managing_servers_needs_an_admin_key(gc: FlaskClient) -> None:
    body = {"name": "x", "url": "http://127.0.0.1:1/mcp", "transport": "http"}
    assert gc.post("/servers", json=body).status_code == 401
    forbidden = gc.post("/servers", json=body, headers=PLAIN)
    assert forbidden.status_code == 403
    assert forbidden.json["detail"] == "this operation needs an admin key"
    assert gc.delete("/servers/rich", headers=PLAIN).status_code == 403
    assert gc.get("/servers", headers=ADMIN).status_code == 200  # an admin key is also a plain key


def test_without_admin_keys_registration_is_disabled() -> None:
    with in_process_bridge([rich_stdio()]) as open_bridge:
        client = open_bridge.app.test_client()
        response = client.post("/servers", json={"name": "x", "url": "http://127.0.0.1:1/mcp", "transport": "http"})
        assert response.status_code == 403
        assert "no admin key" in response.json["detail"]
        assert client.get("/servers").status_code == 200  # everything else stays open


def test_stdio_registration_is_refused_unless_the_operator_allows_it(gc: FlaskClient, tmp_path: Path) -> None:
    body = {"name": "local", "transport": "stdio", "command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}
    refused = gc.post("/servers", json=body, headers=ADMIN)
    assert refused.status_code == 403
    assert "--allow-stdio-registration" in refused.json["detail"]
    settings = {"admin_keys": ("admin-key",), "allow_stdio_registration": True}
    with in_process_bridge([], **settings) as allowed:
        created = allowed.app.test_client().post("/servers", json=body, headers=ADMIN)
        assert created.status_code == 201
        assert created.json["transport"] == "stdio"


@pytest.mark.skipif(not PINNABLE, reason="needs Linux and 2 CPUs")
def test_a_stdio_registration_sets_its_cpus_and_working_directory_and_keeps_them_over_a_restart(
    tmp_path: Path,
) -> None:
    cpu = max(os.sched_getaffinity(0))
    work = tmp_path / "work"
    work.mkdir()
    body = {"name": "local", "transport": "stdio", "command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}
    args = ("--admin-key", "admin-key", "--allow-stdio-registration", "--registry", str(tmp_path / "registry.db"))
    with bridge_process(tmp_path, None, *args) as first:
        missing = requests.post(first.url + "/servers", json=body | {"cpus": [4096]}, headers=ADMIN, timeout=60)
        assert missing.status_code == 400
        assert missing.json()["errors"][0]["pointer"] == "/body/cpus"
        assert "no CPUs [4096]" in missing.json()["detail"]
        assert not children_running(RICH_SERVER, first.process.pid)  # refused before anything started
        created = requests.post(
            first.url + "/servers", json=body | {"cpus": [cpu], "cwd": str(work)}, headers=ADMIN, timeout=60
        )
        assert created.status_code == 201
        (child,) = children_running(RICH_SERVER, first.process.pid)
        assert cpus_of(child) == {cpu}
        assert Path(f"/proc/{child}/cwd").resolve() == work.resolve()
    with bridge_process(tmp_path, None, *args) as second:  # restored from the registry, held the same way
        called = requests.post(second.url + "/servers/local/tools/echo", json={"text": "hi"}, headers=ADMIN, timeout=30)
        assert called.json()["content"][0]["text"] == "hi"
        (child,) = children_running(RICH_SERVER, second.process.pid)
        assert cpus_of(child) == {cpu}
        assert Path(f"/proc/{child}/cwd").resolve() == work.resolve()


def test_delete_removes_a_registration_but_not_a_config_server(gc: FlaskClient, guarded_url: str) -> None:
    assert gc.post("/servers", json=_registration(guarded_url), headers=ADMIN).status_code == 201
    assert gc.delete("/servers/remote", headers=ADMIN).status_code == 204
    assert gc.get("/servers/remote", headers=PLAIN).status_code == 404
    assert gc.delete("/servers/remote", headers=ADMIN).status_code == 404
    config_server = gc.delete("/servers/rich", headers=ADMIN)
    assert config_server.status_code == 409
    assert "configuration file" in config_server.json["detail"]


def test_registrations_survive_a_restart_beside_config_servers(tmp_path: Path, guarded_url: str) -> None:
    registry = tmp_path / "registry.db"
    config = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}}}
    args = ("--admin-key", "admin-key", "--registry", str(registry), "--allow-private-upstreams")
    with bridge_process(tmp_path, config, *args) as first:
        created = requests.post(first.url + "/servers", json=_registration(guarded_url), headers=ADMIN, timeout=60)
        assert created.status_code == 201
        first_log = first.log()
    assert stat.S_IMODE(registry.stat().st_mode) == 0o600
    with bridge_process(tmp_path, config, *args) as second:
        servers = requests.get(second.url + "/servers", headers=ADMIN, timeout=30).json()["servers"]
        assert {(s["name"], s["source"], s["status"]) for s in servers} == {
            ("rich", "config", "ready"),
            ("remote", "registry", "ready"),
        }
        added = requests.post(
            second.url + "/servers/remote/tools/add", json={"a": 2, "b": 3}, headers=ADMIN, timeout=30
        )
        assert added.json()["structuredContent"] == {"result": 5}
        second_log = second.log()
    for log in (first_log, second_log):
        assert TOKEN not in log
        assert "admin-key" not in log
