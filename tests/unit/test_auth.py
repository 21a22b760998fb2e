import pytest

from bridge.errors import Forbidden, Unauthorized
from bridge.gate import ApiKeyAuthenticator, Gate
from bridge.model import ADMIN, DESTRUCTIVE, USE, Principal
from bridge.spec import Spec
from bridge.validation import RequestValidator

VALIDATOR = RequestValidator(Spec.from_file())


def _gate(keys: list[str], admin_keys: tuple[str, ...] = ()) -> Gate:
    return Gate(ApiKeyAuthenticator(keys, admin_keys), VALIDATOR, 1024)


def test_no_keys_means_every_caller_is_the_anonymous_principal() -> None:
    assert ApiKeyAuthenticator([]).authenticate({}) == Principal("anonymous", frozenset({USE, DESTRUCTIVE}))


@pytest.mark.parametrize(
    "headers", [{"authorization": "Bearer k2"}, {"x-api-key": "k1"}, {"authorization": "bearer k1"}]
)
def test_a_configured_key_is_accepted_in_either_header(headers: dict[str, str]) -> None:
    principal = ApiKeyAuthenticator(["k1", "k2"]).authenticate(headers)
    assert principal.scopes == frozenset({USE, DESTRUCTIVE})  # command-line keys may call destructive tools
    assert principal.subject.startswith("key:")
    assert "k1" not in principal.subject
    assert "k2" not in principal.subject


def test_two_keys_are_two_principals() -> None:
    auth = ApiKeyAuthenticator(["k1", "k2"])
    assert auth.authenticate({"x-api-key": "k1"}).subject != auth.authenticate({"x-api-key": "k2"}).subject


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "send an API key"),
        ({"authorization": "Basic azE="}, "send an API key"),
        ({"authorization": "Bearer wrong"}, "the API key is not valid"),
        ({"x-api-key": "k1x"}, "the API key is not valid"),
    ],
)
def test_missing_or_wrong_key_is_refused_without_echoing_it(headers: dict[str, str], detail: str) -> None:
    with pytest.raises(Unauthorized) as info:
        ApiKeyAuthenticator(["k1"]).authenticate(headers)
    assert info.value.detail.startswith(detail)
    assert "k1" not in info.value.detail
    assert "wrong" not in info.value.detail


def test_admin_scope_needs_an_admin_key() -> None:
    gate = _gate(["plain"], ("root",))
    assert gate.principal({"x-api-key": "root"}, frozenset({ADMIN})).scopes == frozenset({USE, DESTRUCTIVE, ADMIN})
    # an admin key is also a plain key
    assert gate.principal({"x-api-key": "root"}).scopes == frozenset({USE, DESTRUCTIVE, ADMIN})
    with pytest.raises(Forbidden, match="needs an admin key"):
        gate.principal({"x-api-key": "plain"}, frozenset({ADMIN}))
    with pytest.raises(Unauthorized):
        gate.principal({}, frozenset({ADMIN}))
    with pytest.raises(Forbidden, match="no admin key"):
        _gate([]).principal({}, frozenset({ADMIN}))


def test_an_allowlisted_principal_may_call_only_what_it_lists() -> None:
    principal = Principal.restricted("team", [USE], servers=["a", "b"], tools=["a.echo", "b.*"])
    assert principal.may_call("a", "echo")
    assert not principal.may_call("a", "add")
    assert principal.may_call("b", "anything")
    assert not principal.may_use("c")
    assert not principal.may_call("c", "echo")
    assert Principal.anonymous().unrestricted


def test_a_principal_carries_the_credential_only_while_an_upstream_is_to_receive_it() -> None:
    plain = ApiKeyAuthenticator(["k1"])
    keeping = ApiKeyAuthenticator(["k1"])
    keeping.keep_credentials = True
    assert plain.authenticate({"authorization": "Bearer k1"}).credential is None
    kept = keeping.authenticate({"x-api-key": "k1"})
    assert kept.credential == "k1"
    assert kept == plain.authenticate({"x-api-key": "k1"})  # the same principal, compared
    assert "k1" not in repr(kept)
