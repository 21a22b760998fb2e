"""What a 2026-07-28 upstream is told its caller can do: the caller's own client capabilities.

At 2026-07-28 every request carries its client's capabilities in ``_meta``, and servers act on
them: a tool asks only what its client declared it can answer (sampling, elicitation, roots) and
falls back otherwise, a UI tool answers with its app only to a client that declared the MCP
Apps extension. So a call an MCP client makes through the gateway tells the upstream what that
client declared, as the client would if it called the server directly, where the SDK session
would tell every upstream the gateway's own stand (sampling and elicitation, the tasks
extension) for every caller.

What is told is what the gateway carries back (``told``):

- ``sampling`` and ``elicitation``, as declared (their sub-capabilities too): questions come back
  to the caller, as an input-required result or a request mid-call;
- ``roots`` to a caller that takes input-required results as they are (2026-07-28), to which a
  ``roots/list`` round passes through; before, the gateway has no list to answer with;
- the caller's extensions but tasks: whether a call becomes an upstream task is the gateway's
  own business (it follows such tasks, or keeps the call lean), whatever its caller makes of
  tasks with the gateway itself.

A 2025-era upstream is told once, in ``initialize``, for all callers of its one session: the
gateway's own stand, and the gateway's relay refuses a question the caller cannot answer.
Callers that are not MCP clients (REST, the WebSocket) declare nothing of their own
(``bridge.model.Relay.declared`` is None): the gateway's stand is told for them. So it is for a
call the gateway runs in its call store (an asynchronous REST call, an MCP client's task): the
gateway itself answers for it there, and follows the upstream's own task if it makes one.

The SDK session's stamp sets the capabilities on every request, whatever the request holds;
``keep_declared`` wraps it so that the request's own, when it has them, stay. The lean path
learns the stamp by trying it (``bridge.upstream.lean_calls``), so it does the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from mcp.client.session import ClientSession
from mcp_types import CLIENT_CAPABILITIES_META_KEY

from bridge.model import JSON
from bridge.upstream.tasks import TASKS

__all__ = ["keep_declared", "told"]

#: What is told of a caller's capabilities as declared; with ``roots`` for a 2026-07-28 caller.
_CARRIED: Final = frozenset({"sampling", "elicitation"})
_CARRIED_THROUGH: Final = frozenset({"sampling", "elicitation", "roots"})

Stamp = Callable[[dict[str, Any], Any], None]


def told(declared: JSON, through: bool) -> JSON:
    """What an upstream is told of a caller that declared ``declared`` (``through``: it takes
    input-required results as they are). The common declarations (nothing, sampling,
    elicitation) are told as they are, not copied."""
    carried = _CARRIED_THROUGH if through else _CARRIED
    if declared.keys() <= carried:
        return declared
    kept = {key: value for key, value in declared.items() if key in carried}
    extensions = declared.get("extensions")
    if isinstance(extensions, dict):
        others = {name: settings for name, settings in extensions.items() if name != TASKS}
        if others:
            kept["extensions"] = others
    return kept


def keep_declared(session: ClientSession) -> None:
    """Make ``session``'s stamp leave a request's own capabilities as they are (it sets its own
    only where a request has none). Once the handshake is done: the handshake makes the stamp."""
    stamp: Stamp = session._stamp
    if getattr(stamp, "keeps_declared", False):
        return

    def stamp_keeping(data: dict[str, Any], opts: Any) -> None:
        params = data.get("params")
        meta = params.get("_meta") if type(params) is dict else None
        own = meta.get(CLIENT_CAPABILITIES_META_KEY) if type(meta) is dict else None
        stamp(data, opts)
        if own is not None:
            data["params"]["_meta"][CLIENT_CAPABILITIES_META_KEY] = own

    stamp_keeping.keeps_declared = True  # type: ignore[attr-defined]
    session._stamp = stamp_keeping
