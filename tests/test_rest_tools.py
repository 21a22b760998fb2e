"""Tools over REST, per server and aggregated, in front of real stdio servers."""

import base64

from flask.testing import FlaskClient

PROBLEM = "application/problem+json"


def test_list_servers_shows_transport_status_revision_and_counts(client: FlaskClient) -> None:
    response = client.get("/servers")
    assert response.status_code == 200
    servers = {s["name"]: s for s in response.json["servers"]}
    assert set(servers) == {"rich", "time"}
    rich = servers["rich"]
    assert rich["transport"] == "stdio"
    assert rich["status"] == "ready"
    assert rich["protocolVersion"] == "2026-07-28"
    assert rich["counts"]["tools"] >= 8
    assert rich["counts"]["prompts"] == 2
    assert rich["lastError"] is None


def test_unknown_server_is_404_problem(client: FlaskClient) -> None:
    response = client.get("/servers/nope/tools")
    assert response.status_code == 404
    assert response.content_type == PROBLEM
    assert response.json == {
        "type": "https://mcp-rest-bridge.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "no server named 'nope'",
        "instance": "/servers/nope/tools",
    }


def test_server_tools_carry_input_and_output_schemas(client: FlaskClient) -> None:
    tools = {t["name"]: t for t in client.get("/servers/rich/tools").json["tools"]}
    add = tools["add"]
    assert add["qualifiedName"] == "rich.add"
    assert add["server"] == "rich"
    assert add["inputSchema"]["required"] == ["a", "b"]
    assert add["outputSchema"]["properties"]["result"]["type"] == "integer"
    flight = tools["book_flight"]["inputSchema"]
    text = str(flight)
    for keyword in ("enum", "const", "oneOf", "$defs", "$ref", "pattern", "minimum"):
        assert keyword in text, keyword


def test_call_tool_returns_content_and_structured_content(client: FlaskClient) -> None:
    response = client.post("/servers/rich/tools/add", json={"a": 2, "b": 40})
    assert response.status_code == 200
    assert response.json == {
        "content": [{"type": "text", "text": "42"}],
        "structuredContent": {"result": 42},
        "isError": False,
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "rich", "version": "1.0.0"}},
    }


def test_call_with_wrong_argument_types_returns_400_with_pointers(client: FlaskClient) -> None:
    response = client.post("/servers/rich/tools/add", json={"a": "two"})
    assert response.status_code == 400
    assert response.content_type == PROBLEM
    assert response.json == {
        "type": "https://mcp-rest-bridge.dev/problems/invalid-request",
        "title": "Request is invalid",
        "status": 400,
        "detail": "invalid arguments for tool 'rich.add': /body: \"b\" is a required property (and 1 more)",
        "errors": [
            {"pointer": "/body", "message": '"b" is a required property'},
            {"pointer": "/body/a", "message": '"two" is not of type "integer"'},
        ],
        "instance": "/servers/rich/tools/add",
    }


def test_rich_schema_constraints_are_enforced_before_the_upstream(client: FlaskClient) -> None:
    bad = {
        "origin": "jfk",
        "destination": "LHR",
        "passengers": 12,
        "cabin": "sofa",
        "travellers": [],
        "payment": {"type": "cash"},
    }
    response = client.post("/servers/rich/tools/book_flight", json=bad)
    assert response.status_code == 400
    assert response.json["errors"] == [
        {"pointer": "/body/cabin", "message": '"sofa" is not one of "economy", "premium" or 2 other candidates'},
        {"pointer": "/body/origin", "message": '"jfk" does not match "^[A-Z]{3}$"'},
        {"pointer": "/body/passengers", "message": "12 is greater than the maximum of 9"},
        {
            "pointer": "/body/payment",
            "message": '{"type":"cash"} is not valid under any of the schemas listed in the \'oneOf\' keyword',
        },
        {"pointer": "/body/travellers", "message": "[] has less than 1 item"},
    ]


def test_every_content_block_kind_passes_through_losslessly(client: FlaskClient) -> None:
    body = client.post("/servers/rich/tools/all_content", json={}).json
    kinds = [block["type"] for block in body["content"]]
    assert {"text", "image", "audio", "resource", "resource_link"} <= set(kinds)
    image = next(b for b in body["content"] if b["type"] == "image")
    assert base64.b64decode(image["data"]).startswith(b"\x89PNG")
    audio = next(b for b in body["content"] if b["type"] == "audio")
    assert base64.b64decode(audio["data"]).startswith(b"RIFF")
    embedded = [b["resource"] for b in body["content"] if b["type"] == "resource"]
    assert any("text" in r for r in embedded)
    assert any("blob" in r for r in embedded)


def test_tool_reporting_is_error_answers_422_keeping_its_content(client: FlaskClient) -> None:
    response = client.post("/servers/rich/tools/fail", json={"message": "disk full"})
    assert response.status_code == 422
    assert response.content_type == PROBLEM
    assert response.json == {
        "type": "https://mcp-rest-bridge.dev/problems/tool-error",
        "title": "The tool reported an error",
        "status": 422,
        "detail": "tool 'rich.fail' failed: Error executing tool fail: disk full",
        "content": [{"type": "text", "text": "Error executing tool fail: disk full"}],
        "instance": "/servers/rich/tools/fail",
    }


def test_unknown_tool_is_404(client: FlaskClient) -> None:
    response = client.post("/servers/rich/tools/nope", json={})
    assert response.status_code == 404
    assert response.json == {
        "type": "https://mcp-rest-bridge.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "server 'rich' has no tool named 'nope'",
        "instance": "/servers/rich/tools/nope",
    }


def test_aggregated_tools_list_every_server_with_qualified_names(client: FlaskClient) -> None:
    names = {t["qualifiedName"] for t in client.get("/tools").json["tools"]}
    assert {"rich.echo", "rich.add", "time.get_current_time", "time.convert_time"} <= names


def test_aggregated_call_accepts_bare_and_qualified_names(client: FlaskClient) -> None:
    bare = client.post("/tools/echo", json={"text": "hi"})
    qualified = client.post("/tools/rich.echo", json={"text": "hi"})
    assert bare.status_code == qualified.status_code == 200
    assert bare.json["content"] == qualified.json["content"]
    time = client.post("/tools/get_current_time", json={"timezone": "UTC"})
    assert time.status_code == 200
    assert time.json["structuredContent"]["timezone"] == "UTC"


def test_one_long_lived_session_serves_every_call(client: FlaskClient) -> None:
    first = client.post("/servers/rich/tools/counter", json={}).json["structuredContent"]["result"]
    second = client.post("/servers/rich/tools/counter", json={}).json["structuredContent"]["result"]
    assert second == first + 1
