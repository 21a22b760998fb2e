"""The problem-type catalogue becomes the clients' exception classes; a broken one is reported with its place."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from generator.error_classes import read_error_classes
from generator.pipeline import generate_files
from generator.problems import Problems
from tests.support import ROOT

SPEC = ROOT / "openapi" / "openapi.yaml"
WHERE = "/components/schemas/Problem/x-problem-types/types"


def schemas() -> dict[str, Any]:
    loaded = yaml.safe_load(SPEC.read_text(encoding="utf-8"))["components"]["schemas"]
    assert isinstance(loaded, dict)
    return loaded


def test_each_bridge_type_gets_a_class_under_its_status_class_parents_first() -> None:
    problems = Problems()
    errors = read_error_classes(schemas(), problems)
    assert problems.items == []
    assert [(c.name, c.parent, c.status, c.problem_type and c.problem_type.slug) for c in errors.classes] == [
        ("BadRequest", "ProblemError", 400, None),
        ("InvalidRequest", "BadRequest", None, "invalid-request"),
        ("NotJsonRpc", "BadRequest", None, "not-json-rpc"),
        ("ParseError", "BadRequest", None, "parse-error"),
        ("Unauthorized", "ProblemError", 401, "unauthorized"),
        ("Forbidden", "ProblemError", 403, "forbidden"),
        ("ForeignOrigin", "Forbidden", None, "foreign-origin"),
        ("NotFound", "ProblemError", 404, "not-found"),
        ("RequestTimeout", "ProblemError", 408, "request-timeout"),
        ("Conflict", "ProblemError", 409, None),
        ("AlreadyExists", "Conflict", None, "already-exists"),
        ("AmbiguousName", "Conflict", None, "ambiguous-name"),
        ("CallCancelled", "Conflict", None, "call-cancelled"),
        ("IdempotencyKeyInFlight", "Conflict", None, "idempotency-key-in-flight"),
        ("NotWaitingForInput", "Conflict", None, "not-waiting-for-input"),
        ("PayloadTooLarge", "ProblemError", 413, "payload-too-large"),
        ("UnsupportedMediaType", "ProblemError", 415, "unsupported-media-type"),
        ("UnprocessableContent", "ProblemError", 422, None),
        ("IdempotencyKeyReused", "UnprocessableContent", None, "idempotency-key-reused"),
        ("InputRequired", "UnprocessableContent", None, "input-required"),
        ("ToolError", "UnprocessableContent", None, "tool-error"),
        ("Unprocessable", "UnprocessableContent", None, "unprocessable"),
        ("TooManyRequests", "ProblemError", 429, None),
        ("AsyncCallLimit", "TooManyRequests", None, "async-call-limit"),
        ("RateLimited", "TooManyRequests", None, "rate-limited"),
        ("TooManyCalls", "TooManyRequests", None, "too-many-calls"),
        ("RequestHeaderFieldsTooLarge", "ProblemError", 431, None),
        ("HeadersTooLarge", "RequestHeaderFieldsTooLarge", None, "headers-too-large"),
        ("BadGateway", "ProblemError", 502, None),
        ("UpstreamError", "BadGateway", None, "upstream-error"),
        ("ServiceUnavailable", "ProblemError", 503, None),
        ("CallCutOff", "ServiceUnavailable", None, "call-cut-off"),
        ("StoreUnavailable", "ServiceUnavailable", None, "store-unavailable"),
        ("UpstreamUnavailable", "ServiceUnavailable", None, "upstream-unavailable"),
        ("GatewayTimeout", "ProblemError", 504, None),
        ("UpstreamTimeout", "GatewayTimeout", None, "upstream-timeout"),
        ("ServerError", "ProblemError", None, None),
        ("Internal", "ServerError", None, "internal"),
        ("ResultTooLarge", "ServerError", None, "result-too-large"),
    ]


def test_a_class_has_accessors_for_its_own_members_and_inherits_the_rest() -> None:
    errors = {c.name: c for c in read_error_classes(schemas(), Problems()).classes}
    accessors = {name: [(m.py_name, m.ts_name, m.kind) for m in c.accessors] for name, c in errors.items()}
    assert {name: found for name, found in accessors.items() if found} == {
        "Unauthorized": [("www_authenticate", "wwwAuthenticate", "text")],
        "Forbidden": [("www_authenticate", "wwwAuthenticate", "text")],
        "Conflict": [("candidates", "candidates", "strings")],
        "IdempotencyKeyInFlight": [("retry_after", "retryAfter", "seconds")],
        "ToolError": [("content", "content", "objects"), ("structured_content", "structuredContent", "object")],
        "UpstreamError": [("server", "server", "string"), ("upstream_code", "upstreamCode", "integer")],
        "TooManyRequests": [("retry_after", "retryAfter", "seconds")],
        "AsyncCallLimit": [
            ("violated_policies", "violatedPolicies", "strings"),
            ("retry_after_seconds", "retryAfterSeconds", "integer"),
            ("rate_limit_policy", "rateLimitPolicy", "text"),
            ("rate_limit", "rateLimit", "text"),
        ],
        "RateLimited": [
            ("violated_policies", "violatedPolicies", "strings"),
            ("retry_after_seconds", "retryAfterSeconds", "integer"),
            ("rate_limit_policy", "rateLimitPolicy", "text"),
            ("rate_limit", "rateLimit", "text"),
        ],
        "ServiceUnavailable": [("retry_after", "retryAfter", "seconds")],
        "UpstreamUnavailable": [("server", "server", "string")],
        "UpstreamTimeout": [("server", "server", "string"), ("upstream_code", "upstreamCode", "integer")],
    }


def test_without_a_catalogue_the_clients_tell_errors_apart_by_status_alone() -> None:
    bare = {name: schema for name, schema in schemas().items() if name != "Problem"}
    errors = read_error_classes({**bare, "Problem": {"type": "object"}}, Problems())
    assert errors.types == ()
    assert errors.names == (
        "BadRequest",
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "RequestTimeout",
        "Conflict",
        "PayloadTooLarge",
        "UnsupportedMediaType",
        "UnprocessableContent",
        "TooManyRequests",
        "RequestHeaderFieldsTooLarge",
        "BadGateway",
        "ServiceUnavailable",
        "GatewayTimeout",
        "ServerError",
    )


def test_a_spec_without_a_catalogue_generates_a_client_with_a_warning(tmp_path: Any) -> None:
    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    del document["components"]["schemas"]["Problem"]["x-problem-types"]
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump(document), encoding="utf-8")
    files, problems = generate_files("typescript", str(bare), "pkg")
    assert [str(p) for p in problems.items] == [
        "warning: /components/schemas: no x-problem-types catalogue: errors are told apart by status alone"
    ]
    assert "export class UnprocessableContent extends ProblemError {}" in files["pkg/src/errors.ts"]
    assert "ToolError" not in files["pkg/src/errors.ts"]


def test_catalogue_problems_are_reported_together_with_their_place() -> None:
    broken = copy.deepcopy(schemas())
    types = broken["Problem"]["x-problem-types"]["types"]
    types["tool-error"]["members"] = ["content", "output"]
    types["already-exists"]["status"] = 200
    types["client"] = {"status": 400, "title": "Taken"}
    types["not_found"] = {"status": 404, "title": "Again"}
    types["bad-gateway"] = {"status": 500, "title": "Named like another status's class"}
    types["gone"] = {"status": 410, "title": "Gone", "schema": "Missing"}
    types["headed"] = {"status": 400, "title": "Headed", "headers": ["Body"]}
    problems = Problems()
    read_error_classes(broken, problems)
    assert [str(p) for p in problems.items] == [
        f"error: {WHERE}/already-exists/status: must be an error status (400-599), got 200",
        f"error: {WHERE}/tool-error/members/1: 'output' is not a property of schema ToolErrorProblem",
        f"error: {WHERE}/gone/schema: 'Missing' is not a schema in /components/schemas",
        f"error: {WHERE}/headed: 'Body' would hide an attribute every problem exception has",
        f"error: {WHERE}/client: its class name Client is taken by another name of the client",
        f"error: {WHERE}/not_found: class NotFound already stands for 'not-found'",
        f"error: {WHERE}/bad-gateway: its class name BadGateway is taken by another name of the client",
    ]
