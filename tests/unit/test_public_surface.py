"""Each package says what it exports, and every exported name exists."""

import importlib

import pytest

PACKAGES = [
    "bridge.upstream",
    "bridge.gateway",
    "bridge.gate",
    "bridge.store",
    "bridge.rest",
    "bridge.rest.views",
    "bridge.endpoint",
    "bridge.proxy",
    "bridge.mcpserver",
    "bridge.webhooks",
    "bridge.instances",
    "bridge.demo",
    "bridge.telemetry",
    "harness",
]
MODULES = [
    "bridge.errors",
    "bridge.config",
    "bridge.schema",
    "bridge.spec",
    "bridge.validation",
    "bridge.model",
    "bridge.events",
    "bridge.upstream.memory",
    "bridge.store.webhooks",
    "bridge.store.keys",
    "bridge.gate.stored_keys",
    "bridge.gate.key_admin",
    "bridge.keys_command",
    "bridge.webhooks.outbox",
    "bridge.webhooks.dispatcher",
    "bridge.webhooks.client",
    "bridge.mcpserver.tasks",
    "bridge.upstream.tasks",
    "bridge.upstream.sse_events",
    "bridge.endpoint.observe",
    "bridge.endpoint.metrics",
]


@pytest.mark.parametrize("name", PACKAGES + MODULES)
def test_every_name_in_all_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported, f"{name} exports nothing"
    missing = [item for item in exported if not hasattr(module, item)]
    assert missing == []
