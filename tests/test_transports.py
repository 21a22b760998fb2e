"""Every upstream transport and both protocol generations, through the same REST calls."""

from collections.abc import Iterator

import pytest

from bridge.config import ServerConfig
from tests.servers.launch import running_http_server
from tests.support import in_process_bridge, rich_stdio


def _http(kind: str, url: str, name: str) -> ServerConfig:
    return ServerConfig(name=name, transport="sse" if kind == "sse" else "streamable-http", url=url)


@pytest.fixture(scope="module")
def upstream_urls() -> Iterator[dict[str, str]]:
    with (
        running_http_server("http") as http,
        running_http_server("http", legacy=True) as http_legacy,
        running_http_server("sse") as sse,
        running_http_server("sse", legacy=True) as sse_legacy,
    ):
        yield {"http": http, "http-legacy": http_legacy, "sse": sse, "sse-legacy": sse_legacy}


@pytest.mark.parametrize(
    ("name", "expected_generation"),
    [
        ("http", "2026"),
        ("http-legacy", "2025"),
        ("sse", "2026"),
        ("sse-legacy", "2025"),
        ("stdio-legacy", "2025"),
    ],
)
def test_transport_and_generation_serve_the_same_rest_calls(
    upstream_urls: dict[str, str], name: str, expected_generation: str
) -> None:
    if name == "stdio-legacy":
        config = rich_stdio(name, legacy=True)
    else:
        config = _http("sse" if name.startswith("sse") else "http", upstream_urls[name], name)
    with in_process_bridge([config]) as bridge:
        client = bridge.app.test_client()
        server = client.get(f"/servers/{name}").json
        assert server["status"] == "ready", server
        assert server["protocolVersion"].startswith(expected_generation)
        assert server["transport"] == config.transport
        added = client.post(f"/servers/{name}/tools/add", json={"a": 20, "b": 22})
        assert added.json["structuredContent"] == {"result": 42}
        raw = client.get(
            f"/servers/{name}/resources/read",
            query_string={"uri": "bin://bytes"},
            headers={"Accept": "application/octet-stream"},
        )
        assert raw.data == bytes(range(256))
        prompt = client.post(f"/servers/{name}/prompts/greet", json={"name": "Lin"})
        assert prompt.json["messages"][0]["content"]["text"] == "Hello, Lin!"
        failed = client.post(f"/servers/{name}/tools/fail", json={"message": "bad"})
        assert failed.status_code == 422
