import pytest

from bridge.errors import Unauthorized
from bridge.rest.auth import ApiKeyAuth


def test_no_keys_means_open() -> None:
    ApiKeyAuth([]).check({})


@pytest.mark.parametrize(
    "headers", [{"Authorization": "Bearer k2"}, {"X-API-Key": "k1"}, {"Authorization": "bearer k1"}]
)
def test_a_configured_key_is_accepted_in_either_header(headers: dict[str, str]) -> None:
    ApiKeyAuth(["k1", "k2"]).check(headers)


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "send an API key"),
        ({"Authorization": "Basic azE="}, "send an API key"),
        ({"Authorization": "Bearer wrong"}, "the API key is not valid"),
        ({"X-API-Key": "k1x"}, "the API key is not valid"),
    ],
)
def test_missing_or_wrong_key_is_refused_without_echoing_it(headers: dict[str, str], detail: str) -> None:
    with pytest.raises(Unauthorized) as info:
        ApiKeyAuth(["k1"]).check(headers)
    assert info.value.detail.startswith(detail)
    assert "k1" not in info.value.detail
    assert "wrong" not in info.value.detail


def test_admin_scope_needs_an_admin_key() -> None:
    from bridge.errors import Forbidden
    from bridge.rest.auth import ADMIN

    auth = ApiKeyAuth(["plain"], ["root"])
    auth.check({"X-API-Key": "root"}, frozenset({ADMIN}))
    auth.check({"X-API-Key": "root"})  # an admin key is also a plain key
    with pytest.raises(Forbidden, match="needs an admin key"):
        auth.check({"X-API-Key": "plain"}, frozenset({ADMIN}))
    with pytest.raises(Unauthorized):
        auth.check({}, frozenset({ADMIN}))
    with pytest.raises(Forbidden, match="no admin key"):
        ApiKeyAuth([]).check({}, frozenset({ADMIN}))
