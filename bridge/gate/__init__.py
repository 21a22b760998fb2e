"""The request gate: who is calling (a principal), and whether the request is well-formed."""

from bridge.gate.credentials import Authenticator, CredentialSource, Headers
from bridge.gate.gate import NO_BODY, Admission, Gate, parse_json
from bridge.gate.key_admin import ApiKeys
from bridge.gate.keys import ApiKeyAuthenticator, StaticKeys
from bridge.gate.stored_keys import KEY_PREFIX, StoredKeys

__all__ = [
    "KEY_PREFIX",
    "NO_BODY",
    "Admission",
    "ApiKeyAuthenticator",
    "ApiKeys",
    "Authenticator",
    "CredentialSource",
    "Gate",
    "Headers",
    "StaticKeys",
    "StoredKeys",
    "parse_json",
]
