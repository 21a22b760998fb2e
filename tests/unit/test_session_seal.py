"""Sealed session ids: what one holds comes back only under the key that sealed it, and unaltered."""

from __future__ import annotations

import pytest

from bridge.endpoint.session_seal import MIN_SECRET_BYTES, SessionSeal

SECRET = b"s" * MIN_SECRET_BYTES
STATE = {"s": "key:abc", "p": {"protocolVersion": "2025-11-25", "capabilities": {"roots": {}}}}


def test_an_id_opens_to_its_state_on_any_instance_with_the_same_secret() -> None:
    sealed = SessionSeal(SECRET).seal(STATE)
    assert SessionSeal(SECRET).open(sealed) == STATE


def test_each_id_is_new_and_of_visible_ascii() -> None:
    seal = SessionSeal(SECRET)
    ids = {seal.seal(STATE) for _ in range(20)}
    assert len(ids) == 20
    assert all(all(0x21 <= ord(c) <= 0x7E for c in i) for i in ids)


def test_the_state_is_not_readable_in_the_id() -> None:
    sealed = SessionSeal(SECRET).seal(STATE)
    assert "key:abc" not in sealed
    assert sealed.startswith("m1.")
    assert set(sealed[3:]) <= set("0123456789abcdef.")  # nothing in it looks like a token to log scrubbers


@pytest.mark.parametrize(
    "mangle",
    [
        lambda i: i[:-2] + ("AA" if not i.endswith("AA") else "BB"),  # the tag
        lambda i: i.replace(".", ".x", 1),
        lambda i: ".".join(i.split(".")[:3]),
        lambda i: "m2." + i[3:],
        lambda i: "a.b.c.d.e",
        lambda i: "",
        lambda i: "é" * 10,
        lambda i: i + "." * 5000,
    ],
)
def test_an_altered_or_foreign_id_opens_to_nothing(mangle: object) -> None:
    sealed = SessionSeal(SECRET).seal(STATE)
    assert SessionSeal(SECRET).open(mangle(sealed)) is None  # type: ignore[operator]


def test_another_secret_or_a_process_key_opens_nothing_else() -> None:
    sealed = SessionSeal(SECRET).seal(STATE)
    assert SessionSeal(b"t" * MIN_SECRET_BYTES).open(sealed) is None
    assert SessionSeal().open(sealed) is None


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        SessionSeal(b"short")
