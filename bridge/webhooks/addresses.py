"""Where a webhook may be delivered: its URL's parts, and its addresses checked when subscribed and at delivery.

The address rules are the bridge's one set (``bridge.addresses``): for webhooks, loopback,
private and link-local addresses are refused unless the operator allowed private targets
(``--allow-private-webhooks``). The check at delivery returns the addresses it checked, and the
client connects to one of those, so DNS that changes between the check and the connection
(rebinding) gains nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from bridge import addresses
from bridge.addresses import AddressRefused as TargetRefused

__all__ = ["Target", "TargetRefused", "check_addresses", "parse_target", "resolve_checked"]

#: The flag that lets webhooks reach private addresses, named in refusals.
OPTION = "serve --allow-private-webhooks"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a webhook goes: scheme, host (as written), port and the request target (path and query)."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def authority(self) -> str:
        """The ``Host`` header: the host as written, with the port when it is not the scheme's own."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@functools.lru_cache(maxsize=256)  # parsed on every delivery attempt; a Target is immutable
def parse_target(url: str) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a usable URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("the URL must start with http:// or https://")
    if not parts.hostname:
        raise TargetRefused("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL must not carry credentials; the signature authenticates the bridge")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


def check_addresses(host: str, found: Iterable[str], allow_private: bool) -> list[str]:
    """The addresses of ``found`` a webhook may reach, in order; refused if one of them is not."""
    return addresses.check_addresses(
        host, found, allow_private=allow_private, allow_link_local=allow_private, option=OPTION
    )


def resolve_checked(target: Target, allow_private: bool) -> list[str]:
    """``target``'s addresses, resolved now and checked (blocking; for the admin side)."""
    return check_addresses(target.host, addresses.resolve(target.host, target.port), allow_private)
