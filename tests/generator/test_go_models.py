"""The Go target's reading of JSON Schema and its Go spellings, in memory (no Go toolchain)."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.go_names import doc_lines, exported, local, sentence
from generator.go_schema import Decl, GoModels
from generator.pipeline import generate_files
from generator.problems import GenerationFailed, Problems
from tests.support import ROOT


def models(schemas: dict[str, Any], reserved: frozenset[str] = frozenset()) -> tuple[dict[str, Decl], Problems]:
    problems = Problems()
    found = GoModels(schemas, problems, reserved)
    return {d.name: d for d in found.decls}, problems


def test_identifiers_are_spelled_as_go_spells_them() -> None:
    spelled = {n: exported(n) for n in ["qualifiedName", "uriTemplate", "_meta", "JSONRPCId", "call_demo_x", "2fa"]}
    assert spelled == {
        "qualifiedName": "QualifiedName",
        "uriTemplate": "URITemplate",
        "_meta": "Meta",
        "JSONRPCId": "JSONRPCID",
        "call_demo_x": "CallDemoX",
        "2fa": "X2Fa",
    }
    assert [local(n) for n in ["server", "URIValue", "type", "url", "metrics_json"]] == [
        "server",
        "uriValue",
        "typeArg",
        "urlArg",
        "metricsJSON",
    ]


def test_doc_comments_start_with_the_name_and_never_with_what_gofmt_reads_as_markup() -> None:
    assert sentence("Tool", "A tool as its server declares it") == "Tool is a tool as its server declares it."
    assert sentence("Transport", "`http` is an alias.") == "Transport: `http` is an alias."
    lines = doc_lines("word " * 30 + "- not a list [x]: not a link # not a heading 1. nor a number", 20)
    assert all(not line.startswith(("-", "[", "#", "1.")) for line in lines)
    assert " ".join(lines) == " ".join(
        ("word " * 30 + "- not a list [x]: not a link # not a heading 1. nor a number").split()
    )


def test_optional_fields_are_pointers_or_left_out_when_empty_by_their_kind() -> None:
    schema = {
        "type": "object",
        "required": ["name", "count", "note"],
        "properties": {
            "name": {"type": "string"},
            "count": {"type": "integer"},
            "note": {"type": ["string", "null"]},
            "label": {"type": "string"},
            "ratio": {"type": "number"},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "scores": {"type": "object", "additionalProperties": {"type": "number"}},
            "kind": {"enum": ["a", "b-c"], "description": "Which kind."},
            "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
    }
    decls, problems = models({"Thing": schema})
    assert problems.items == []
    assert decls["Thing"].lines == (
        'Name   string             `json:"name"`',
        'Count  int64              `json:"count"`',
        'Note   *string            `json:"note"`',
        'Label  string             `json:"label,omitempty"`',
        'Ratio  *float64           `json:"ratio,omitempty"`',
        'Ok     *bool              `json:"ok,omitempty"`',
        'Tags   []string           `json:"tags,omitempty"`',
        'Scores map[string]float64 `json:"scores,omitempty"`',
        "// Which kind.",
        'Kind  ThingKind `json:"kind,omitempty"`',
        'Maybe *int64    `json:"maybe,omitempty"`',
    )
    assert decls["ThingKind"].values == (("ThingKindA", "a"), ("ThingKindBC", "b-c"))


def test_all_of_objects_is_one_struct_and_a_name_the_client_has_gets_model_appended() -> None:
    schemas = {
        "ProblemError": {"type": "object", "properties": {"pointer": {"type": "string"}}},
        "Base": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
        "Both": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"properties": {"extra": {"type": "integer"}}}]},
    }
    decls, _ = models(schemas, frozenset({"ProblemError"}))
    assert set(decls) == {"ProblemErrorModel", "Base", "Both"}
    assert decls["Both"].lines == ('ID    string `json:"id"`', 'Extra *int64 `json:"extra,omitempty"`')


def test_union_variants_are_named_by_reference_or_constant_and_matched_by_what_tells_them_apart() -> None:
    card = {"type": "object", "required": ["type"], "properties": {"type": {"const": "card"}}}
    voucher = {"type": "object", "required": ["type", "code"], "properties": {"type": {"const": "voucher"}}}
    schemas = {
        "PayCard": card,
        "PayVoucher": voucher,
        "Payment": {"oneOf": [{"$ref": "#/components/schemas/PayCard"}, {"$ref": "#/components/schemas/PayVoucher"}]},
        "Cpus": {"oneOf": [{"type": "array", "items": {"type": "integer"}}, {"const": "auto"}]},
        "Id": {"type": ["integer", "string", "null"]},
    }
    decls, _ = models(schemas)
    payment = decls["Payment"].variants
    assert [(v.name, v.field, v.match) for v in payment] == [
        ("Card", "*PayCard", '"object", []string{"type"}, [][2]string{{"type", "card"}}'),
        ("Voucher", "*PayVoucher", '"object", []string{"code", "type"}, [][2]string{{"type", "voucher"}}'),
    ]
    assert [(v.name, v.field, v.pointer) for v in decls["Cpus"].variants] == [
        ("Array", "[]int64", False),
        ("Auto", "*string", True),
    ]
    assert [v.match for v in decls["ID"].variants] == ['"integer", nil, nil', '"string", nil, nil']


def test_a_property_no_struct_tag_can_name_is_left_out_with_a_warning() -> None:
    decls, problems = models({"Odd": {"type": "object", "properties": {'say "hi"': {"type": "string"}, "ok": {}}}})
    assert decls["Odd"].lines == ('Ok interface{} `json:"ok,omitempty"`',)
    assert [str(p) for p in problems.items] == [
        'warning: /components/schemas/Odd/properties/say "hi": '
        "'say \"hi\"' cannot be a Go struct tag; Odd leaves it out"
    ]


def test_two_operations_that_become_one_go_method_are_a_problem(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "openapi" / "openapi.yaml").read_text())
    document["paths"]["/tools"]["get"]["operationId"] = "list_servers"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(document))
    with pytest.raises(GenerationFailed) as failed:
        generate_files("go", str(spec), "example.com/x")
    assert "error: /paths: two operations become the Go method ListServers" in [str(p) for p in failed.value.problems]
