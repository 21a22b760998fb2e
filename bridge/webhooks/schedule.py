"""When a delivery is tried again: exponential backoff with jitter over about a day.

The first attempt goes at once; after the n-th failure the next waits ``delays[n-1]`` seconds,
give or take ``JITTER`` of it, so deliveries that failed together do not return together; a
``Retry-After`` longer than that wins (up to ``MAX_RETRY_AFTER``). After the last delay's
attempt fails, the delivery is failed: the dead letter, kept in the delivery log for redelivery.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["DEFAULT_DELAYS", "RetrySchedule"]

#: Ten attempts: at once, then after 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h and 12 h,
#: about 23 hours in all: an endpoint down for a night's maintenance still gets everything.
DEFAULT_DELAYS: tuple[float, ...] = (5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 3 * 3600.0, 6 * 3600.0, 12 * 3600.0)
#: The share of a delay by which an actual wait may differ from it, either way.
JITTER = 0.2
#: A receiver's ``Retry-After`` is honoured up to this many seconds.
MAX_RETRY_AFTER = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    delays: tuple[float, ...] = DEFAULT_DELAYS

    @property
    def attempts(self) -> int:
        """Attempts in all, the first included."""
        return len(self.delays) + 1

    def next_delay(self, failed_attempts: int, retry_after: float | None = None) -> float | None:
        """Seconds until the next attempt after ``failed_attempts`` failures; None when none is left."""
        if failed_attempts >= self.attempts:
            return None
        base = self.delays[failed_attempts - 1]
        delay = base * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - spreading retries, not a secret
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        return delay

    @classmethod
    def parse(cls, text: str) -> RetrySchedule:
        """Delays in seconds, comma-separated (``5,30,120``); ValueError if that is not what it is."""
        delays = tuple(float(part) for part in text.split(",") if part.strip())
        if not delays or any(d < 0 for d in delays):
            raise ValueError("give one or more delays in seconds, comma-separated, none negative")
        return cls(delays)
