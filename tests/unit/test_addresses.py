"""The SSRF rules shared by webhooks and registrations: private only when allowed, metadata never."""

from __future__ import annotations

import pytest

from bridge.addresses import AddressRefused, check_addresses, check_host_name, is_metadata

OPTION = "serve --allow-private-upstreams"


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "100.100.100.200", "192.0.0.192",
                "::ffff:169.254.169.254"],
)  # fmt: skip
def test_link_local_and_metadata_addresses_are_refused_even_with_private_allowed(address: str) -> None:
    with pytest.raises(AddressRefused, match="link-local or cloud instance-metadata"):
        check_addresses("h", [address], allow_private=True, allow_link_local=False, option=OPTION)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "::1", "fc00::1", "100.64.0.1"])
def test_private_addresses_need_the_option(address: str) -> None:
    with pytest.raises(AddressRefused, match=f"has not allowed those \\({OPTION}\\)"):
        check_addresses("h", [address], allow_private=False, allow_link_local=False, option=OPTION)
    assert check_addresses("h", [address], allow_private=True, allow_link_local=False, option=OPTION) == [address]
    assert not is_metadata(__import__("ipaddress").ip_address(address))


def test_public_addresses_pass_and_duplicates_are_dropped() -> None:
    found = ["93.184.215.14", "93.184.215.14", "2606:2800:21f:cb07::1"]
    assert check_addresses("h", found, allow_private=False, allow_link_local=False, option=OPTION) == found[1:]
    with pytest.raises(AddressRefused, match="resolves to no address"):
        check_addresses("h", [], allow_private=True, allow_link_local=True, option=OPTION)


@pytest.mark.parametrize("host", ["metadata.google.internal", "METADATA.google.internal.", "metadata", "instance-data"])
def test_metadata_services_are_refused_by_name(host: str) -> None:
    with pytest.raises(AddressRefused, match="instance-metadata service"):
        check_host_name(host)
    check_host_name("mcp.example.com")
