"""How an edge hands a request's credentials to the gate, and how the gate turns them into a principal.

A request presents one credential (``Authorization: Bearer …`` or ``X-API-Key: …``). The gate's
``Authenticator`` asks its *credential sources* in order, each one kind of credential: the keys
given on the command line, named keys kept in the store, OAuth 2.0 access tokens. A source that
does not recognise the credential answers None and the next is asked; one that does answers its
principal, or refuses it (``Unauthorized``: expired, revoked, a bad signature), and no later
source is asked. A bridge with no enabled source is open: every caller is the anonymous
principal, which may use but not manage.

A source that must ask another server before it can answer (an issuer's new keys, a token's
introspection) does not do so on the event loop's thread: it raises ``MustWait`` there, and the
edge asks again from a worker thread, so one slow authorization server never stalls every
request the loop serves. Nothing else is asked twice: a source raises it before it changes
anything.

When the bridge takes OAuth 2.0 tokens it is a protected resource (``bridge.gate.resource``):
every 401 then names its resource metadata, and a refused token says ``invalid_token``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from bridge.errors import Unauthorized
from bridge.gate.resource import ProtectedResource
from bridge.model import Principal

__all__ = ["Authenticator", "CredentialSource", "Headers", "MustWait", "presented_credential"]

#: What a refusal for a missing credential says.
MISSING = "send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
#: ... and on a bridge that also takes OAuth 2.0 access tokens.
MISSING_ACCESS = "send an access token as 'Authorization: Bearer <token>' (or an API key)"


class MustWait(Exception):
    """Answering needs a network round trip, and this is the event loop's thread: ask from another."""


class Headers(Protocol):
    """A request's headers, looked up by lower-case name."""

    def get(self, key: str, default: str) -> str: ...


class CredentialSource(Protocol):
    """One kind of credential the gate accepts."""

    @property
    def enabled(self) -> bool:
        """Whether this source has any credential at all (none: it does not close an open bridge)."""
        ...

    @property
    def may_admin(self) -> bool:
        """Whether a principal of this source may ever hold the ``admin`` scope."""
        ...

    def principal_for(self, credential: str) -> Principal | None:
        """The principal ``credential`` stands for; None if it is not this source's kind or not
        known to it; ``Unauthorized`` if it is this source's but not valid."""
        ...


def presented_credential(headers: Headers) -> str | None:
    """The bearer token or ``X-API-Key`` a request carries, if any."""
    auth = headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    key = headers.get("x-api-key", "").strip()
    return key or None


class Authenticator:
    """Credentials → principal through ``sources`` in order; see the module's notes."""

    def __init__(
        self,
        sources: Sequence[CredentialSource] = (),
        *,
        keep_credentials: bool = False,
        resource: ProtectedResource | None = None,
    ) -> None:
        self.sources = tuple(sources)
        #: Principals carry the credential presented, for an upstream that is sent its caller's
        #: token; off, nothing per request is spent on it.
        self.keep_credentials = keep_credentials
        #: Set when the bridge takes OAuth 2.0 tokens: what its challenges point to.
        self.resource = resource

    @property
    def enabled(self) -> bool:
        for source in self.sources:  # noqa: SIM110 (asked on every request: a loop costs less than any())
            if source.enabled:
                return True
        return False

    @property
    def admin_enabled(self) -> bool:
        """Whether any principal may ever hold the ``admin`` scope (else admin operations are off)."""
        return any(source.may_admin for source in self.sources)

    def authenticate(self, headers: Headers) -> Principal:
        if not self.enabled:
            return Principal.anonymous()
        presented = presented_credential(headers)
        resource = self.resource
        if presented is None:
            if resource is None:
                raise Unauthorized(MISSING)
            raise Unauthorized(MISSING_ACCESS, resource_metadata=resource.metadata_url)
        try:
            for source in self.sources:
                principal = source.principal_for(presented)
                if principal is not None:
                    return replace(principal, credential=presented) if self.keep_credentials else principal
        except Unauthorized as refused:
            if resource is None:
                raise
            raise refused.pointing_to(resource.metadata_url) from None
        if resource is None:
            raise Unauthorized("the API key is not valid")
        raise Unauthorized(
            "the access token or API key is not valid", error="invalid_token", resource_metadata=resource.metadata_url
        )
