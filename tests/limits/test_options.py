"""Limits as the operator writes them: command-line options, config-file entries, and the windows they become."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.config import ConfigError, Limit, LimitSettings, Rate, parse_limit, parse_rate, parse_servers
from bridge.limits import Limits, windows
from harness import free_port


@pytest.mark.parametrize(
    ("rate", "burst", "expected"),
    [
        ("100/minute", None, [("caller", 100, 60)]),
        ("100/minute", 20, [("caller", 20, 12)]),  # 20 at once, and 100 a minute: 20 in any 12 s
        ("10/second", 20, [("caller", 20, 2)]),  # a burst larger than one period's
        ("100/minute", 30, [("caller", 30, 18)]),  # 30 in any 18 s is 100 a minute
        ("100/minute", 7, [("caller-burst", 7, 4), ("caller", 100, 60)]),  # 4.2 s cut to 4: the rate keeps 100/min
        ("10/second", 25, [("caller-burst", 25, 2), ("caller", 30, 3)]),  # the rate's window outlasts the burst's
    ],
)
def test_a_rate_with_a_burst_becomes_moving_windows(rate: str, burst: int | None, expected: list[object]) -> None:
    found = [(w.policy, w.quota, w.seconds) for w in windows("caller", parse_rate(rate, burst))]
    assert found == expected


def test_a_limit_on_the_command_line_reads_rate_burst_and_concurrency() -> None:
    assert parse_limit("10/second,burst=20,concurrent=4", "x") == Limit(Rate(10, 1, 20), 4)
    assert parse_limit("concurrent=1", "x") == Limit(None, 1)
    assert parse_limit("5 per 2 seconds", "x") == Limit(Rate(5, 2), None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fast", "--server-limit demo: 'fast' is not a rate such as 100/minute or 10/second"),
        ("0/second", "--server-limit demo: '0/second' allows nothing; give at least 1 per period"),
        ("concurrent=0", "--server-limit demo: concurrent must be a positive whole number (got 0)"),
        ("burst=3", "--server-limit demo: a burst needs a rate beside it (10/second,burst=5)"),
        ("10/second,turbo=1", "--server-limit demo: 'turbo=1' is not a rate (10/second), burst=N or concurrent=N"),
        (
            "100/second,burst=20",
            "--server-limit demo: a burst of 20 at 100/second passes in under a second; give a burst of at least 100",
        ),
    ],
)
def test_a_bad_limit_is_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_limit(text, "--server-limit demo")
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate-limit", "lots"], "Error: --rate-limit: 'lots' is not a rate such as 100/minute or 10/second"),
        (["--rate-burst", "5"], "Error: Invalid value for --rate-burst: a burst needs --rate-limit beside it"),
        (["--rate-limit", "10/second", "--rate-burst", "0"], "Error: Invalid value for '--rate-burst'"),
        (["--max-concurrent-calls", "0"], "Error: Invalid value for '--max-concurrent-calls'"),
        (
            ["--server-limit", "demo"],
            "Error: --server-limit: 'demo' is not SERVER=LIMIT (a server's name is as in GET /servers)",
        ),
        (
            ["--tool-limit", "demo=2/second"],
            "Error: --tool-limit: 'demo=2/second' is not SERVER.TOOL=LIMIT (a server's name is as in GET /servers)",
        ),
        (["--tool-limit", "demo.slow=2/fortnight"], "Error: --tool-limit demo.slow: '2/fortnight' is not a rate"),
    ],
)
def test_bad_limit_options_stop_serve_with_a_usage_error(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--registry", str(tmp_path / "r.db"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_unreachable_redis_stops_serve_without_showing_its_url(tmp_path: Path) -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    args = ["serve", "--port", "0", "--registry", str(tmp_path / "r.db"), "--rate-limit", "5/second"]
    result = CliRunner().invoke(main, [*args, "--redis-url", url])
    assert result.exit_code == 1
    assert "refusing to start: Redis for the limits does not answer at the --redis-url given" in result.output
    assert "hunter2" not in result.output


def test_a_redis_url_of_another_scheme_stops_serve(tmp_path: Path) -> None:
    args = ["serve", "--port", "0", "--registry", str(tmp_path / "r.db"), "--rate-limit", "5/second"]
    result = CliRunner().invoke(main, [*args, "--redis-url", "memcached://127.0.0.1:11211"])
    assert result.exit_code == 1
    assert "refusing to start: the Redis URL must start with redis:// or rediss://" in result.output


def test_a_config_file_sets_limits_per_server_and_tool_under_the_command_lines() -> None:
    document = {
        "mcpServers": {
            "rich": {
                "command": "python",
                "limits": {"rate": "10/second", "concurrent": 4, "tools": {"slow": {"concurrent": 1}}},
            },
            "time": {"command": "uvx", "limits": {"rate": "100/minute", "burst": 20}},
        }
    }
    servers = parse_servers(document, {})
    assert servers[0].limit == Limit(Rate(10, 1), 4)
    assert servers[0].tool_limits == {"slow": Limit(None, 1)}
    given = LimitSettings(servers={"time": Limit(None, 2)})
    merged = given.including(servers)
    assert merged.servers == {"rich": Limit(Rate(10, 1), 4), "time": Limit(None, 2)}
    assert merged.tools == {"rich.slow": Limit(None, 1)}


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"rate": 10}, "mcpServers.rich.limits.rate must be a string such as 10/second"),
        ({"speed": 1}, 'mcpServers.rich.limits must be an object of "rate", "burst" and "concurrent"'),
        ({"burst": 3}, "mcpServers.rich.limits.burst needs a rate beside it"),
        ({"tools": {"slow": {"concurrent": -1}}}, "mcpServers.rich.limits.tools.slow.concurrent must be a positive"),
    ],
)
def test_a_bad_limit_in_the_config_file_names_its_place(limits: object, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_servers({"mcpServers": {"rich": {"command": "python", "limits": limits}}}, {})
    assert str(refused.value).startswith(message)


def test_no_limits_means_nothing_is_built() -> None:
    built = Limits.create(LimitSettings())
    assert (built.caller, built.upstream) == (None, None)
    assert not LimitSettings().enabled
