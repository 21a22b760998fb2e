"""What the generator's tests share: the checked-in Python client, imported as its users import it, and
the environment the Go client is built and tested in."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import ROOT


@pytest.fixture(scope="module")
def package() -> Iterator[Any]:
    """``mcp_bridge_client`` from generated/python."""
    sys.path.insert(0, str(ROOT / "generated" / "python"))
    try:
        yield importlib.import_module("mcp_bridge_client")
    finally:
        sys.path.remove(str(ROOT / "generated" / "python"))


@pytest.fixture(scope="module")
def go_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of every go command: offline, local toolchain, caches in a temporary folder."""
    home = tmp_path_factory.mktemp("go-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "CGO")) or k == "GOROOT"}
    return env | {
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GOWORK": "off",
        "GOTELEMETRY": "off",
        "GOCACHE": str(home / "cache"),
        "GOPATH": str(home / "path"),
        "CGO_ENABLED": "0",  # no C compiler needed: the pure-Go resolver
    }
