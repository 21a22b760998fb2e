"""The OpenAPI document itself: valid, loadable by openapi-core, and holding the REST contract.

The spec is the single source of truth (the bridge validates every request against it and
clients are generated from it), so its hygiene is checked here on its own, without a server.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_spec_validator import validate

SPEC_PATH = Path(__file__).parent.parent / "openapi" / "openapi.yaml"

OPERATIONS = {
    "mcpRequest": ("post", "/mcp"),
    "listWebhooks": ("get", "/webhooks"),
    "createWebhook": ("post", "/webhooks"),
    "getWebhook": ("get", "/webhooks/{webhook}"),
    "updateWebhook": ("patch", "/webhooks/{webhook}"),
    "deleteWebhook": ("delete", "/webhooks/{webhook}"),
    "rotateWebhookSecret": ("post", "/webhooks/{webhook}/rotate"),
    "listWebhookDeliveries": ("get", "/webhooks/{webhook}/deliveries"),
    "getWebhookDelivery": ("get", "/webhooks/{webhook}/deliveries/{delivery}"),
    "redeliverWebhookDelivery": ("post", "/webhooks/{webhook}/deliveries/{delivery}/redeliver"),
    "redeliverWebhookEvents": ("post", "/webhooks/{webhook}/redeliver"),
    "listServers": ("get", "/servers"),
    "registerServer": ("post", "/servers"),
    "deleteServer": ("delete", "/servers/{server}"),
    "getServer": ("get", "/servers/{server}"),
    "listServerTools": ("get", "/servers/{server}/tools"),
    "callServerTool": ("post", "/servers/{server}/tools/{tool}"),
    "listServerResources": ("get", "/servers/{server}/resources"),
    "readServerResource": ("get", "/servers/{server}/resources/read"),
    "listServerPrompts": ("get", "/servers/{server}/prompts"),
    "getServerPrompt": ("post", "/servers/{server}/prompts/{prompt}"),
    "listTools": ("get", "/tools"),
    "callTool": ("post", "/tools/{name}"),
    "listResources": ("get", "/resources"),
    "readResource": ("get", "/resources/read"),
    "listPrompts": ("get", "/prompts"),
    "getPrompt": ("post", "/prompts/{name}"),
    "healthz": ("get", "/healthz"),
    "readyz": ("get", "/readyz"),
    "getMetrics": ("get", "/metrics"),
    "streamEvents": ("get", "/mcp/stream"),
    "listCalls": ("get", "/calls"),
    "getCall": ("get", "/calls/{call}"),
    "cancelCall": ("delete", "/calls/{call}"),
    "streamCallEvents": ("get", "/calls/{call}/events"),
    "answerCall": ("post", "/calls/{call}/input"),
    "createStreamTicket": ("post", "/mcp/stream/tickets"),
    "getProtectedResourceMetadata": ("get", "/.well-known/oauth-protected-resource"),
    "listKeys": ("get", "/keys"),
    "createKey": ("post", "/keys"),
    "getKey": ("get", "/keys/{key}"),
    "revokeKey": ("delete", "/keys/{key}"),
    "rotateKey": ("post", "/keys/{key}/rotate"),
}
HEALTH = {"healthz", "readyz"}
#: Open to every caller, with or without credentials: the probes, and what a client needs to get a token.
OPEN = HEALTH | {"getProtectedResourceMetadata"}
#: Managing servers needs an admin key: these declare 403 and a 409 for a taken name.
ADMIN = {"registerServer", "deleteServer"}
#: Webhook subscriptions need an admin key too (403 without one); they name nothing that can be taken.
WEBHOOKS = {op_id for op_id in OPERATIONS if "Webhook" in op_id}
#: So do named API keys (403 without one).
KEYS = {"listKeys", "createKey", "getKey", "revokeKey", "rotateKey"}
#: A key limited to some servers and tools is refused (403) anything outside its allowlists.
ALLOWLISTED = {
    "getServer",
    "listServerTools",
    "callServerTool",
    "listServerResources",
    "readServerResource",
    "listServerPrompts",
    "getServerPrompt",
    "callTool",
    "readResource",
    "getPrompt",
}
PROBLEM_STATUSES = ("400", "401", "404", "413", "415", "422", "429", "502", "503", "504")
#: Browsers open the event stream: these declare 403 for a page of an origin the bridge refuses.
STREAMS = {"streamEvents", "createStreamTicket"}
AMBIGUOUS_NAME_OPERATIONS = {"callTool", "getPrompt", "readResource"}
TOOL_CALLS = {"callServerTool", "callTool"}
CALLS = {"listCalls", "getCall", "cancelCall", "streamCallEvents", "answerCall"}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
PROBLEM_JSON = "application/problem+json"

TOOLS_CALL = {
    "jsonrpc": "2.0",
    "method": "tools/call",
    "params": {"name": "process_data", "arguments": {"input": "[1, 2, 3]", "format": "json"}},
    "id": 1,
}
SUCCESS = {"jsonrpc": "2.0", "id": 1, "result": {"content": [], "isError": False}}
ERROR = {"jsonrpc": "2.0", "id": "req-1", "error": {"code": -32602, "message": "no such tool"}}


@cache
def document() -> dict[str, Any]:
    loaded = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@cache
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(document())


def resolve(node: Any) -> Any:
    """Follow local ``$ref``s to the object they name."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in document()["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                assert op["operationId"] not in found, f"duplicate operationId {op['operationId']}"
                found[op["operationId"]] = (method, path, op)
    return found


def component_validator(name: str) -> Draft202012Validator:
    """A 2020-12 validator for one component schema, with the components embedded for $refs."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document()["components"]}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def mock_request(method: str, pattern: str, view_args: dict[str, str] | None = None, body: Any = None) -> MockRequest:
    path = pattern
    for key, value in (view_args or {}).items():
        path = path.replace("{" + key + "}", value)
    data = None if body is None else json.dumps(body).encode()
    return MockRequest("http://127.0.0.1", method, path, path_pattern=pattern, view_args=view_args or {}, data=data)


def test_the_spec_passes_openapi_spec_validator() -> None:
    assert document()["openapi"] == "3.1.0"
    validate(document())


def test_openapi_core_loads_the_spec_and_routes_every_operation_of_the_contract() -> None:
    for op_id, (method, pattern) in OPERATIONS.items():
        view_args = {name: "x" for name in re.findall(r"{(\w+)}", pattern)}
        errors = openapi().unmarshal_request(mock_request(method, pattern, view_args)).errors
        assert not [e for e in errors if isinstance(e, PathNotFound | OperationNotFound)], (op_id, errors)
    assert [type(e) for e in openapi().unmarshal_request(mock_request("get", "/nowhere")).errors] == [PathNotFound]
    assert [type(e) for e in openapi().unmarshal_request(mock_request("put", "/healthz")).errors] == [OperationNotFound]


def test_the_info_block_names_the_bridge_and_its_version() -> None:
    info = document()["info"]
    assert info["title"] == "mcp-rest-bridge"
    assert info["version"] == "1.0.0"
    assert info["description"].strip()


def test_the_servers_entry_is_exactly_the_relative_root() -> None:
    assert document()["servers"] == [{"url": "/"}]


def test_every_operation_has_a_unique_operation_id_from_the_contract() -> None:
    found = {op_id: (method, path) for op_id, (method, path, _) in operations().items()}
    assert found == OPERATIONS


def test_every_operation_has_tags_a_summary_and_a_description() -> None:
    tags = {tag["name"] for tag in document()["tags"]}
    assert tags == {
        "mcp",
        "servers",
        "tools",
        "resources",
        "prompts",
        "health",
        "auth",
        "events",
        "webhooks",
        "keys",
        "calls",
    }
    for op_id, (_, _, op) in operations().items():
        assert op.get("tags"), op_id
        assert set(op["tags"]) <= tags, op_id
        assert op.get("summary"), op_id
        assert op.get("description"), op_id


def test_keys_are_optional_except_for_managing_servers_and_absent_from_health_probes() -> None:
    doc = document()
    assert doc["security"] == [{"bearerAuth": []}, {"apiKeyAuth": []}, {}]
    schemes = doc["components"]["securitySchemes"]
    assert (schemes["bearerAuth"]["type"], schemes["bearerAuth"]["scheme"]) == ("http", "bearer")
    api_key = schemes["apiKeyAuth"]
    assert (api_key["type"], api_key["in"], api_key["name"]) == ("apiKey", "header", "X-API-Key")
    for op_id, (_, _, op) in operations().items():
        assert ("security" in op and op["security"] == []) == (op_id in OPEN), op_id
        if op_id in ADMIN | WEBHOOKS:
            assert op["security"] == [{"bearerAuth": ["admin"]}, {"apiKeyAuth": ["admin"]}], op_id


def test_every_non_health_operation_declares_the_problem_json_responses() -> None:
    for op_id, (_, _, op) in operations().items():
        if op_id in OPEN:
            continue
        if op_id == "getMetrics":  # answered before the gate's checks: only who asks, and whether it is served
            assert {status for status in op["responses"] if status.startswith(("4", "5"))} == {"401", "403", "404"}
            continue
        expected = set(PROBLEM_STATUSES) | ({"409"} if op_id in AMBIGUOUS_NAME_OPERATIONS | TOOL_CALLS else set())
        expected |= {"403", "409"} if op_id in ADMIN else set()
        expected |= {"403"} if op_id in STREAMS else set()
        expected |= {"403"} if op_id in WEBHOOKS | KEYS | ALLOWLISTED | CALLS else set()
        expected |= {"507"} if op_id in TOOL_CALLS else set()  # an async call's result over the cap (wait=N)
        expected |= {"409"} if op_id == "answerCall" else set()  # not waiting for input
        declared = {status for status in op["responses"] if status.startswith(("4", "5"))}
        assert declared == expected, op_id
        for status in expected:
            response = resolve(op["responses"][status])
            assert list(response["content"]) == [PROBLEM_JSON], (op_id, status)
            schema = response["content"][PROBLEM_JSON]["schema"]
            if status in ("409", "422") and op_id in TOOL_CALLS:  # an idempotency key's problem, or as elsewhere
                usual = "ToolErrorProblem" if status == "422" else "ConflictProblem"
                assert schema == {
                    "anyOf": [{"$ref": f"#/components/schemas/{name}"} for name in (usual, "IdempotencyProblem")]
                }
                continue
            schema_ref = schema["$ref"]
            if status == "409" and op_id not in ADMIN | CALLS:
                assert schema_ref == "#/components/schemas/ConflictProblem", op_id
            elif status == "429":
                assert schema_ref == "#/components/schemas/RateLimitedProblem", op_id
            else:
                assert schema_ref == "#/components/schemas/Problem", (op_id, status)
        assert "Retry-After" in resolve(op["responses"]["503"])["headers"], op_id
        assert set(resolve(op["responses"]["429"])["headers"]) == {"Retry-After", "RateLimit-Policy", "RateLimit"}


def test_health_operations_declare_no_problem_responses() -> None:
    ops = operations()
    assert set(ops["healthz"][2]["responses"]) == {"200"}
    readyz = ops["readyz"][2]["responses"]
    assert set(readyz) == {"200", "503"}
    for status in ("200", "503"):
        assert readyz[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Readiness"}


def test_the_protected_resource_metadata_is_open_and_404_on_a_bridge_without_oauth() -> None:
    responses = operations()["getProtectedResourceMetadata"][2]["responses"]
    assert set(responses) == {"200", "404"}
    document_schema = responses["200"]["content"]["application/json"]["schema"]
    assert document_schema == {"$ref": "#/components/schemas/ProtectedResourceMetadata"}
    assert list(resolve(responses["404"])["content"]) == [PROBLEM_JSON]


def test_a_notification_to_mcp_is_answered_202_without_a_body() -> None:
    accepted = operations()["mcpRequest"][2]["responses"]["202"]
    assert "content" not in accepted


def test_resource_reads_offer_json_and_raw_bytes() -> None:
    for op_id in ("readServerResource", "readResource"):
        ok = resolve(operations()[op_id][2]["responses"]["200"])
        assert list(ok["content"]) == ["application/json", "application/octet-stream"]
        assert "Accept" in ok["description"]


def test_no_schema_uses_the_openapi_3_0_nullable_keyword() -> None:
    assert "nullable" not in SPEC_PATH.read_text(encoding="utf-8")


def test_every_component_schema_is_valid_json_schema_2020_12() -> None:
    for name in document()["components"]["schemas"]:
        component_validator(name)


def test_mcp_response_accepts_a_success_response() -> None:
    assert component_validator("MCPResponse").is_valid(SUCCESS)


@pytest.mark.parametrize("request_id", ["req-1", 7, None])
def test_mcp_response_accepts_an_error_response(request_id: str | int | None) -> None:
    assert component_validator("MCPResponse").is_valid({**ERROR, "id": request_id})


def test_mcp_response_rejects_a_response_with_both_result_and_error() -> None:
    both = {**SUCCESS, "error": ERROR["error"]}
    assert not component_validator("MCPResponse").is_valid(both)


def test_mcp_response_rejects_a_response_with_neither_result_nor_error() -> None:
    assert not component_validator("MCPResponse").is_valid({"jsonrpc": "2.0", "id": 1})


@pytest.mark.parametrize("request_id", [1, "abc"])
def test_a_json_rpc_id_is_an_integer_or_a_string(request_id: int | str) -> None:
    ids = component_validator("JSONRPCId")
    assert ids.is_valid(request_id)
    assert not ids.is_valid(1.5)
    assert not ids.is_valid(None)


def test_content_blocks_pass_through_with_extra_members_and_reject_unknown_kinds() -> None:
    blocks = component_validator("ContentBlock")
    for block in (
        {"type": "text", "text": "hi", "annotations": {"audience": ["user"]}, "_meta": {"k": 1}},
        {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
        {"type": "audio", "data": "UklGRg==", "mimeType": "audio/wav"},
        {"type": "resource_link", "uri": "file:///a.txt", "name": "a.txt", "size": 3},
        {"type": "resource", "resource": {"uri": "text://greeting", "text": "hello"}},
        {"type": "resource", "resource": {"uri": "bin://bytes", "blob": "AAE="}},
    ):
        assert blocks.is_valid(block), block
    assert not blocks.is_valid({"type": "video", "data": "AA=="})
    assert not blocks.is_valid({"type": "text"})


def test_openapi_core_accepts_a_valid_tools_call_mcp_request() -> None:
    result = openapi().unmarshal_request(mock_request("post", "/mcp", body=TOOLS_CALL))
    assert result.errors == []
    assert result.body == TOOLS_CALL


def test_openapi_core_rejects_an_mcp_request_with_jsonrpc_1_0_naming_the_field() -> None:
    result = openapi().unmarshal_request(mock_request("post", "/mcp", body={**TOOLS_CALL, "jsonrpc": "1.0"}))
    assert len(result.errors) == 1
    schema_errors = result.errors[0].__cause__.schema_errors
    assert [list(error.absolute_path) for error in schema_errors] == [["jsonrpc"]]
    assert "'2.0' was expected" in schema_errors[0].message


def test_openapi_core_accepts_a_call_server_tool_request_with_any_arguments_object() -> None:
    request = mock_request(
        "post",
        "/servers/{server}/tools/{tool}",
        {"server": "demo", "tool": "process_data"},
        {"input": "[1, 2, 3]", "format": "json", "extra": {"nested": [1]}},
    )
    result = openapi().unmarshal_request(request)
    assert result.errors == []
    assert result.parameters.path == {"server": "demo", "tool": "process_data"}


def test_openapi_core_rejects_a_call_server_tool_request_without_a_body_or_with_a_bad_server() -> None:
    missing = mock_request("post", "/servers/{server}/tools/{tool}", {"server": "demo", "tool": "echo"})
    assert [type(e).__name__ for e in openapi().unmarshal_request(missing).errors] == ["MissingRequiredRequestBody"]
    bad = mock_request("post", "/servers/{server}/tools/{tool}", {"server": "Demo", "tool": "echo"}, {})
    assert [type(e).__name__ for e in openapi().unmarshal_request(bad).errors] == ["InvalidParameter"]


def test_openapi_core_accepts_a_qualified_tool_name_on_the_aggregated_route() -> None:
    request = mock_request("post", "/tools/{name}", {"name": "demo.process_data"}, {"input": "x"})
    assert openapi().unmarshal_request(request).errors == []


def test_openapi_core_accepts_a_prompt_render_without_a_body() -> None:
    view_args = {"server": "demo", "prompt": "greet"}
    request = mock_request("post", "/servers/{server}/prompts/{prompt}", view_args)
    assert openapi().unmarshal_request(request).errors == []


def test_openapi_core_checks_a_tool_result_response_against_the_content_blocks() -> None:
    request = mock_request("post", "/tools/{name}", {"name": "echo"}, {"text": "hi"})
    good = {"content": [{"type": "text", "text": "hi", "annotations": {"priority": 1}}], "isError": False}
    ok = openapi().unmarshal_response(request, MockResponse(json.dumps(good).encode(), status_code=200))
    assert ok.errors == []
    bad = {"content": [{"type": "video"}], "isError": False}
    rejected = openapi().unmarshal_response(request, MockResponse(json.dumps(bad).encode(), status_code=200))
    assert len(rejected.errors) == 1


def test_openapi_core_checks_a_problem_json_response_once_told_it_is_json() -> None:
    # openapi-core 0.23 only parses application/json and application/vnd.api+json bodies;
    # without this deserializer a problem+json body stays bytes and fails ``type: object``.
    reader = OpenAPI.from_dict(document(), config=Config(extra_media_type_deserializers={PROBLEM_JSON: json.loads}))
    request = mock_request("post", "/servers/{server}/tools/{tool}", {"server": "demo", "tool": "fail"}, {})
    problem = {
        "type": "https://mcp-rest-bridge.dev/problems/tool-error",
        "title": "The tool reported an error",
        "status": 422,
        "content": [{"type": "text", "text": "boom"}],
    }
    body = json.dumps(problem).encode()
    response = MockResponse(body, status_code=422, content_type=PROBLEM_JSON)
    assert reader.unmarshal_response(request, response).errors == []
    without_content = MockResponse(
        json.dumps({k: v for k, v in problem.items() if k != "content"}).encode(),
        status_code=422,
        content_type=PROBLEM_JSON,
    )
    assert len(reader.unmarshal_response(request, without_content).errors) == 1


def test_a_tool_call_declares_the_prefer_header_and_the_three_answer_shapes() -> None:
    for op_id in TOOL_CALLS:
        _, _, op = operations()[op_id]
        assert [resolve(p)["name"] for p in op.get("parameters", [])] == ["Prefer", "Idempotency-Key"]
        ok = resolve(op["responses"]["200"])
        assert set(ok["headers"]) == {"Preference-Applied"}
        alternatives = ok["content"]["application/json"]["schema"]["anyOf"]
        assert [a["$ref"].rsplit("/", 1)[1] for a in alternatives] == [
            "ToolResult",
            "StructuredContent",
            "ContentBlocks",
        ]
        assert ok["x-preference-applied"] == {"return=structured": alternatives[1], "return=content": alternatives[2]}


@pytest.mark.parametrize(
    ("answer", "valid"),
    [
        ({"sum": 6, "count": 3}, True),
        ([{"type": "text", "text": "sum=6"}], True),
        ([{"type": "video"}], False),
        ({"content": [{"type": "video"}], "isError": False}, False),
    ],
    ids=["structured", "content", "content-of-an-unknown-kind", "whole-result-with-an-unknown-block"],
)
def test_openapi_core_tells_the_lean_answers_from_a_broken_whole_result(answer: Any, valid: bool) -> None:
    request = mock_request("post", "/tools/{name}", {"name": "add"}, {"a": 1})
    checked = openapi().unmarshal_response(request, MockResponse(json.dumps(answer).encode(), status_code=200))
    assert (checked.errors == []) is valid
