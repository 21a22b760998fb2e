"""The request gate: who is calling (a principal), and whether the request is well-formed."""

from bridge.gate.credentials import Authenticator, Headers
from bridge.gate.gate import NO_BODY, Admission, Gate, parse_json
from bridge.gate.keys import ApiKeyAuthenticator

__all__ = ["NO_BODY", "Admission", "ApiKeyAuthenticator", "Authenticator", "Gate", "Headers", "parse_json"]
