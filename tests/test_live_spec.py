"""GET /openapi.json: the static contract plus one typed operation per tool and prompt."""

import keyword
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_spec_validator import validate

from bridge.config import demo_server
from bridge.rest.livespec import build_live_document
from bridge.runtime import Bridge
from harness import poll
from tests.support import in_process_bridge, rich_stdio, time_stdio

TS_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
#: Tools of each live server, so a loop over the catalog cannot pass by finding it empty.
SOME_TOOLS = {"rich.add", "rich.book_flight", "time.get_current_time", "demo.analyze_data"}


@pytest.fixture(scope="module")
def live() -> Iterator[Bridge]:
    with in_process_bridge([rich_stdio(), time_stdio(), demo_server()]) as running:
        yield running


@pytest.fixture
def lc(live: Bridge) -> FlaskClient:
    return live.app.test_client()


def _inline(node: Any, root: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """``node`` with every local reference replaced by its target (our schemas have no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node and node["$ref"].startswith("#/") and node["$ref"] not in seen:
            target: Any = root
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**_inline(target, root, (*seen, node["$ref"])), **_inline(rest, root, seen)}
        return {
            k: _inline(v, root, seen) for k, v in node.items() if k not in ("$defs", "definitions", "discriminator")
        }
    if isinstance(node, list):
        return [_inline(v, root, seen) for v in node]
    return node


def test_live_spec_is_valid_openapi_and_loads_in_openapi_core(lc: FlaskClient) -> None:
    document = lc.get("/openapi.json").json
    validate(document)
    OpenAPI.from_dict(document)


def test_every_tool_and_prompt_has_an_operation_with_an_identifier_id(lc: FlaskClient, live: Bridge) -> None:
    document = lc.get("/openapi.json").json
    assert {tool["qualifiedName"] for tool in live.gateway.tools()} >= SOME_TOOLS
    for tool in live.gateway.tools():
        operation = document["paths"][f"/servers/{tool['server']}/tools/{tool['name']}"]["post"]
        op_id = operation["operationId"]
        assert op_id.isidentifier()
        assert not keyword.iskeyword(op_id)
        assert TS_IDENTIFIER.match(op_id)
    prompt_ids = {
        document["paths"][f"/servers/{prompt['server']}/prompts/{prompt['name']}"]["post"]["operationId"]
        for prompt in live.gateway.prompts()
    }
    assert prompt_ids == {"prompt_rich_greet", "prompt_rich_review_code", "prompt_demo_summarize_analysis"}
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values() if "operationId" in op]
    assert len(ids) == len(set(ids))
    assert document["paths"]["/servers/demo/tools/process_data"]["post"]["operationId"] == "call_demo_process_data"


def test_tool_schemas_carry_over_without_loss(lc: FlaskClient, live: Bridge) -> None:
    document = lc.get("/openapi.json").json
    assert {tool["qualifiedName"] for tool in live.gateway.tools()} >= SOME_TOOLS
    assert any("outputSchema" in tool for tool in live.gateway.tools())
    for tool in live.gateway.tools():
        operation = document["paths"][f"/servers/{tool['server']}/tools/{tool['name']}"]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert _inline(body, document) == _inline(tool["inputSchema"], tool["inputSchema"]), tool["qualifiedName"]
        if "outputSchema" in tool:
            ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"][0]["allOf"][1]
            typed = ok["properties"]["structuredContent"]
            assert _inline(typed, document) == _inline(tool["outputSchema"], tool["outputSchema"])


def test_rich_keywords_survive_in_the_live_schema(lc: FlaskClient) -> None:
    document = lc.get("/openapi.json").json
    schemas = document["components"]["schemas"]
    booking = schemas["CallRichBookFlightInput"]
    assert booking["properties"]["cabin"]["enum"] == ["economy", "premium", "business", "first"]
    assert booking["properties"]["origin"]["pattern"] == "^[A-Z]{3}$"
    payment = booking["properties"]["payment"]
    assert [ref["$ref"] for ref in payment["oneOf"]] == [
        "#/components/schemas/CallRichBookFlight_Card",
        "#/components/schemas/CallRichBookFlight_Voucher",
    ]
    assert schemas["CallRichBookFlight_Card"]["properties"]["type"]["const"] == "card"
    assert schemas["CallRichBookFlight_Passenger"]["properties"]["age"]["maximum"] == 130


def test_live_request_schema_judges_arguments_like_the_tool_schema(lc: FlaskClient, live: Bridge) -> None:
    document = lc.get("/openapi.json").json
    (tool,) = [t for t in live.gateway.tools() if t["qualifiedName"] == "rich.book_flight"]
    live_schema = {"$ref": "#/components/schemas/CallRichBookFlightInput", "components": document["components"]}
    traveller = {"first_name": "Ada", "last_name": "L", "age": 36}
    cases = [
        {
            "origin": "JFK",
            "destination": "LHR",
            "travellers": [traveller],
            "payment": {"type": "voucher", "code": "ABCD"},
        },
        {"origin": "JFK", "destination": "LHR", "travellers": [traveller], "payment": {"type": "card", "number": "1"}},
        {"origin": "jfk", "destination": "LHR", "travellers": [], "payment": {"type": "voucher", "code": "ABCD"}},
        {"origin": "JFK", "destination": "LHR", "travellers": [{**traveller, "age": 200}], "payment": {"type": "x"}},
    ]
    verdicts = [
        (
            jsonschema.Draft202012Validator(tool["inputSchema"]).is_valid(case),
            jsonschema.Draft202012Validator(live_schema).is_valid(case),
        )
        for case in cases
    ]
    assert verdicts == [(True, True), (False, False), (False, False), (False, False)]


def test_output_schema_types_structured_content(lc: FlaskClient) -> None:
    document = lc.get("/openapi.json").json
    ok = document["paths"]["/servers/rich/tools/add"]["post"]["responses"]["200"]["content"]["application/json"]
    whole, structured, _ = ok["schema"]["anyOf"]
    typed = whole["allOf"][1]["properties"]["structuredContent"]
    assert document["components"]["schemas"][typed["$ref"].rsplit("/", 1)[1]]["properties"]["result"] == {
        "title": "Result",
        "type": "integer",
    }
    assert structured == {"allOf": [typed, {"$ref": "#/components/schemas/StructuredContent"}]}


def test_every_tool_operation_offers_the_lean_answers_and_says_which_came_back(lc: FlaskClient) -> None:
    document = lc.get("/openapi.json").json
    for path in ("/servers/rich/tools/add", "/servers/rich/tools/all_content"):
        operation = document["paths"][path]["post"]
        assert operation["parameters"] == [
            {"$ref": "#/components/parameters/prefer"},
            {"$ref": "#/components/parameters/idempotencyKey"},
        ]
        ok = operation["responses"]["200"]
        assert ok["headers"] == {"Preference-Applied": {"$ref": "#/components/headers/PreferenceApplied"}}
        whole, structured, content = ok["content"]["application/json"]["schema"]["anyOf"]
        assert ok["x-preference-applied"] == {"return=structured": structured, "return=content": content}
        assert content == {"$ref": "#/components/schemas/ContentBlocks"}
    untyped = document["paths"]["/servers/rich/tools/all_content"]["post"]["responses"]["200"]
    whole, structured, _ = untyped["content"]["application/json"]["schema"]["anyOf"]
    assert (whole, structured) == (
        {"$ref": "#/components/schemas/ToolResult"},
        {"$ref": "#/components/schemas/StructuredContent"},
    )


def test_prompt_operations_declare_their_arguments(lc: FlaskClient) -> None:
    document = lc.get("/openapi.json").json
    operation = document["paths"]["/servers/rich/prompts/review_code"]["post"]
    schema = document["components"]["schemas"]["PromptRichReviewCodeArguments"]
    assert operation["requestBody"]["required"] is True
    assert schema["required"] == ["code"]
    assert set(schema["properties"]) == {"code", "language"}


def test_etag_lets_clients_poll_cheaply(lc: FlaskClient) -> None:
    first = lc.get("/openapi.json")
    again = lc.get("/openapi.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    stale = lc.get("/openapi.json", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200


@pytest.mark.parametrize("legacy", [False, True], ids=["2026-07-28", "2025-11-25"])
def test_live_spec_follows_a_tool_list_change_without_restart(legacy: bool) -> None:
    with in_process_bridge([rich_stdio(legacy=legacy)]) as bridge:
        client = bridge.app.test_client()
        before = client.get("/openapi.json")
        assert "/servers/rich/tools/sprout" not in before.json["paths"]
        assert client.post("/servers/rich/tools/grow", json={"name": "sprout"}).status_code == 200
        poll(lambda: "/servers/rich/tools/sprout" in client.get("/openapi.json").json["paths"], timeout=10)
        after = client.get("/openapi.json", headers={"If-None-Match": before.headers["ETag"]})
        assert after.status_code == 200
        assert after.headers["ETag"] != before.headers["ETag"]
        called = client.post("/servers/rich/tools/sprout", json={"text": "new leaf"})
        assert called.json["content"][0]["text"] == "new leaf"


@pytest.mark.parametrize(
    ("annotations", "harmless"),
    [
        (None, False),
        ({"destructiveHint": True}, False),
        ({"idempotentHint": False}, False),
        ({"idempotentHint": True}, True),
        ({"readOnlyHint": True}, True),
    ],
)
def test_a_tool_operation_says_whether_calling_it_twice_is_harmless(
    annotations: dict[str, bool] | None, harmless: bool
) -> None:
    # Generated clients send an Idempotency-Key of their own on a retry unless it is (x-mcp-idempotent).
    tool = {"server": "s", "name": "t", "inputSchema": {"type": "object"}}
    document = build_live_document({"paths": {}}, [{**tool, "annotations": annotations} if annotations else tool], [])
    assert document["paths"]["/servers/s/tools/t"]["post"]["x-mcp-idempotent"] is harmless
