"""POST /mcp as a plain REST client sends it: no MCP headers, no handshake."""

from typing import Any

from flask.testing import FlaskClient


def rpc(client: FlaskClient, method: str, params: dict[str, Any] | None = None, id: int | str = 1) -> Any:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id}
    if params is not None:
        body["params"] = params
    response = client.post("/mcp", json=body)
    assert response.status_code == 200, response.data
    assert response.json["jsonrpc"] == "2.0"
    assert response.json["id"] == id
    return response.json


def test_tools_list_and_call_with_qualified_names_across_servers(client: FlaskClient) -> None:
    names = {t["name"] for t in rpc(client, "tools/list")["result"]["tools"]}
    assert {"rich.add", "time.get_current_time"} <= names
    result = rpc(client, "tools/call", {"name": "rich.add", "arguments": {"a": 1, "b": 2}})["result"]
    assert result["structuredContent"] == {"result": 3}
    assert rpc(client, "tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}}, id="s")["result"] == result


def test_tool_error_stays_a_result_as_in_mcp(client: FlaskClient) -> None:
    result = rpc(client, "tools/call", {"name": "fail", "arguments": {"message": "nope"}})["result"]
    assert result["isError"] is True
    assert "nope" in result["content"][0]["text"]


def _invalid_params(detail: str, pointer: str, message: str) -> dict[str, Any]:
    """The whole JSON-RPC error of a 400: invalid params, its problem as data."""
    return {
        "code": -32602,
        "message": detail,
        "data": {
            "type": "https://mcp-rest-bridge.dev/problems/invalid-request",
            "title": "Request is invalid",
            "status": 400,
            "detail": detail,
            "errors": [{"pointer": pointer, "message": message}],
        },
    }


def test_invalid_arguments_give_invalid_params_with_pointers(client: FlaskClient) -> None:
    error = rpc(client, "tools/call", {"name": "add", "arguments": {"a": "x", "b": 1}})["error"]
    message = '"x" is not of type "integer"'
    detail = f"invalid arguments for tool 'rich.add': /params/arguments/a: {message}"
    assert error == _invalid_params(detail, "/params/arguments/a", message)


def test_missing_tool_name_is_invalid_params(client: FlaskClient) -> None:
    error = rpc(client, "tools/call", {"arguments": {}})["error"]
    message = '"name" is a required property'
    assert error == _invalid_params(f"invalid params for tools/call: /params: {message}", "/params", message)


def test_resources_templates_prompts_and_ping(client: FlaskClient) -> None:
    assert rpc(client, "ping")["result"] == {}
    resources = rpc(client, "resources/list")["result"]["resources"]
    assert "text://greeting" in {r["uri"] for r in resources}
    templates = rpc(client, "resources/templates/list")["result"]["resourceTemplates"]
    assert templates[0]["uriTemplate"] == "item://{id}"
    read = rpc(client, "resources/read", {"uri": "text://greeting"})["result"]
    assert read["contents"][0]["text"] == "hello from rich"
    prompts = {p["name"] for p in rpc(client, "prompts/list")["result"]["prompts"]}
    assert "rich.greet" in prompts
    got = rpc(client, "prompts/get", {"name": "greet", "arguments": {"name": "Bo"}})["result"]
    assert got["messages"][0]["content"]["text"] == "Hello, Bo!"


def test_unknown_method_is_method_not_found(client: FlaskClient) -> None:
    error = rpc(client, "sampling/createMessage", {})["error"]
    detail = "method 'sampling/createMessage' is not supported by the plain JSON-RPC endpoint"
    assert error == {
        "code": -32601,
        "message": detail,
        "data": {
            "type": "https://mcp-rest-bridge.dev/problems/not-found",
            "title": "Not found",
            "status": 404,
            "detail": detail,
        },
    }


def test_notification_gets_202_and_no_body(client: FlaskClient) -> None:
    response = client.post("/mcp", json={"jsonrpc": "2.0", "method": "ping"})
    assert response.status_code == 202
    assert response.data == b""


def test_invalid_envelope_is_a_400_problem(client: FlaskClient) -> None:
    response = client.post("/mcp", json={"jsonrpc": "1.0", "method": "ping", "id": 1})
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert response.json["errors"][0]["pointer"] == "/body/jsonrpc"
    bad_id = client.post("/mcp", json={"jsonrpc": "2.0", "method": "ping", "id": 1.5})
    assert bad_id.status_code == 400
    assert bad_id.json["errors"] == [{"pointer": "/body/id", "message": '1.5 is not of types "integer", "string"'}]


def test_the_seed_guides_rest_client_works_unchanged(client: FlaskClient) -> None:
    payload = {
        "jsonrpc": "2.0",
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "test data"}},
        "id": 1,
    }
    response = client.post("/mcp", json=payload, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json["result"]["content"][0]["text"] == "test data"
