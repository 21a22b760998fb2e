"""An MCP server whose every handler forwards to a backend: the gateway in-process, or over HTTP.

The backend answers in MCP's wire shape (JSON dicts); this package only turns those into the
SDK's types, and gives each call a relay to its caller: the progress, log messages and questions
(sampling, elicitation) the upstream sends while the call runs reach the client that made it, on
that request's own stream. It sits below the edges that serve it, ``bridge.endpoint`` (``/mcp``,
the gateway in-process) and ``bridge.proxy`` (stdio, a bridge over REST), so neither imports the
other.

- ``backend``: the ``Backend``, ``Completions`` and ``Subscriptions`` seams an edge implements.
- ``forwarding``: ``create_forwarding_server``, the factory that wires the rest.
- ``handlers``: ``ForwardingHandlers``, one method per MCP request, and the state they share.
- ``relay``: ``CallerRelay``, one request's way back to its client.
- ``holding``: ``HeldCalls``, calls held open while a 2026-07-28 client answers an upstream's
  mid-call question in rounds.
- ``changes``: who follows which resource, and ``ChangeAnnouncer``, which tells them of changes.
- ``sessions``: the handshake-era client sessions remembered (log level, list_changed).
- ``tasks``: the tasks extension (``tasks/get``, ``tasks/update``, ``tasks/cancel``) for a ``Tasks`` backend.
"""

from bridge.mcpserver.backend import JSON, Backend, Caller, Completions, Listing, Subscriptions, Tasks, TaskSupport
from bridge.mcpserver.forwarding import create_forwarding_server

__all__ = [
    "JSON",
    "Backend",
    "Caller",
    "Completions",
    "Listing",
    "Subscriptions",
    "TaskSupport",
    "Tasks",
    "create_forwarding_server",
]
