"""Upstream MCP servers through the official SDK: the only layer that knows ``mcp`` and asyncio.

- ``pool``: every server's session, on the one event loop (``loop``), for the gateway's
  ``Upstreams`` seam; ``memory`` is the same seam without processes, for unit tests;
- ``session``: one server's session, its requests, and the parts it is made of:
  ``link`` (the connection's state, told to an ``UpstreamListener``), ``supervisor`` and
  ``connecting`` (connect, ping, reconnect), ``catalog`` (listing and change streams),
  ``following`` (resource subscriptions), ``relaying`` (what flows back to a caller mid-call);
- transports: ``stdio`` (child processes, placed on CPUs by ``placement``) and ``http``
  (HTTP/1.1 in ``wire``; lean requests in ``lean_http``, event streams read by ``sse_events``);
- at the SDK's boundary: ``translate`` (results to JSON, failures to the error tree) and
  ``results`` (tool results held to their output schemas).
"""

from bridge.model import Catalog, ServerState, ServerStatus
from bridge.upstream.pool import UpstreamPool

__all__ = ["Catalog", "ServerState", "ServerStatus", "UpstreamPool"]
