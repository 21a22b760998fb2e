"""Names and URIs as weapons: traversal, percent-encoded separators, look-alike and invisible characters.

Server, tool and prompt names are looked up, never used as paths, and a look-alike of a real
name is a different, unknown name: 404 problem+json, nothing read, nothing called.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.hostile.conftest import Target
from tests.hostile.wire import request

JSON = {"Content-Type": "application/json"}
ARGS = b'{"text": "hi"}'

#: Tool-call targets that name no tool: (path, status, pointer). A name the spec's pattern for
#: server or tool names cannot match is 400 pointing at it; one that could be a name is 404.
DISGUISED_TOOLS = {
    "dot-dot segments before the route": ("/servers/../servers/rich/tools/echo", 404, None),
    "dot-dot as the tool": ("/servers/rich/tools/..", 404, None),
    "percent-encoded ../ in the tool": ("/servers/rich/tools/..%2f..%2fetc%2fpasswd", 404, None),
    "percent-encoded dots as the server": ("/servers/%2e%2e/tools/echo", 400, "/path/server"),
    "encoded slash joining server and tool": ("/tools/rich%2fecho", 404, None),
    "double-encoded traversal": ("/tools/%252e%252e%252fecho", 400, "/path/name"),
    "backslash traversal": ("/tools/..%5c..%5cecho", 400, "/path/name"),
    "Cyrillic a in the server name": ("/servers/" + quote("rіch") + "/tools/echo", 400, "/path/server"),
    "Cyrillic e in the tool name": ("/tools/rich." + quote("еcho"), 400, "/path/name"),
    "fullwidth letters": ("/servers/" + quote("ｒｉｃｈ") + "/tools/echo", 400, "/path/server"),
    "zero-width joiner inside the name": ("/servers/" + quote("ri\u200dch") + "/tools/echo", 400, "/path/server"),
    "zero-width space after the tool": ("/tools/" + quote("rich.echo\u200b"), 400, "/path/name"),
    "right-to-left override": ("/tools/" + quote("\u202erich.echo"), 400, "/path/name"),
    "NUL inside the server name": ("/servers/rich%00/tools/echo", 400, "/path/server"),
    "encoded CR LF and a header in the tool name": ("/tools/echo%0d%0aSet-Cookie:%20x=1", 400, "/path/name"),
    "trailing dot on the qualified name": ("/tools/rich.echo.", 404, None),
    "upper-case server name": ("/servers/RICH/tools/echo", 400, "/path/server"),
}


@pytest.mark.parametrize(("path", "status", "pointer"), DISGUISED_TOOLS.values(), ids=DISGUISED_TOOLS.keys())
def test_a_disguised_tool_name_calls_nothing(target: Target, path: str, status: int, pointer: str | None) -> None:
    answer = request(target.port, "POST", path, {**target.use, **JSON}, ARGS)
    assert answer.status == status, (path, answer)
    problem = answer.problem()
    if pointer is None:
        assert problem["type"].endswith("/not-found")
    else:
        assert problem["type"].endswith("/invalid-request")
        assert [e["pointer"] for e in problem["errors"]] == [pointer]
    assert answer.header("set-cookie") is None


@pytest.mark.parametrize(
    "path",
    ["/prompts/..%2f..%2fgreet", "/servers/rich/prompts/..%2fgreet", "/prompts/" + quote("grееt"), "/prompts/greet%00"],
    ids=["encoded traversal", "traversal under a server", "Cyrillic look-alike", "NUL suffix"],
)
def test_a_disguised_prompt_name_is_not_found(target: Target, path: str) -> None:
    answer = request(target.port, "POST", path, {**target.use, **JSON}, b'{"name": "x"}')
    assert answer.status == 404, (path, answer)
    assert answer.problem()["type"].endswith("/not-found")


@pytest.mark.parametrize(
    "uri",
    ["file:///etc/passwd", "../../etc/passwd", "text://greeting/../../../etc/passwd", "file:///proc/self/environ",
     "text://greeting%00.txt", "javascript:alert(1)"],
)  # fmt: skip
def test_a_resource_uri_no_server_offers_is_not_found_and_nothing_is_read(target: Target, uri: str) -> None:
    answer = request(target.port, "GET", "/resources/read?uri=" + quote(uri, safe=""), target.use)
    assert answer.status == 404, (uri, answer)
    assert answer.problem()["type"].endswith("/not-found")
    assert b"root:" not in answer.body
    assert b"PATH=" not in answer.body


def test_the_real_names_still_work_after_the_look_alikes(target: Target) -> None:
    answer = request(target.port, "POST", "/servers/rich/tools/echo", {**target.use, **JSON}, ARGS)
    assert answer.status == 200


@pytest.mark.parametrize(
    "name", ["rіch", "ｒｉｃｈ", "ri\u200dch", "\u202erich", "rich\u0000", "../rich", "rich/../x"],
    ids=["Cyrillic", "fullwidth", "zero-width joiner", "RTL override", "NUL", "dot-dot", "slash"],
)  # fmt: skip
def test_registering_a_server_under_a_disguised_name_is_refused_with_a_pointer(target: Target, name: str) -> None:
    import orjson

    body = orjson.dumps({"name": name, "url": "https://mcp.example/mcp", "transport": "http"})
    answer = request(target.port, "POST", "/servers", {**target.admin, **JSON}, body)
    assert answer.status == 400, answer
    problem = answer.problem()
    assert [e["pointer"] for e in problem["errors"]] == ["/body/name"]
