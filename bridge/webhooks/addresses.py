"""Which addresses a webhook may be delivered to, checked when subscribed and again at delivery.

A URL naming a host that resolves to a loopback, private, link-local, multicast, shared or
otherwise non-global address is refused unless the operator allowed private targets: a webhook
must not become a way to reach the bridge's own network. The check at delivery returns the
addresses it checked, and the client connects to one of those, so DNS that changes between the
check and the connection (rebinding) gains nothing.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Target", "TargetRefused", "check_addresses", "is_public", "parse_target", "resolve_checked"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValueError):
    """The URL cannot be a webhook target; the message says why (and quotes no secret)."""


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


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a global unicast address (an IPv4-mapped IPv6 one judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_addresses(host: str, found: Iterable[str], allow_private: bool) -> list[str]:
    """The addresses of ``found`` a webhook may reach, in order; refused if one of them is not."""
    addresses: list[str] = []
    for text in found:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not allow_private and not is_public(address):
            raise TargetRefused(
                f"{host} resolves to {address}, a loopback, private, link-local or reserved address;"
                " the operator has not allowed those (serve --allow-private-webhooks)"
            )
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise TargetRefused(f"{host} resolves to no address")
    return addresses


def resolve_checked(target: Target, allow_private: bool) -> list[str]:
    """``target``'s addresses, resolved now and checked (blocking; for the admin side)."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(f"cannot resolve {target.host}: {exc}") from exc
    return check_addresses(target.host, (str(info[4][0]) for info in infos), allow_private)
