"""The loop-free parts of webhooks: the retry schedule, the address guard, signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from bridge.webhooks import RetrySchedule, TargetRefused, new_secret, signature_headers
from bridge.webhooks.addresses import check_addresses, parse_target
from bridge.webhooks.schedule import DEFAULT_DELAYS, JITTER
from bridge.webhooks.signing import key_of


def test_the_default_schedule_makes_ten_attempts_over_about_a_day() -> None:
    schedule = RetrySchedule()
    assert schedule.attempts == 10
    assert 20 * 3600 < sum(DEFAULT_DELAYS) < 26 * 3600


def test_each_delay_is_jittered_within_its_share_and_none_follows_the_last_attempt() -> None:
    schedule = RetrySchedule((10.0, 100.0))
    delays = [schedule.next_delay(2) for _ in range(200)]
    assert all(d is not None and 100 * (1 - JITTER) <= d <= 100 * (1 + JITTER) for d in delays)
    assert len(set(delays)) > 1
    assert schedule.next_delay(3) is None


def test_retry_after_wins_when_longer_but_never_shortens_the_wait() -> None:
    schedule = RetrySchedule((1.0,))
    assert schedule.next_delay(1, retry_after=30.0) == 30.0
    delay = schedule.next_delay(1, retry_after=0.0)
    assert delay is not None
    assert delay >= 1 - JITTER


def test_a_schedule_is_parsed_from_seconds_and_refuses_nonsense() -> None:
    assert RetrySchedule.parse("0.5, 2,10").delays == (0.5, 2.0, 10.0)
    for text in ("", "-1"):
        with pytest.raises(ValueError, match="give one or more delays"):
            RetrySchedule.parse(text)
    with pytest.raises(ValueError, match="could not convert"):
        RetrySchedule.parse("soon")


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "::1", "fe80::1",
                "fc00::1", "::ffff:10.0.0.1", "100.64.0.1", "224.0.0.1", "0.0.0.0", "240.0.0.1"],
)  # fmt: skip
def test_non_global_addresses_are_refused_unless_allowed(address: str) -> None:
    with pytest.raises(TargetRefused):
        check_addresses("host", [address], allow_private=False)
    assert check_addresses("host", [address], allow_private=True) == [address]


def test_a_name_with_one_private_address_among_public_ones_is_refused() -> None:
    assert check_addresses("host", ["93.184.215.14", "2606:2800:21f:cb07::1"], allow_private=False)
    with pytest.raises(TargetRefused):
        check_addresses("host", ["93.184.215.14", "10.0.0.1"], allow_private=False)


def test_a_target_keeps_host_port_and_path_and_refuses_credentials() -> None:
    target = parse_target("https://Hooks.Example:8443/in?x=1")
    assert (target.scheme, target.host, target.port, target.path) == ("https", "hooks.example", 8443, "/in?x=1")
    assert target.authority == "hooks.example:8443"
    assert parse_target("http://[::1]/").authority == "[::1]"
    for url in ("ftp://x/", "http:///x", "http://u:p@x/"):
        with pytest.raises(TargetRefused):
            parse_target(url)


def test_signatures_follow_standard_webhooks_and_the_guides_header() -> None:
    secret = new_secret()
    key = key_of(secret)
    assert len(key) == 24
    headers = dict(signature_headers("msg_1", 1700000000, b'{"a":1}', [key, b"old"]))
    mine = base64.b64encode(hmac.digest(key, b'msg_1.1700000000.{"a":1}', hashlib.sha256)).decode()
    old = base64.b64encode(hmac.digest(b"old", b'msg_1.1700000000.{"a":1}', hashlib.sha256)).decode()
    assert headers["webhook-signature"] == f"v1,{mine} v1,{old}"
    guide = hmac.new(key, b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert headers["X-MCP-Signature"].split(", ")[0] == f"sha256={guide}"
    assert key_of("plain secret") == b"plain secret"
