"""The Host and Origin policy: which names a loopback bridge answers to, which pages it lets in."""

from __future__ import annotations

import re

import pytest

from bridge.endpoint.origins import Origins
from bridge.errors import ForeignOrigin


class Headers(dict[str, str]):
    def get(self, key: str, default: str = "") -> str:  # type: ignore[override]
        return super().get(key, default)


def headers_of(**headers: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]


def test_a_plain_request_to_a_known_name_needs_no_check_once_the_name_was_found_good() -> None:
    origins = Origins()
    assert origins.needs_check(headers_of(host="127.0.0.1:8000"))
    assert origins.check(Headers(host="127.0.0.1:8000")) is None
    assert not origins.needs_check(headers_of(host="127.0.0.1:8000", accept="*/*"))
    assert origins.needs_check(headers_of(host="127.0.0.1:8000", origin="http://127.0.0.1:8000"))


def test_headers_read_into_one_value_per_name_need_the_same_check() -> None:
    origins = Origins()
    assert origins.needs_check_of(Headers(host="127.0.0.1:8000"))
    assert origins.check(Headers(host="127.0.0.1:8000")) is None
    assert not origins.needs_check_of(Headers(host="127.0.0.1:8000", accept="*/*"))
    assert origins.needs_check_of(Headers(host="127.0.0.1:8000", origin="http://x"))
    assert origins.needs_check_of(Headers(host="evil.example"))
    assert not origins.needs_check_of(Headers(accept="*/*"))


def test_a_host_is_known_once_found_good_and_every_host_when_none_are_checked() -> None:
    origins = Origins()
    assert not origins.knows_host(b"127.0.0.1:8000")
    assert origins.check(Headers(host="127.0.0.1:8000")) is None
    assert origins.knows_host(b"127.0.0.1:8000")
    assert not origins.knows_host(b"evil.example")
    assert not origins.knows_host(b"127.0.0.1:8001")
    assert Origins(bind_host="0.0.0.0").knows_host(b"evil.example")


@pytest.mark.parametrize("host", ["localhost", "localhost:9", "app.localhost:1", "[::1]:80", "127.9.9.9", ""])
def test_a_loopback_bridge_answers_to_loopback_names(host: str) -> None:
    assert Origins().check(Headers(host=host)) is None


@pytest.mark.parametrize(
    ("host", "name"),
    [("evil.example", "evil.example"), ("Evil.example:8000", "evil.example"), ("10.0.0.1", "10.0.0.1"),
     ("[::2]:1", "::2"), ("localhost.evil", "localhost.evil")],
)  # fmt: skip
def test_a_loopback_bridge_refuses_other_names_unless_allowed(host: str, name: str) -> None:
    with pytest.raises(ForeignOrigin, match="does not answer to the name"):
        Origins().check(Headers(host=host))
    assert Origins(allowed_hosts=[name]).check(Headers(host=host)) is None


def test_a_bridge_bound_to_all_interfaces_takes_any_name() -> None:
    assert Origins(bind_host="0.0.0.0").check(Headers(host="bridge.internal:8000")) is None
    assert not Origins(bind_host="0.0.0.0").needs_check(headers_of(host="bridge.internal:8000"))


def test_the_own_origin_passes_without_cors_an_allowed_one_gets_cors_others_are_refused() -> None:
    origins = Origins(["https://App.example/"])
    assert origins.check(Headers(host="127.0.0.1:8000", origin="http://127.0.0.1:8000")) is None
    assert origins.check(Headers(host="127.0.0.1:8000", origin="https://app.example")) == "https://app.example"
    with pytest.raises(ForeignOrigin, match=re.escape("pages from the origin 'https://127.0.0.1:8000' may not")):
        origins.check(Headers(host="127.0.0.1:8000", origin="https://127.0.0.1:8000"))  # another scheme
    with pytest.raises(ForeignOrigin, match="pages from the origin 'null' may not"):
        origins.check(Headers(host="127.0.0.1:8000", origin="null"))


def test_the_good_names_remembered_are_bounded() -> None:
    origins = Origins()
    for port in range(200):
        origins.check(Headers(host=f"localhost:{port}"))
    assert len(origins._good_hosts) == 64
