"""``--redis-url`` alone (no limits): the instance joins the others, or does not start."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bridge.cli import main
from harness import free_port


def test_an_unreachable_redis_stops_serve_without_showing_its_url(tmp_path: Path) -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    result = CliRunner().invoke(
        main, ["serve", "--port", "0", "--registry", str(tmp_path / "r.db"), "--redis-url", url]
    )
    assert result.exit_code == 1
    assert "refusing to start: Redis does not answer at the --redis-url given (ConnectionError)" in result.output
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output
