"""The request gate: who is calling (a principal), and whether the request is well-formed."""

from bridge.gate.credentials import Authenticator, CredentialSource, Headers, MustWait
from bridge.gate.gate import NO_BODY, Admission, Gate, parse_json
from bridge.gate.idempotency import Idempotency
from bridge.gate.key_admin import ApiKeys
from bridge.gate.keys import ApiKeyAuthenticator, StaticKeys
from bridge.gate.metadata import MetadataError
from bridge.gate.oauth import AccessTokens
from bridge.gate.resource import ProtectedResource
from bridge.gate.stored_keys import KEY_PREFIX, StoredKeys

__all__ = [
    "KEY_PREFIX",
    "NO_BODY",
    "AccessTokens",
    "Admission",
    "ApiKeyAuthenticator",
    "ApiKeys",
    "Authenticator",
    "CredentialSource",
    "Gate",
    "Headers",
    "Idempotency",
    "MetadataError",
    "MustWait",
    "ProtectedResource",
    "StaticKeys",
    "StoredKeys",
    "parse_json",
]
