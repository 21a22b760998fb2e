"""The bridge's own counters and histograms, rendered as Prometheus reads them."""

from __future__ import annotations

import socket

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bridge.config import ConfigError
from bridge.telemetry import Metrics, MetricsServer, MetricsSources, create_registry, exposition
from bridge.telemetry.metrics import Histogram


def _samples(
    metrics: Metrics, states: dict[str, str] | None = None
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = create_registry(metrics, MetricsSources(states=lambda: states or {}, deliveries=lambda: {"pending": 2}))
    text = exposition(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_histogram_counts_each_value_in_its_bucket_and_every_bucket_above() -> None:
    histogram = Histogram()
    for seconds in (0.0003, 0.0005, 0.002, 100.0):
        histogram.observe(seconds)
    buckets = dict(histogram.buckets())
    assert buckets["0.0005"] == 2  # a value on a bound counts in that bucket (le)
    assert buckets["0.001"] == 2
    assert buckets["0.0025"] == 3
    assert buckets["60.0"] == 3
    assert buckets["+Inf"] == 4
    assert histogram.sum == pytest.approx(100.0028)


def test_calls_upstream_times_and_deliveries_are_rendered() -> None:
    metrics = Metrics()
    metrics.call_ended("demo", "add", 200)
    metrics.call_ended("demo", "add", 200)
    metrics.call_ended("demo", "add", 422)
    metrics.upstream_time("demo", 0.004)
    samples = _samples(metrics, {"demo": "degraded"})
    assert samples[("mcp_bridge_tool_calls_total", (("server", "demo"), ("status", "200"), ("tool", "add")))] == 2
    assert samples[("mcp_bridge_tool_calls_total", (("server", "demo"), ("status", "422"), ("tool", "add")))] == 1
    assert samples[("mcp_bridge_upstream_seconds_bucket", (("le", "0.005"), ("server", "demo")))] == 1
    assert samples[("mcp_bridge_upstream_seconds_bucket", (("le", "0.0025"), ("server", "demo")))] == 0
    assert samples[("mcp_bridge_upstream_state", (("server", "demo"), ("state", "degraded")))] == 1
    assert samples[("mcp_bridge_upstream_state", (("server", "demo"), ("state", "ready")))] == 0
    assert samples[("mcp_bridge_webhook_deliveries", (("status", "pending"),))] == 2


def test_only_a_return_from_down_counts_as_a_reconnect() -> None:
    metrics = Metrics()
    for state in ("connecting", "ready", "degraded", "ready", "down", "connecting", "ready", "down", "ready"):
        metrics.state_changed("demo", state)
    metrics.state_changed("never", "connecting")
    assert metrics.reconnects == {"demo": 2}


def test_a_metrics_address_that_cannot_be_served_refuses_to_start() -> None:
    registry = create_registry(Metrics(), MetricsSources(states=dict))
    with pytest.raises(ConfigError, match=r"cannot serve metrics on '127\.0\.0\.1:port'"):
        MetricsServer.start("127.0.0.1:port", registry)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(ConfigError, match="cannot serve metrics"):
            MetricsServer.start(address, registry)


def test_the_metrics_server_serves_and_stops() -> None:
    server = MetricsServer.start("127.0.0.1:0", create_registry(Metrics(), MetricsSources(states=dict)))
    port = server.server.server_port
    try:
        response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert response.status_code == 200
        assert "mcp_bridge_tool_calls_in_flight 0.0" in response.text
    finally:
        server.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
