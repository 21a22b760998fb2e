"""Rate and concurrency limits per caller, server and tool, in memory or shared through Redis."""

from bridge.limits.limiter import LEASE_GRACE, CallerRate, Lease, Limits, UpstreamLimits
from bridge.limits.rates import Meter, Window, windows
from bridge.limits.slots import MemorySlots, RedisSlots, Slots

__all__ = [
    "LEASE_GRACE",
    "CallerRate",
    "Lease",
    "Limits",
    "MemorySlots",
    "Meter",
    "RedisSlots",
    "Slots",
    "UpstreamLimits",
    "Window",
    "windows",
]
