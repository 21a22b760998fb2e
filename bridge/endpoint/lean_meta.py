"""Whether a request's ``_meta`` is one the SDK's server takes, judged as that server judges it.

The lean path serves a request only where the SDK's server would serve it, and then as it would;
anything else goes to the SDK's app, which answers it (``-32602`` "Invalid request parameters"
for a ``_meta`` its models refuse: a progress token of ``null`` or ``1.5``, a log level of
``"loud"``, declared capabilities of the wrong shape), so such a request never reaches an upstream.

What the SDK's models type in a request's ``_meta``:

- at every revision, ``progressToken``: a string or an integer. Only those two are taken here
  (by exact type): ``None`` and floats the SDK refuses or reads its own way, and a boolean it
  takes as an integer. Those go to the SDK, which answers them as it always did;
- at 2026-07-28, also ``io.modelcontextprotocol/protocolVersion``, ``/clientCapabilities``,
  ``/clientInfo`` and ``/logLevel``. Their verdict is the SDK's own (``parse_client_request``),
  asked once per distinct value and remembered: a client sends the same ones on every request.

Every other key of ``_meta`` is the sender's own (any JSON), as it is to the SDK.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    LOG_LEVEL_META_KEY,
    PROTOCOL_VERSION_META_KEY,
)
from mcp_types.methods import parse_client_request
from pydantic import ValidationError

from bridge.model import JSON

__all__ = ["MODERN_TYPED_KEYS", "sdk_takes_meta"]

#: The keys of a 2026-07-28 request's ``_meta`` that the SDK's model types, besides ``progressToken``.
MODERN_TYPED_KEYS: Final = (
    PROTOCOL_VERSION_META_KEY,
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    LOG_LEVEL_META_KEY,
)
#: Verdicts remembered, at most (the typed values of a process's clients; forgotten all at once past it).
MAX_VERDICTS: Final = 256
#: A progress token the lean path takes is of exactly these types; the SDK also takes a boolean
#: (as an integer) and an integral float, which are left to it.
_TOKEN_TYPES: Final = frozenset((str, int))
_verdicts: dict[bytes, bool] = {}


def sdk_takes_meta(meta: JSON, version: str, modern: bool) -> bool:
    """Whether the SDK's server takes a request with this ``_meta`` at ``version`` (``modern``:
    a 2026-07-28 request); False leaves the request to it."""
    if "progressToken" in meta and type(meta["progressToken"]) not in _TOKEN_TYPES:
        return False
    if not modern:
        return True
    get = meta.get
    try:  # an absent key and a null one have the same verdict, for each of the four
        key = orjson.dumps(
            (
                version,
                get(PROTOCOL_VERSION_META_KEY),
                get(CLIENT_CAPABILITIES_META_KEY),
                get(CLIENT_INFO_META_KEY),
                get(LOG_LEVEL_META_KEY),
            )
        )
    except orjson.JSONEncodeError:  # an integer past 64 bits, say: the SDK's to judge
        return False
    verdict = _verdicts.get(key)
    if verdict is None:
        verdict = _judged({name: meta[name] for name in MODERN_TYPED_KEYS if name in meta}, version)
        if len(_verdicts) >= MAX_VERDICTS:
            _verdicts.clear()
        _verdicts[key] = verdict
    return verdict


def _judged(typed: dict[str, Any], version: str) -> bool:
    """The SDK's verdict on these typed ``_meta`` values: the meta of every request's params is one
    model, so a listing's params carrying them are judged as any request's would be."""
    try:
        parse_client_request("tools/list", version, {"_meta": typed})
    except (ValidationError, KeyError, ValueError):
        return False
    return True
