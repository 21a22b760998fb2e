"""The npm reference servers (server-everything, server-filesystem) behind the bridge."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from bridge.config import ServerConfig
from bridge.runtime import Bridge
from tests.support import ROOT, in_process_bridge

BIN = ROOT / "tests" / "npm" / "node_modules" / ".bin"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shared")
    (folder / "notes.txt").write_text("first line\nsecond line\n")
    return folder


@pytest.fixture(scope="module")
def npm_bridge(shared: Path) -> Iterator[Bridge]:
    servers = [
        ServerConfig(name="everything", transport="stdio", command=str(BIN / "mcp-server-everything"), args=("stdio",)),
        ServerConfig(name="files", transport="stdio", command=str(BIN / "mcp-server-filesystem"), args=(str(shared),)),
    ]
    with in_process_bridge(servers) as running:
        yield running


@pytest.fixture
def nc(npm_bridge: Bridge) -> FlaskClient:
    return npm_bridge.app.test_client()


def test_both_servers_are_ready_with_their_catalogs(nc: FlaskClient) -> None:
    servers = {s["name"]: s for s in nc.get("/servers").json["servers"]}
    assert servers["everything"]["status"] == servers["files"]["status"] == "ready"
    assert servers["everything"]["counts"]["tools"] >= 10
    assert servers["everything"]["counts"]["prompts"] >= 3


def test_live_spec_is_valid_for_the_reference_servers(nc: FlaskClient) -> None:
    document = nc.get("/openapi.json").json
    validate(document)
    assert "/servers/everything/tools/echo" in document["paths"]
    assert "/servers/files/tools/read_text_file" in document["paths"]


def test_everything_echo_and_a_resource(nc: FlaskClient) -> None:
    echoed = nc.post("/servers/everything/tools/echo", json={"message": "over REST"})
    assert echoed.status_code == 200
    assert echoed.json["content"] == [{"type": "text", "text": "Echo: over REST"}]
    resources = nc.get("/servers/everything/resources").json["resources"]
    first = resources[0]["uri"]
    read = nc.get("/servers/everything/resources/read", query_string={"uri": first})
    assert read.status_code == 200
    assert read.json["contents"][0]["uri"] == first


def test_everything_rejects_a_wrong_argument_type_before_the_upstream(nc: FlaskClient) -> None:
    response = nc.post("/servers/everything/tools/echo", json={"message": 5})
    assert response.status_code == 400
    assert response.json["errors"][0]["pointer"] == "/body/message"


def test_filesystem_reads_and_lists_a_real_folder(nc: FlaskClient, shared: Path) -> None:
    read = nc.post("/servers/files/tools/read_text_file", json={"path": str(shared / "notes.txt")})
    assert read.status_code == 200
    assert read.json["content"][0]["text"] == "first line\nsecond line\n"
    listing = nc.post("/servers/files/tools/list_directory", json={"path": str(shared)})
    assert "notes.txt" in listing.json["content"][0]["text"]
    outside = nc.post("/servers/files/tools/read_text_file", json={"path": "/etc/hostname"})
    assert outside.status_code == 422
    assert outside.json["detail"].startswith(
        "tool 'files.read_text_file' failed: Access denied - path outside allowed directories: /etc/hostname"
    )
