"""``--redis-url`` alone (no limits): the instance joins the others, or does not start."""

from __future__ import annotations

from pathlib import Path

import requests
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from bridge.cli import main
from bridge.instances.fanout import SETTLE
from harness import free_port
from tests.limits.conftest import redis_url  # noqa: F401  (the fixture: a redis-server of its own)
from tests.redis_instances.conftest import instance

ADMIN = "admin-key-of-the-metrics-test"


def test_an_unreachable_redis_stops_serve_without_showing_its_url(tmp_path: Path) -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    result = CliRunner().invoke(
        main, ["serve", "--port", "0", "--registry", str(tmp_path / "r.db"), "--redis-url", url]
    )
    assert result.exit_code == 1
    assert "refusing to start: Redis does not answer at the --redis-url given (ConnectionError)" in result.output
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


def test_metrics_tell_the_event_settling_time_and_the_late_events(tmp_path: Path, redis_url: str) -> None:  # noqa: F811
    with instance(tmp_path, redis_url, "--admin-key", ADMIN) as bridge:
        answer = requests.get(f"{bridge.url}/metrics", headers={"X-API-Key": ADMIN}, timeout=10)
        assert answer.status_code == 200, answer.text
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples
        }
    assert samples[("mcp_bridge_event_settle_seconds", ())] == SETTLE
    assert samples[("mcp_bridge_events_late_total", ())] == 0
