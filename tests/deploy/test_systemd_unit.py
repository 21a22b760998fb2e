"""The shipped systemd unit: systemd accepts it, its hardening is on, and its command line starts a
bridge that stops cleanly within the unit's stop timeout."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness import free_port, http_status, started
from tests.support import ROOT, START_TIMEOUT

UNIT = ROOT / "deploy" / "systemd" / "mcp-bridge@.service"
SHIPPED_COMMAND = "/opt/mcp-bridge/bin/mcp-bridge"


def settings() -> dict[str, str]:
    """The unit's settings as systemd reads them (continued lines joined; the last of a repeated key)."""
    text = UNIT.read_text(encoding="utf-8").replace("\\\n", " ")
    found: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#") and not line.startswith("["):
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


def test_systemd_accepts_the_unit_once_its_command_exists(tmp_path: Path) -> None:
    own = shutil.which("mcp-bridge") or str(Path(sys.executable).with_name("mcp-bridge"))
    text = UNIT.read_text(encoding="utf-8").replace(SHIPPED_COMMAND, own)
    (tmp_path / "mcp-bridge@.service").write_text(text, encoding="utf-8")
    instance = tmp_path / "mcp-bridge@8001.service"
    instance.symlink_to("mcp-bridge@.service")
    checked = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(instance)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr == ""


def test_the_unit_runs_unprivileged_with_the_system_read_only_and_stops_by_sigterm_to_the_bridge_alone() -> None:
    unit = settings()
    assert unit["User"] == "mcp-bridge"
    assert unit["NoNewPrivileges"] == "yes"
    assert unit["CapabilityBoundingSet"] == ""
    assert unit["ProtectSystem"] == "strict"
    assert unit["ProtectHome"] == "yes"
    assert unit["PrivateTmp"] == "yes"
    assert unit["RestrictAddressFamilies"] == "AF_INET AF_INET6 AF_UNIX"
    assert unit["UMask"] == "0077"
    assert (unit["KillSignal"], unit["KillMode"]) == ("SIGTERM", "mixed")
    grace = float(re.search(r"--shutdown-grace (\S+)", unit["ExecStart"]).group(1))  # type: ignore[union-attr]
    assert float(unit["TimeoutStopSec"]) >= grace + 15  # the grace, then time to stop the children


def test_the_units_command_line_starts_a_bridge_that_exits_0_on_sigterm(tmp_path: Path) -> None:
    unit = settings()
    port = free_port()
    (tmp_path / "servers.json").write_text('{"mcpServers": {}}', encoding="utf-8")
    values = {
        "MCP_BRIDGE_STORE": str(tmp_path / "registry.db"),
        "MCP_BRIDGE_PUBLIC_URL": "https://bridge.example",
        "MCP_BRIDGE_HOST_NAME": "bridge.example",
    }
    command = unit["ExecStart"].replace("%i", str(port))
    command = command.replace("/etc/mcp-bridge/", f"{tmp_path}/").replace("/var/log/mcp-bridge/", f"{tmp_path}/")
    for name, value in values.items():
        command = command.replace("${" + name + "}", value)
    argv = shlex.split(command)
    assert argv[0] == SHIPPED_COMMAND
    assert "$" not in command, "every variable the unit uses has a value here"
    env = {**os.environ, "MCP_BRIDGE_API_KEYS": "unit-key"}
    with started(
        "bridge (unit)", [sys.executable, "-m", "bridge.cli", *argv[1:]], env=env, log=tmp_path / "log"
    ) as proc:
        proc.wait_until(lambda: http_status(port, "GET", "/healthz") == 200, START_TIMEOUT, "healthy")
        began = time.monotonic()
        proc.popen.send_signal(signal.SIGTERM)
        assert proc.popen.wait(float(unit["TimeoutStopSec"])) == 0, proc.log_text()
        assert time.monotonic() - began < 10  # nothing in flight: no grace waited out
    assert (tmp_path / f"audit-{port}.jsonl").exists()
