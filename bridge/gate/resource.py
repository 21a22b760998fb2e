"""The bridge as an OAuth 2.0 protected resource: its identifier, its metadata, and its challenges.

RFC 9728 has a resource publish which authorization servers issue tokens for it, and which
scopes it knows, at ``/.well-known/oauth-protected-resource``; every 401 names that document in
its ``WWW-Authenticate`` challenge, so a client that holds no token (the MCP SDK's OAuth
client, for one) finds where to get one. The resource identifier is the bridge's public URL,
the ``resource`` a client asks tokens for (RFC 8707) and the ``aud`` they must carry.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["METADATA_PATH", "ProtectedResource"]

#: Where the document is served, at the root of the bridge's URL.
METADATA_PATH = "/.well-known/oauth-protected-resource"


@dataclass(frozen=True, slots=True)
class ProtectedResource:
    """What the bridge tells clients about itself as a resource server."""

    #: The resource identifier: the bridge's public URL, without a trailing slash.
    resource: str
    authorization_servers: tuple[str, ...]
    #: The bridge's scopes (``use``, ``admin``) → the token scopes that grant them.
    scopes: Mapping[str, str]

    @property
    def metadata_url(self) -> str:
        return self.resource + METADATA_PATH

    def scope_for(self, needed: Collection[str]) -> str:
        """The token scopes a caller needs for the bridge's ``needed`` scopes, as a challenge names them."""
        return " ".join(sorted(self.scopes.get(scope, scope) for scope in needed))

    def document(self) -> dict[str, Any]:
        """The RFC 9728 metadata document."""
        return {
            "resource": self.resource,
            "authorization_servers": list(self.authorization_servers),
            "scopes_supported": sorted(set(self.scopes.values())),
            "bearer_methods_supported": ["header"],
            "resource_name": "mcp-rest-bridge",
            "resource_documentation": self.resource + "/docs",
        }
