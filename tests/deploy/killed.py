"""What a ``kill -9`` of one instance behind nginx may cost: the requests in flight on it, no more."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol, TypeVar


class Timed(Protocol):
    """A request a load thread made: when it began and ended, and its status (0: the connection was cut)."""

    @property
    def began(self) -> float: ...

    @property
    def ended(self) -> float: ...

    @property
    def status(self) -> int: ...


T = TypeVar("T", bound=Timed)


def only_in_flight_failed(
    sent: Sequence[T], killed: float, dead: float, *, at_most: int, statuses: Collection[int], later: int
) -> list[T]:
    """The requests of ``sent`` that failed, checked to be those in flight when an instance was
    killed (at ``killed``; reaped at ``dead``): at least one (nginx never sends a POST twice), at
    most ``at_most``, each answered with one of ``statuses``; and at least ``later`` requests
    begun after, every one of them a success."""
    failed = [s for s in sent if s.status != 200]
    assert failed, "requests in flight on the killed instance must fail, not be sent again elsewhere"
    assert len(failed) <= at_most
    for s in failed:
        assert s.began < dead, "only requests in flight on the killed instance fail"
        assert s.ended > killed
        assert s.status in statuses
    after = [s for s in sent if s.began > dead]
    assert len(after) >= later
    assert all(s.status == 200 for s in after)
    return failed
