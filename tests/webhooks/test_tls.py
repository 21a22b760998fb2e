"""Webhooks over https: the certificate is checked against the URL's host name (sent as SNI)
while the connection goes to the address that was checked, and an untrusted one is refused."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import accepting, free_port, started
from tests.support import bridge_process
from tests.webhooks.conftest import ADMIN, DELAYS, RECEIVER, RICH, USER, Api


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``localhost``, and its key."""
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def _https(folder: Path, cert: Path, key: Path) -> Iterator[int]:
    port = free_port()
    argv = [sys.executable, str(RECEIVER), str(port), str(cert), str(key)]
    with started("https receiver", argv, log=folder / f"https-{port}.log") as process:
        process.wait_until(lambda: accepting(port), 30, "accepting")
        yield port


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, int, int]]:
    folder = tmp_path_factory.mktemp("tls")
    trusted, untrusted = _certificate(folder, "trusted"), _certificate(folder, "untrusted")
    args = ["--admin-key", ADMIN, "--api-key", USER, "--allow-private-webhooks", "--webhook-retry-delays", DELAYS]
    env = {"SSL_CERT_FILE": str(trusted[0])}  # the bridge trusts the first certificate only
    for good in _https(folder, *trusted):
        for bad in _https(folder, *untrusted):
            with bridge_process(folder, RICH, *args, env=env) as running:
                yield Api(running), good, bad


def test_a_trusted_certificate_for_the_urls_host_is_accepted(tls: tuple[Api, int, int]) -> None:
    api, good, _ = tls
    made = api.subscribe(url=f"https://localhost:{good}/ok/tls", types=["tool.call.finished"])
    api.call()
    (delivered,) = api.settled(made["id"], 1, "delivered")
    assert delivered["lastStatus"] == 200
    api("DELETE", f"/webhooks/{made['id']}")


def test_an_untrusted_certificate_fails_the_delivery(tls: tuple[Api, int, int]) -> None:
    api, _, bad = tls
    made = api.subscribe(url=f"https://localhost:{bad}/ok/tls", types=["tool.call.finished"])
    api.call()
    (failed,) = api.settled(made["id"], 1, "failed")
    assert failed["lastStatus"] is None
    assert "CERTIFICATE_VERIFY_FAILED" in failed["lastError"]
    api("DELETE", f"/webhooks/{made['id']}")
