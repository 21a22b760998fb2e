"""The hot-path validators agree with openapi-core, the reference, on generated requests.

For every operation, hypothesis generates path parameters, query strings and bodies, both
schema-valid ones (hypothesis-jsonschema, from the spec's own schemas) and arbitrary JSON, and
each request must get the same verdict from ``bridge.validation`` and from openapi-core.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from openapi_core.testing import MockRequest

from bridge.errors import RequestInvalid
from bridge.spec import Operation, Spec
from bridge.validation import NO_BODY, RequestValidator

SPEC = Spec.from_file()
VALIDATOR = RequestValidator(SPEC)
OPERATIONS = sorted(SPEC.operations.values(), key=lambda op: op.operation_id)

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_segment = st.text(alphabet="abcXYZ019-_.~", min_size=1, max_size=12)


def _inline(node: Any, depth: int = 0) -> Any:
    """The schema with every local $ref replaced by its target, for hypothesis-jsonschema."""
    if depth > 20:
        return {}
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(SPEC.resolve({"$ref": node["$ref"]}), depth + 1)
        return {k: _inline(v, depth + 1) for k, v in node.items() if k not in ("example", "examples", "discriminator")}
    if isinstance(node, list):
        return [_inline(v, depth + 1) for v in node]
    return node


def _bodies(op: Operation) -> st.SearchStrategy[Any]:
    if op.body_schema is None:
        return st.just(NO_BODY)
    valid = from_schema(_inline(op.body_schema))
    return st.one_of(valid, _json, st.just(NO_BODY))


def _ours(op: Operation, path: dict[str, str], query: dict[str, str], body: Any) -> bool:
    try:
        VALIDATOR[op.operation_id].check(path, query, body)
    except RequestInvalid:
        return False
    return True


def _reference(op: Operation, path: dict[str, str], query: dict[str, str], body: Any) -> bool:
    concrete = op.path
    for name, value in path.items():
        concrete = concrete.replace("{" + name + "}", value)
    request = MockRequest(
        "http://127.0.0.1",
        op.method.lower(),
        concrete,
        path_pattern=op.path,
        args=query,
        view_args=path,
        data=None if body is NO_BODY else json.dumps(body).encode(),
    )
    try:
        SPEC.openapi.validate_request(request)
    except Exception:
        return False
    return True


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.operation_id)
def test_compiled_validators_agree_with_openapi_core(op: Operation) -> None:
    path_names = [p.name for p in op.parameters if p.location == "path"]
    query_names = [p.name for p in op.parameters if p.location == "query"]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(
        path=st.fixed_dictionaries({n: _segment for n in path_names}),
        query=st.fixed_dictionaries({}, optional={n: st.text(max_size=10) for n in query_names}),
        body=_bodies(op),
    )
    def agree(path: dict[str, str], query: dict[str, str], body: Any) -> None:
        ours = _ours(op, path, query, body)
        reference = _reference(op, path, query, body)
        assert ours == reference, f"{op.operation_id}: ours={ours} openapi-core={reference} for {path} {query} {body!r}"

    agree()
