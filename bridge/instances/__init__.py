"""Several bridge instances on one Redis: what one instance's callers see of the others.

- ``instance``: this instance's id, its Redis client and the heartbeat that says it is alive
- ``fanout``: events shared through one Redis stream, delivered to every instance in one order
- ``peers``: asynchronous calls read, followed, answered and cancelled on any instance
- ``joined``: all of it for one instance, started and stopped together

Without ``--redis-url`` none of it exists and the feed and the call store work as on one instance.
"""

from bridge.instances.fanout import RedisFanout
from bridge.instances.instance import Instance
from bridge.instances.joined import Joined
from bridge.instances.peers import RedisCallPeers

__all__ = ["Instance", "Joined", "RedisCallPeers", "RedisFanout"]
