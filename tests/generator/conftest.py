"""What the generator's tests share: the checked-in Python client, imported as its users import it."""

from __future__ import annotations

import importlib
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
