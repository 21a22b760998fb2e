"""Resources (text and binary) and prompts over REST, per server and aggregated."""

import base64

from flask.testing import FlaskClient

NOT_FOUND = {"type": "https://mcp-rest-bridge.dev/problems/not-found", "title": "Not found", "status": 404}
INVALID = {"type": "https://mcp-rest-bridge.dev/problems/invalid-request", "title": "Request is invalid", "status": 400}


def test_resources_and_templates_are_listed_with_their_server(client: FlaskClient) -> None:
    body = client.get("/servers/rich/resources").json
    uris = {r["uri"] for r in body["resources"]}
    assert {"text://greeting", "bin://pixel.png", "bin://bytes"} <= uris
    assert all(r["server"] == "rich" for r in body["resources"])
    assert [t["uriTemplate"] for t in body["resourceTemplates"]] == ["item://{id}"]


def test_text_resource_reads_as_json_contents(client: FlaskClient) -> None:
    response = client.get("/servers/rich/resources/read", query_string={"uri": "text://greeting"})
    assert response.status_code == 200
    (content,) = response.json["contents"]
    assert content["text"] == "hello from rich"
    assert content["uri"] == "text://greeting"


def test_binary_resource_reads_as_base64_by_default_and_raw_on_request(client: FlaskClient) -> None:
    as_json = client.get("/servers/rich/resources/read", query_string={"uri": "bin://bytes"})
    assert base64.b64decode(as_json.json["contents"][0]["blob"]) == bytes(range(256))
    raw = client.get(
        "/servers/rich/resources/read",
        query_string={"uri": "bin://bytes"},
        headers={"Accept": "application/octet-stream"},
    )
    assert raw.status_code == 200
    assert raw.content_type == "application/octet-stream"
    assert raw.data == bytes(range(256))
    png = client.get("/resources/read", query_string={"uri": "bin://pixel.png"}, headers={"Accept": "image/png"})
    assert png.content_type == "image/png"
    assert png.data.startswith(b"\x89PNG")


def test_templated_resource_is_routed_by_scheme_in_the_aggregated_view(client: FlaskClient) -> None:
    response = client.get("/resources/read", query_string={"uri": "item://42"})
    assert response.status_code == 200
    assert '"42"' in response.json["contents"][0]["text"]


def test_read_without_uri_names_the_missing_query_parameter(client: FlaskClient) -> None:
    response = client.get("/servers/rich/resources/read")
    assert response.status_code == 400
    assert response.json["errors"] == [{"pointer": "/query/uri", "message": "query parameter 'uri' is required"}]


def test_unknown_resource_is_404(client: FlaskClient) -> None:
    response = client.get("/servers/rich/resources/read", query_string={"uri": "text://nope"})
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert response.json == {
        **NOT_FOUND,
        "detail": "server 'rich': Unknown resource: text://nope",
        "instance": "/servers/rich/resources/read",
    }


def test_prompts_list_and_render_with_arguments(client: FlaskClient) -> None:
    prompts = {p["name"]: p for p in client.get("/servers/rich/prompts").json["prompts"]}
    assert set(prompts) == {"greet", "review_code"}
    assert prompts["greet"]["arguments"][0]["name"] == "name"
    rendered = client.post("/servers/rich/prompts/greet", json={"name": "Ada"}).json
    assert rendered["messages"][0]["role"] == "user"
    assert rendered["messages"][0]["content"]["text"] == "Hello, Ada!"
    review = client.post("/prompts/rich.review_code", json={"code": "x = 1"}).json
    assert [m["role"] for m in review["messages"]] == ["user", "assistant"]


def test_prompt_arguments_must_be_strings(client: FlaskClient) -> None:
    response = client.post("/servers/rich/prompts/greet", json={"name": 7})
    assert response.status_code == 400
    assert response.json == {
        **INVALID,
        "detail": '/body/name: 7 is not of type "string"',
        "errors": [{"pointer": "/body/name", "message": '7 is not of type "string"'}],
        "instance": "/servers/rich/prompts/greet",
    }


def test_unknown_prompt_is_404(client: FlaskClient) -> None:
    on_server = client.post("/servers/rich/prompts/nope", json={})
    assert on_server.status_code == 404
    assert on_server.json == {
        **NOT_FOUND,
        "detail": "server 'rich' has no prompt named 'nope'",
        "instance": "/servers/rich/prompts/nope",
    }
    anywhere = client.post("/prompts/nope", json={})
    assert anywhere.status_code == 404
    assert anywhere.json == {**NOT_FOUND, "detail": "no prompt named 'nope'", "instance": "/prompts/nope"}


def test_prompt_arguments_are_checked_against_the_declared_ones(client: FlaskClient) -> None:
    missing = client.post("/servers/rich/prompts/greet", json={})
    assert missing.status_code == 400
    assert missing.json["errors"] == [{"pointer": "/body", "message": '"name" is a required property'}]
    unknown = client.post("/prompts/greet", json={"name": "Ada", "colour": "red"})
    assert unknown.status_code == 400
    extra = "Additional properties are not allowed ('colour' was unexpected)"
    assert unknown.json == {
        **INVALID,
        "detail": f"invalid arguments for prompt 'rich.greet': /body: {extra}",
        "errors": [{"pointer": "/body", "message": extra}],
        "instance": "/prompts/greet",
    }
