"""OAuth 2.0 access tokens as a credential source: the bridge as a resource server.

A bearer token that looks like a JWT (three dot-separated parts, the first a JSON object) is
verified by joserfc against the issuer's published keys (``bridge.gate.jwks``), or against
the operator's shared secret for HMAC: its algorithm must be one the operator accepts (``none``
never; HMAC only with a secret, so a token "signed" with a public key as an HMAC secret is
refused), and it must carry ``exp``, the ``aud`` of this bridge (RFC 8707: a token for another
resource is refused) and, when an issuer is configured, that ``iss``. Any other bearer (and a JWT,
when the bridge holds no keys) is an opaque token, asked about at the introspection endpoint
(``bridge.gate.introspection``) when one is configured, and not this source's otherwise (None:
it may be an unknown API key).

A token's ``scope`` (or ``scp``) claim grants the bridge's scopes by the operator's names for
them; an optional claim lists the servers and tools it may use (``demo.*``,
``time.get_current_time``; a token without that claim is limited by its scopes only). A
verified JWT is remembered until it expires (bounded), so a caller that sends the same token
again pays a dictionary lookup, not a signature check. Nothing of a token reaches a log line or
an error body.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

import orjson
import requests
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    JoseError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import Key, OctKey
from joserfc.jws import JWSRegistry

from bridge.config import OAuthSettings
from bridge.errors import Unauthorized
from bridge.gate.credentials import MustWait
from bridge.gate.introspection import Introspection
from bridge.gate.jwks import KeySet
from bridge.gate.metadata import AuthorizationServer, MetadataError
from bridge.model import ADMIN, DESTRUCTIVE, USE, Principal

__all__ = ["HMAC_ALGORITHMS", "MAX_REMEMBERED", "AccessTokens", "ScopeMap"]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
#: Verified tokens remembered at once; past it the oldest are forgotten (and verified again if seen).
MAX_REMEMBERED = 10_000
#: A subject is cut to this many characters: it names the caller in events and logs.
SUBJECT_CHARS = 200
INVALID = "invalid_token"
#: How a compact JWS begins: the base64url of a JSON object's ``{"``.
JOSE_START = "ey"


class _Headers(Protocol):
    """What joserfc shows a key resolver of the token it verifies."""

    def headers(self) -> dict[str, Any]: ...


class ScopeMap:
    """Token scopes → the bridge's scopes."""

    def __init__(self, use: str, admin: str = "", destructive: str = "") -> None:
        #: The bridge's scopes → the token scope that grants each (an empty name grants nothing).
        self.names: dict[str, str] = {s: n for s, n in ((USE, use), (ADMIN, admin), (DESTRUCTIVE, destructive)) if n}
        self._grants: dict[str, frozenset[str]] = {use: frozenset({USE})}
        if admin:  # as an admin key: it may use what it manages
            self._grants[admin] = frozenset({USE, ADMIN})
        if destructive:
            self._grants[destructive] = frozenset({USE, DESTRUCTIVE})

    def granted(self, claims: Mapping[str, Any]) -> frozenset[str]:
        raw = claims.get("scope", claims.get("scp", ""))
        scopes = raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else []
        found: frozenset[str] = frozenset()
        for scope in scopes:
            if isinstance(scope, str) and scope in self._grants:
                found = found | self._grants[scope]
        return found


class AccessTokens:
    """A credential source (``bridge.gate.credentials``) for OAuth 2.0 access tokens."""

    enabled = True

    def __init__(
        self,
        settings: OAuthSettings,
        audiences: Collection[str],
        *,
        keys: KeySet | None = None,
        introspection: Introspection | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = settings.issuer
        # A resource identifier is one URL with or without its trailing slash (clients differ).
        self.audiences = sorted({form for a in audiences for form in (a.rstrip("/"), a.rstrip("/") + "/")})
        accepted = set(settings.algorithms) - {"none"}
        self.algorithms = frozenset(accepted if settings.hmac_secret else accepted - HMAC_ALGORITHMS)
        self.leeway = math.ceil(settings.leeway)
        self.scopes = ScopeMap(settings.use_scope, settings.admin_scope, settings.destructive_scope)
        self.may_admin = bool(settings.admin_scope)
        self._allow_claim = settings.allow_claim
        self._hmac_key = OctKey.import_key(settings.hmac_secret) if settings.hmac_secret else None
        self._keys = keys
        self._introspection = introspection
        self._clock = clock
        self._signatures = JWSRegistry(algorithms=sorted(self.algorithms), strict_check_header=False)
        checks: dict[str, Any] = {"exp": {"essential": True}, "aud": {"essential": True, "values": self.audiences}}
        if self.issuer:
            checks["iss"] = {"essential": True, "value": self.issuer}
        self._claims = jwt.JWTClaimsRegistry(now=lambda: int(self._clock()), leeway=self.leeway, **checks)
        #: token → (principal, not before, expires, the key set's version it was checked against)
        self._remembered: OrderedDict[str, tuple[Principal, float, float, int]] = OrderedDict()
        #: The event loop's thread, where nothing may wait on the network (``MustWait``); set once it runs.
        self.loop_thread: int | None = None

    @classmethod
    def create(cls, settings: OAuthSettings, resource: str, session: requests.Session | None = None) -> AccessTokens:
        """Discover the issuer's endpoints and fetch its keys now; ``MetadataError`` if that fails."""
        _check_algorithms(settings)
        session = session or requests.Session()
        jwks_url, introspection_url = settings.jwks_url, settings.introspection_url
        if settings.issuer and not (jwks_url and (introspection_url or not settings.client_id)):
            server = AuthorizationServer.discover(settings.issuer, session)
            jwks_url = jwks_url or server.endpoint("jwks_uri")
            introspection_url = introspection_url or server.endpoint("introspection_endpoint")
        keys = KeySet(jwks_url, session) if jwks_url else None
        if keys is not None:
            keys.load()
        introspection = None
        if introspection_url and settings.client_id and settings.client_secret:
            introspection = Introspection(introspection_url, settings.client_id, settings.client_secret, session)
        elif settings.introspection_url:
            raise MetadataError("token introspection needs the bridge's client id and secret")
        if keys is None and introspection is None and not settings.hmac_secret:
            raise MetadataError("no signing keys (JWKS) and no introspection endpoint to check tokens with")
        return cls(settings, settings.audiences or (resource,), keys=keys, introspection=introspection)

    def principal_for(self, credential: str) -> Principal | None:
        remembered = self._remembered.get(credential)
        if remembered is not None:
            principal, not_before, expires, version = remembered
            now = self._clock()
            if not_before <= now < expires and (self._keys is None or version == self._keys.version):
                return principal
            self._remembered.pop(credential, None)
        verifiable = self._keys is not None or self._hmac_key is not None
        if verifiable and credential.count(".") == 2 and credential.startswith(JOSE_START):
            return self._verified(credential)
        if self._introspection is not None:
            return self._introspected(credential)
        return None

    def _verified(self, token: str) -> Principal:
        try:
            # joserfc checks the header and the signature; the payload is read by orjson (what
            # ``jwt.decode`` does with the stdlib's json, a tenth of a first use's time).
            payload = jws.deserialize_compact(token, self._key, registry=self._signatures).payload
            claims = orjson.loads(payload or b"")
            if not isinstance(claims, dict):
                raise _invalid("the token's payload is not a JSON object")
            self._claims.validate(claims)
        except orjson.JSONDecodeError:
            raise _invalid("the token's payload is not JSON") from None
        except JoseError as exc:
            raise _invalid(_reason(exc)) from None
        principal = self._principal(claims)
        nbf = claims.get("nbf")
        not_before = float(nbf) - self.leeway if isinstance(nbf, int | float) else float("-inf")
        self._remember(token, principal, not_before, float(claims["exp"]) + self.leeway)
        return principal

    def _key(self, token: _Headers) -> Key:
        """The key the token's header names (joserfc asks, having checked its algorithm is accepted)."""
        header = token.headers()
        alg = header["alg"]
        key: Key | None
        if alg in HMAC_ALGORITHMS:
            key = self._hmac_key
        else:
            kid = header.get("kid")
            if self._keys is None or not isinstance(kid, str | None):
                key = None
            elif self._keys.must_fetch(kid) and threading.get_ident() == self.loop_thread:
                raise MustWait
            else:
                key = self._keys.key(kid, alg)
        if key is None:
            raise _invalid("the token is signed with a key the issuer does not publish")
        return key

    def _introspected(self, token: str) -> Principal:
        assert self._introspection is not None
        claims = self._introspection.cached(token)
        try:
            if claims is None:
                if threading.get_ident() == self.loop_thread:
                    raise MustWait
                claims = self._introspection.claims(token)
        except MetadataError:
            raise _invalid("the token could not be checked: the authorization server did not answer") from None
        if claims.get("active") is not True:
            raise _invalid("the token is not active")
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(a in self.audiences for a in auds):
            raise _invalid("the token is not meant for this bridge (aud)")
        if self.issuer and claims.get("iss", self.issuer) != self.issuer:
            raise _invalid("the token was issued by another issuer")
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp + self.leeway <= self._clock():
            raise _invalid("the token has expired")
        return self._principal(claims)

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        who = claims.get("sub") or claims.get("client_id") or "unknown"
        subject = ("oauth:" + str(who))[:SUBJECT_CHARS]
        scopes = self.scopes.granted(claims)
        raw = claims.get(self._allow_claim) if self._allow_claim is not None else None
        if raw is None:  # no allowlist in the token: its scopes alone decide
            return Principal(subject, scopes)
        if isinstance(raw, str):
            entries = raw.split()
        else:  # a malformed claim allows nothing
            entries = [e for e in raw if isinstance(e, str)] if isinstance(raw, list) else []
        servers = {entry.partition(".")[0] for entry in entries}
        return Principal.restricted(subject, scopes, servers, entries)

    def _remember(self, token: str, principal: Principal, not_before: float, expires: float) -> None:
        remembered = self._remembered
        version = self._keys.version if self._keys is not None else 0
        remembered[token] = (principal, not_before, expires, version)
        while len(remembered) > MAX_REMEMBERED:
            try:
                remembered.popitem(last=False)
            except KeyError:  # another thread emptied it meanwhile
                break


def _check_algorithms(settings: OAuthSettings) -> None:
    """``MetadataError`` for an algorithm the operator asked for that would not be used as asked."""
    for alg in settings.algorithms:
        if alg == "none":
            raise MetadataError("unsigned tokens (alg 'none') are never accepted")
        if alg in HMAC_ALGORITHMS and not settings.hmac_secret:
            raise MetadataError(f"{alg} tokens need a shared secret (--oauth-hmac-secret-file)")
        if alg not in JWSRegistry.algorithms:
            raise MetadataError(f"{alg!r} is not a JWS algorithm (known: {', '.join(sorted(JWSRegistry.algorithms))})")


def _invalid(detail: str) -> Unauthorized:
    return Unauthorized(detail, error=INVALID)


def _reason(exc: JoseError) -> str:
    """What was wrong with a token, in words that quote nothing of it."""
    if isinstance(exc, ExpiredTokenError):
        return "the token has expired"
    if isinstance(exc, MissingClaimError):
        return f"the token has no {exc.claim!r} claim"
    if isinstance(exc, ClaimError):
        return _CLAIMS.get(exc.claim, f"the token's {exc.claim!r} claim is not valid")
    if isinstance(exc, BadSignatureError):
        return "the token's signature is not valid"
    if isinstance(exc, UnsupportedAlgorithmError):
        return "the token is signed with an algorithm the bridge does not accept"
    return "the token is not a valid JWT"


#: What an invalid claim means for a caller.
_CLAIMS = {
    "aud": "the token is not meant for this bridge (aud)",
    "iss": "the token was issued by another issuer",
    "nbf": "the token is not valid yet",
    "iat": "the token is not valid yet",
}
