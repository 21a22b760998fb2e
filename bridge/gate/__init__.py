"""The request gate: who is calling (a principal), and whether the request is well-formed."""

from bridge.gate.credentials import Authenticator, CredentialSource, Headers
from bridge.gate.gate import NO_BODY, Admission, Gate, parse_json
from bridge.gate.keys import ApiKeyAuthenticator, StaticKeys

__all__ = [
    "NO_BODY",
    "Admission",
    "ApiKeyAuthenticator",
    "Authenticator",
    "CredentialSource",
    "Gate",
    "Headers",
    "StaticKeys",
    "parse_json",
]
