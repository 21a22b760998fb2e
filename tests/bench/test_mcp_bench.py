"""The MCP-client bench cells run: each once, briefly, so the harness cannot rot unnoticed.

Real processes over 127.0.0.1, as in ``make bench``: the rich server over Streamable HTTP, the
bridge, FastMCP's proxy from its own venv, the official SDK client as load. A cell that fails
(a proxy that does not start, a client that cannot call, an error answer) fails its test; the
figures themselves are not judged here, only that each cell measured something real.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.mcp_clients import fastmcp_table, federation_table, gateway_table, measure
from bench.mcp_load import split
from bench.measure import Plan
from bench.targets import ROOT, ensure_fastmcp

REVISIONS = {"newest": "2026-07-28", "2025": "2025-11-25"}


def _plan(work: Path, handshakes: tuple[str, ...]) -> Plan:
    return Plan(
        work=work,
        seconds=1.0,
        warmup=0.3,
        repeat=1,
        concurrency=(2,),
        transports=(),
        handshakes=handshakes,
        mcpo_log_level="WARNING",
    )


def _check(result: dict, target: str, handshakes: tuple[str, ...]) -> None:
    assert result["failures"] == {}
    for handshake in handshakes:
        key = f"{handshake}/{target}/2"
        [run] = result["runs"][key]
        assert run["n"] > 0
        assert run["errors"] == 0
        assert run["protocol_version"] == REVISIONS[handshake]
        assert run["upstream_cpu_ms"] > 0
        assert run["client_cpu_ms"] > 0
        if target != "direct":
            assert run["proxy_cpu_ms"] > 0


def test_split_spreads_calls_over_client_processes() -> None:
    assert split(32, 2) == [16, 16]
    assert split(7, 3) == [3, 2, 2]
    assert split(1, 4) == [1]


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("baseline", "target"),
    [
        ("direct", "nginx"),
        ("direct", "python-splice"),
        ("direct", "python-forward"),
        ("direct", "gateway-stdio"),
        ("direct", "gateway-http"),
        ("gateway-http", "federation"),
    ],
)
def test_gateway_cells_beside_their_baseline(tmp_path: Path, baseline: str, target: str) -> None:
    handshakes = ("newest", "2025")
    result = measure(_plan(tmp_path, handshakes), (baseline, target))
    _check(result, baseline, handshakes)
    _check(result, target, handshakes)
    table = federation_table(result) if target == "federation" else gateway_table(result)
    assert table.count("| newest") == 1
    assert table.count("| 2025") == 1


def test_client_processes_share_the_calls(tmp_path: Path) -> None:
    result = measure(_plan(tmp_path, ("newest",)), ("direct",), processes=2)
    _check(result, "direct", ("newest",))
    assert result["runs"]["newest/direct/2"][0]["processes"] == 2


@pytest.mark.timeout(900)  # the first run installs FastMCP into bench/.venv-fastmcp
def test_fastmcp_cell_beside_the_gateway(tmp_path: Path) -> None:
    try:
        version = ensure_fastmcp()
    except RuntimeError as exc:  # no package index here: the install itself, not the bench, failed
        pytest.skip(f"FastMCP could not be installed: {exc}")
    assert version.startswith("FastMCP ")
    result = measure(_plan(tmp_path, ("newest",)), ("gateway-stdio", "fastmcp"))
    _check(result, "fastmcp", ("newest",))
    _check(result, "gateway-stdio", ("newest",))
    assert "| newest" in fastmcp_table(result)


@pytest.mark.timeout(240)
def test_profile_under_sdk_clients() -> None:
    argv = [sys.executable, "bench/profile.py", "--mcp", "newest", "--transport", "http", "--seconds", "1"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "SDK client 2026-07-28" in done.stdout
    shares = dict(line.strip().split("%  ", 1)[::-1] for line in done.stdout.splitlines() if "%  " in line)
    assert float(shares["  of it, the lean path (bridge/endpoint/lean.py)"]) > 0  # where tools/call is served


@pytest.mark.timeout(240)
def test_a_baseline_tree_runs_its_gateway_in_the_same_rounds(tmp_path: Path) -> None:
    result = measure(_plan(tmp_path, ("newest",)), ("direct", "gateway-http"), baseline=ROOT)
    _check(result, "gateway-http@baseline", ("newest",))
    _check(result, "gateway-http", ("newest",))
    assert "gateway → http (baseline tree)" in gateway_table(result)


def _gateway_row(direct: dict[str, Any], gateway: dict[str, Any], runs: dict[str, Any] | None = None) -> list[str]:
    """The gateway table's one row for these median cells of ``direct`` and ``gateway-http`` (c=8)."""
    keys = ("newest/direct/8", "newest/gateway-http/8")
    result = {
        "medians": dict(zip(keys, (direct, gateway), strict=True)),
        "protocols": {key: ["2026-07-28"] for key in keys},
        "processes": dict.fromkeys(keys, 1),
        "failures": {},
        **({"runs": runs} if runs is not None else {}),
    }
    [row] = [line for line in gateway_table(result).splitlines() if line.startswith("| newest")]
    return [c.strip() for c in row.strip("|").split("|")]


def test_the_tables_say_how_busy_the_cores_were_and_what_a_cpu_bound_cell_can_reach() -> None:
    cell = {"p50_ms": 1.0, "p99_ms": 2.0, "errors": 0}
    direct = {**cell, "rps": 1000.0, "proxy_cpu_ms": 0.0, "upstream_cpu_ms": 0.8, "client_cpu_ms": 1.2}
    gateway = {**cell, "rps": 600.0, "proxy_cpu_ms": 0.5, "upstream_cpu_ms": 0.8, "client_cpu_ms": 1.2}
    cells = _gateway_row(direct, gateway)
    # 1000 calls/s × 2.0 ms = 2 cores; 600 × 2.5 ms = 1.5; 2.0 ms ÷ 2.5 ms = 0.8 at most when CPU-bound
    assert cells[-3:] == ["2.00 / 1.50", "0.80", "0/0"]


def test_the_ratio_is_the_median_of_each_rounds_own_ratio() -> None:
    """Rounds 0.85×, 0.80× and 0.75× of a baseline whose windows drifted: the column says 0.80,
    where the ratio of the two medians (850 ÷ 1,000) would say 0.85."""
    cell = {"p50_ms": 1.0, "p99_ms": 2.0, "errors": 0, "proxy_cpu_ms": 0.0}
    cell |= {"upstream_cpu_ms": 1.0, "client_cpu_ms": 1.0}
    direct = [{**cell, "rps": rps, "round": i} for i, rps in enumerate([1000.0, 600.0, 1400.0])]
    # Paired by round, not by place in the list (a failed window leaves a gap).
    gateway = [{**cell, "rps": rps, "round": i} for i, rps in [(0, 850.0), (2, 1050.0), (1, 480.0)]]
    runs = {"newest/direct/8": direct, "newest/gateway-http/8": gateway}
    cells = _gateway_row({**cell, "rps": 1000.0}, {**cell, "rps": 850.0}, runs)
    assert cells[5] == "0.80"
