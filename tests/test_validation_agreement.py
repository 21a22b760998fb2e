"""The hot-path validators agree with openapi-core, the reference, on generated requests.

schemathesis generates requests for every operation from the spec itself, both conforming
ones and ones that break it (wrong types, missing fields, bad patterns); each must get the same
verdict from ``bridge.validation`` and from openapi-core.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies
from openapi_core.exceptions import OpenAPIError
from openapi_core.testing import MockRequest
from schemathesis import GenerationMode
from schemathesis.core import NotSet
from schemathesis.schemas import APIOperation

from bridge.errors import RequestInvalid
from bridge.spec import Spec, default_spec_path
from bridge.validation import NO_BODY, RequestValidator

SPEC = Spec.from_file()
VALIDATOR = RequestValidator(SPEC)
BY_ROUTE = {(op.method, op.path): op for op in SPEC.operations.values()}

schema = schemathesis.openapi.from_path(str(default_spec_path()))


def _as_strings(values: dict[str, Any] | None) -> dict[str, str]:
    # On the wire every path and query value is a string; compare on what a server really receives.
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in (values or {}).items()}


def _ours(operation_id: str, path: dict[str, str], query: dict[str, str], body: Any) -> bool:
    try:
        VALIDATOR[operation_id].check(path, query, body)
    except RequestInvalid:
        return False
    return True


def _reference(method: str, pattern: str, path: dict[str, str], query: dict[str, str], body: Any) -> bool:
    concrete = pattern
    for name, value in path.items():
        concrete = concrete.replace("{" + name + "}", value)
    request = MockRequest(
        "http://127.0.0.1",
        method.lower(),
        concrete,
        path_pattern=pattern,
        args=query,
        view_args=path,
        # Credentials are checked by the auth gate, not by these validators: always present them.
        headers={"Authorization": "Bearer key"},
        data=None if body is NO_BODY else body if isinstance(body, bytes) else json.dumps(body).encode(),
    )
    try:
        SPEC.openapi.validate_request(request)
    except OpenAPIError:  # what openapi-core says of a request it rejects; anything else is a failure here
        return False
    return True


#: Every operation of the spec, each a test of its own. (schemathesis' ``schema.parametrize()``
#: gives every operation's item one node id, so pytest-xdist, which hands out items by node id,
#: ran one operation of them all under ``make test``.)
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_compiled_validators_agree_with_openapi_core(operation: APIOperation) -> None:
    """Requests that conform and requests that break the spec (an operation without inputs has
    none of the second kind), each given the same verdict by both."""
    conforming = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    breaking = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)

    @given(case=strategies.one_of(conforming, breaking))
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def agree(case: Any) -> None:
        _agree(case)

    agree()


def test_a_method_a_path_does_not_declare_is_refused_by_openapi_core_too() -> None:
    """Routing answers 405 before any validator runs; the reference must not accept one either."""
    routes = {route for _, route in BY_ROUTE}
    for route in routes:
        declared = {method for method, declared_route in BY_ROUTE if declared_route == route}
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - declared:
            assert not _reference(method, route, {}, {}, NO_BODY), f"openapi-core accepts {method} {route}"


def _agree(case: Any) -> None:
    op = BY_ROUTE[(case.method.upper(), case.path)]
    path = _as_strings(case.path_parameters)
    query = _as_strings(case.query)
    body = NO_BODY if isinstance(case.body, NotSet) or op.body_schema is None else case.body
    raw = body if isinstance(body, bytes) else None
    if raw is not None:  # a body that is not JSON text: the bridge's parser rejects it first
        try:
            body = json.loads(raw)
        except ValueError:
            assert not _reference(case.method, case.path, path, query, raw)
            return
    ours = _ours(op.operation_id, path, query, body)
    reference = _reference(case.method, case.path, path, query, body)
    assert ours == reference, f"{op.operation_id}: ours={ours} openapi-core={reference}: {path} {query} {body!r}"
