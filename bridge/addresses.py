"""Which network addresses the bridge may be told to connect to (SSRF): webhooks and registered upstreams.

An admin who registers a server or a webhook names a URL the bridge then connects to from
inside its own network. An address that is not a global unicast one (loopback, private,
shared, multicast, reserved) is refused unless the operator allowed private targets for that
use. Link-local addresses and the cloud providers' instance-metadata services (which hand out
credentials to whoever asks from the machine) can be refused even then: for upstreams they
always are. Every address a name resolves to is checked, so a name with one bad address among
good ones is refused. The checks are pure functions of the addresses; resolving is the caller's
(blocking here, on the loop elsewhere).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Final

__all__ = [
    "METADATA_HOSTS",
    "AddressRefused",
    "check_addresses",
    "check_host_name",
    "is_metadata",
    "is_public",
    "resolve",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Names of instance-metadata services (GCP, AWS, Azure, Oracle, Alibaba), refused before resolving.
METADATA_HOSTS: Final = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.oraclecloud.com",
        "metadata.tencentyun.com",
    }
)
#: Metadata services outside the link-local ranges (AWS over IPv6, Alibaba, Oracle's second one).
_METADATA_ADDRESSES: Final = frozenset(
    {
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("100.100.100.200"),
        ipaddress.ip_address("192.0.0.192"),
    }
)


class AddressRefused(ValueError):
    """The bridge may not connect there; the message says why (and quotes no secret)."""


def _plain(address: IPAddress) -> IPAddress:
    """``address`` with an IPv4-mapped IPv6 one (``::ffff:a.b.c.d``) judged as the IPv4 it maps."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a global unicast address (an IPv4-mapped IPv6 one judged as IPv4)."""
    address = _plain(address)
    return address.is_global and not address.is_multicast


def is_metadata(address: IPAddress) -> bool:
    """Whether ``address`` is link-local (169.254.0.0/16, fe80::/10) or a known metadata service."""
    address = _plain(address)
    return address.is_link_local or address in _METADATA_ADDRESSES


def check_host_name(host: str) -> None:
    """Refuse a metadata service by name (``metadata.google.internal``), before any lookup."""
    if host.lower().rstrip(".") in METADATA_HOSTS:
        raise AddressRefused(f"{host} is a cloud instance-metadata service; the bridge never connects to one")


def check_addresses(
    host: str, found: Iterable[str], *, allow_private: bool, allow_link_local: bool, option: str
) -> list[str]:
    """The addresses of ``found`` the bridge may reach, in order; refused if one of them is not.

    ``option`` names the command-line flag that allows private addresses, for the message.
    """
    addresses: list[str] = []
    for text in found:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not allow_link_local and is_metadata(address):
            raise AddressRefused(
                f"{host} resolves to {address}, a link-local or cloud instance-metadata address;"
                " the bridge never connects to those"
            )
        if not allow_private and not is_public(address):
            raise AddressRefused(
                f"{host} resolves to {address}, a loopback, private, link-local or reserved address;"
                f" the operator has not allowed those ({option})"
            )
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise AddressRefused(f"{host} resolves to no address")
    return addresses


def resolve(host: str, port: int) -> list[str]:
    """``host``'s addresses as text (blocking: for threads other than the event loop's)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise AddressRefused(f"cannot resolve {host}: {exc}") from exc
    return [str(info[4][0]) for info in infos]
