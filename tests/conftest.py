from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from bridge.runtime import Bridge
from tests.support import in_process_bridge, rich_stdio, time_stdio


@pytest.fixture(scope="module")
def bridge() -> Iterator[Bridge]:
    """The rich test server and mcp-server-time, both over stdio, behind one bridge."""
    with in_process_bridge([rich_stdio(), time_stdio()]) as running:
        yield running


@pytest.fixture
def client(bridge: Bridge) -> FlaskClient:
    return bridge.app.test_client()
