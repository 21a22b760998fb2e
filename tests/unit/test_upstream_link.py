"""An upstream's state changes in one place, and its listener hears of each change once."""

from __future__ import annotations

import time
from typing import cast

from mcp import Client

from bridge.upstream.link import Link
from tests.support import HeardUpstream

CLIENT = cast(Client, object())  # the link only holds it


def test_each_change_of_state_is_heard_once_with_the_status_after_it() -> None:
    heard = HeardUpstream()
    link = Link("s", heard)
    link.connecting()  # it starts out connecting: no change
    link.connected(CLIENT)
    link.recover()  # ready already
    link.degrade("a call timed out after 1 s")
    link.degrade("catalog refresh failed: gone")  # degraded already: the first reason stands
    link.recover()
    link.failed("ping failed: no answer")  # the error alone is no change of state
    link.down(retry_at=time.monotonic() + 1)
    link.down(retry_at=time.monotonic() + 2)
    assert not link.lost("lost the connection", retry_at=time.monotonic() + 1)  # down already
    link.connecting()
    link.connected(CLIENT)
    assert link.lost("lost the connection", retry_at=time.monotonic() + 1)
    link.down()  # closed
    assert [(server, status.state, status.last_error) for server, status in heard.states] == [
        ("s", "ready", None),
        ("s", "degraded", "a call timed out after 1 s"),
        ("s", "ready", None),
        ("s", "down", "ping failed: no answer"),
        ("s", "connecting", "ping failed: no answer"),
        ("s", "ready", None),
        ("s", "down", "lost the connection"),
    ]


def test_the_status_heard_on_going_down_says_when_the_next_attempt_is_due() -> None:
    heard = HeardUpstream()
    Link("s", heard).down(retry_at=time.monotonic() + 7.2)
    assert [status.retry_after for _, status in heard.states] == [7]


def test_a_link_without_a_listener_changes_state_all_the_same() -> None:
    link = Link("s", None)
    link.connected(CLIENT)
    link.degrade("slow")
    assert (link.status().state, link.status().last_error) == ("degraded", "slow")
