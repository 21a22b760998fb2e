"""The intermediate representation: lean answers (``x-preference-applied``) leave the whole answer
as the operation's response and are listed apart; the ``Prefer`` header that asks for them is no
parameter a client must pass by hand."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from generator.ir import build_ir
from generator.problems import Problems
from tests.support import ROOT

SPEC = ROOT / "openapi" / "openapi.yaml"
STRUCTURED = {"$ref": "#/components/schemas/StructuredContent"}
CONTENT = {"$ref": "#/components/schemas/ContentBlocks"}


def _document() -> dict[str, Any]:
    loaded = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_a_tool_call_answers_the_whole_result_with_its_lean_forms_beside_it() -> None:
    problems = Problems()
    api = build_ir(_document(), SPEC.read_bytes(), problems)
    assert problems.items == []
    by_id = {op.operation_id: op for op in api.operations}
    for op_id in ("callTool", "callServerTool"):
        op = by_id[op_id]
        assert (op.response_ref, dict(op.answers)) == (
            "ToolResult",
            {"return=structured": STRUCTURED, "return=content": CONTENT},
        )
        assert [p.name for p in op.params] == (["name"] if op_id == "callTool" else ["server", "tool"])
    assert all(not op.answers for op_id, op in by_id.items() if op_id not in ("callTool", "callServerTool"))


def test_a_preference_applied_map_that_leaves_no_single_whole_answer_is_a_problem() -> None:
    document = _document()
    broken = copy.deepcopy(document)
    response = broken["components"]["responses"]["ToolResult"]
    response["x-preference-applied"]["return=everything"] = {"$ref": "#/components/schemas/ToolResult"}
    problems = Problems()
    build_ir(broken, b"", problems)
    by_tool = "/paths/~1servers~1{server}~1tools~1{tool}/post"
    by_name = "/paths/~1tools~1{name}/post"
    wrong = "x-preference-applied must name every anyOf alternative but the whole answer"
    assert [str(p) for p in problems.items] == [
        f"error: {by_tool}/responses/200: {wrong}",
        f"warning: {by_tool}/parameters/2: header parameters are left to the caller",
        f"error: {by_name}/responses/200: {wrong}",
        f"warning: {by_name}/parameters/1: header parameters are left to the caller",
    ]


def test_without_lean_answers_a_prefer_header_is_left_to_the_caller_like_any_header() -> None:
    document = _document()
    del document["components"]["responses"]["ToolResult"]["x-preference-applied"]
    problems = Problems()
    build_ir(document, b"", problems)
    left = "header parameters are left to the caller"
    assert [str(p) for p in problems.items] == [
        f"warning: /paths/~1servers~1{{server}}~1tools~1{{tool}}/post/parameters/2: {left}",
        f"warning: /paths/~1tools~1{{name}}/post/parameters/1: {left}",
    ]
