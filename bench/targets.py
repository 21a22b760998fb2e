"""What the bench measures: the upstream servers, and the bridge and mcpo started in front of them.

An ``Upstream`` says how to reach one MCP server (a stdio command or a Streamable HTTP URL) and
which tool call to make on it; ``running_bridge`` and ``running_mcpo`` start a proxy for it and
yield an ``Endpoint``: the port, the REST path of the call, and the PIDs whose CPU to count.
mcpo lives in its own venv (``bench/.venv-mcpo``) with the versions of its own lock file.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.tools_host import server_name
from harness import Proc, accepting, free_port, http_call, http_status, started

__all__ = [
    "BENCH",
    "EVERYTHING",
    "HANDSHAKES",
    "MCPO_VENV",
    "RICH",
    "ROOT",
    "TOOLS_SERVER",
    "Endpoint",
    "Upstream",
    "ensure_fastmcp",
    "ensure_mcpo",
    "pin_cpu",
    "running_bridge",
    "running_fastmcp",
    "running_http_upstream",
    "running_mcpo",
    "running_tools_host",
]

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RICH = ROOT / "tests" / "servers" / "rich_server.py"
TOOLS_SERVER = BENCH / "tools_server.py"
EVERYTHING = ROOT / "tests/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
MCPO_VENV = BENCH / ".venv-mcpo"
MCPO_REQUIREMENTS = BENCH / "mcpo-requirements.txt"
FASTMCP_VENV = BENCH / ".venv-fastmcp"
FASTMCP_REQUIREMENTS = BENCH / "fastmcp-requirements.txt"
#: Starting includes the proxy's own imports and connecting its upstreams (Python startup on a
#: busy 2-core machine can take seconds each).
START_TIMEOUT = 90.0
#: The handshakes the bench can ask for, and the value that pins each: the bridge's server
#: ``protocol`` and the SDK client's ``mode`` (None leaves both at "auto", which settles on the
#: newest revision both sides speak). mcpo's SDK 1.17 always speaks the 2025 generation.
HANDSHAKES: dict[str, str | None] = {"newest": None, "2025": "legacy"}
#: Sets this process's CPU mask and becomes the command that follows (``taskset -c``, in Python):
#: how the direct client and mcpo start a pinned upstream; the bridge has its ``"cpus"`` setting.
PIN = "import os, sys; os.sched_setaffinity(0, map(int, sys.argv[1].split(','))); os.execvp(sys.argv[2], sys.argv[2:])"


def pin_cpu() -> int:
    """The CPU a pinned upstream runs on: the last one this process may use."""
    return max(os.sched_getaffinity(0))


@dataclass(frozen=True)
class Upstream:
    """One MCP server and the tool call to make on it."""

    name: str
    tool: str
    arguments: Mapping[str, Any]
    command: tuple[str, ...] = ()
    url: str | None = None
    #: The upstream's own process when the bench started it (HTTP); stdio ones are a proxy's children.
    pid: int | None = None
    #: Text a correct answer to the call contains, checked once before any load.
    expect: str = "hello"
    #: Pins the handshake of the bridge and the direct client (a ``HANDSHAKES`` value); None is "auto".
    protocol: str | None = None
    #: CPUs a stdio upstream is held to, however it is started; None leaves it free.
    cpus: tuple[int, ...] | None = None

    @staticmethod
    def rich_stdio(cpus: tuple[int, ...] | None = None) -> Upstream:
        return Upstream("rich", "echo", {"text": "hello"}, command=(sys.executable, str(RICH), "stdio"), cpus=cpus)

    @staticmethod
    def rich_http(url: str, pid: int) -> Upstream:
        return Upstream("rich", "echo", {"text": "hello"}, url=url, pid=pid)

    @staticmethod
    def everything_stdio() -> Upstream:
        command = ("node", str(EVERYTHING), "stdio")
        return Upstream("everything", "echo", {"message": "hello"}, command=command, expect="Echo: hello")

    @staticmethod
    def tools_stdio(name: str, tools: int) -> Upstream:
        """A generated-tools server; the call goes to its middle tool."""
        command = (sys.executable, str(TOOLS_SERVER), "--tools", str(tools), "--name", name)
        return Upstream(name, f"tool_{tools // 2:02d}", {"text": "hello"}, command=command)

    @staticmethod
    def tools_http(name: str, tools: int, url: str, pid: int) -> Upstream:
        """One server of a ``bench/tools_host.py`` process; the call goes to its middle tool."""
        return Upstream(name, f"tool_{tools // 2:02d}", {"text": "hello"}, url=url, pid=pid)

    @staticmethod
    def fill_stdio(name: str) -> Upstream:
        """A server whose ``fill(size)`` answers a result as large as asked."""
        command = (sys.executable, str(TOOLS_SERVER), "--tools", "0", "--name", name, "--fill")
        return Upstream(name, "fill", {"size": 16}, command=command, expect="x" * 16)

    def with_handshake(self, handshake: str) -> Upstream:
        return replace(self, protocol=HANDSHAKES[handshake])

    def spawn_command(self) -> tuple[str, ...]:
        """The stdio command line for a client with no CPU setting of its own (direct, mcpo)."""
        if self.cpus is None:
            return self.command
        return (sys.executable, "-S", "-c", PIN, ",".join(map(str, self.cpus)), *self.command)

    def claude_desktop_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = (
            {"url": self.url, "type": "streamable-http"}
            if self.url
            else {"command": self.command[0], "args": list(self.command[1:])}
        )
        if self.protocol is not None:
            entry["protocol"] = self.protocol
        if self.cpus is not None:
            entry["cpus"] = list(self.cpus)
        return entry


@dataclass
class Endpoint:
    """A running proxy: where to send the call, and the processes whose CPU it costs."""

    name: str
    port: int
    proc: Proc
    paths: dict[str, str]
    ready_s: float
    upstream_pids: list[int] = field(default_factory=list)
    #: The protocol revision the proxy settled on with its (first) upstream, where it says.
    protocol_version: str | None = None
    #: Header lines (``Name: value``) every request to it carries: its credentials, say.
    headers: list[str] = field(default_factory=list)

    def path(self, upstream: Upstream) -> str:
        return self.paths[upstream.name]


def _ready(port: int, path: str, method: str = "GET", body: bytes | None = None) -> bool:
    return http_status(port, method, path, body, timeout=2.0) == 200


@contextlib.contextmanager
def running_http_upstream(work: Path) -> Iterator[Upstream]:
    """The rich server over Streamable HTTP as its own process, shared by every client."""
    port = free_port()
    argv = [sys.executable, str(RICH), "http", "--port", str(port)]
    with started("rich (http)", argv, cwd=ROOT, log=work / f"rich-http-{port}.log") as proc:
        proc.wait_until(lambda: accepting(port), START_TIMEOUT, "accepting connections")
        yield Upstream.rich_http(f"http://127.0.0.1:{port}/mcp", proc.pid)


@contextlib.contextmanager
def running_tools_host(work: Path, servers: int, tools: int) -> Iterator[list[Upstream]]:
    """``bench/tools_host.py`` serving ``servers`` generated-tools servers, answering before it is yielded."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.tools_host", "--servers", str(servers), "--tools", str(tools)]
    argv += ["--port", str(port)]
    with started("tools host", argv, cwd=ROOT, log=work / f"tools-host-{port}.log") as proc:
        proc.wait_until(lambda: accepting(port), START_TIMEOUT, "accepting connections")
        names = [server_name(i) for i in range(servers)]
        yield [Upstream.tools_http(n, tools, f"http://127.0.0.1:{port}/{n}/mcp", proc.pid) for n in names]


@contextlib.contextmanager
def running_bridge(
    upstreams: list[Upstream],
    work: Path,
    *,
    start_timeout: float = START_TIMEOUT,
    options: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    headers: Sequence[str] = (),
    root: Path = ROOT,
    wrapper: Sequence[str] = (),
) -> Iterator[Endpoint]:
    """``mcp-bridge serve`` with these upstreams (and further ``options`` and environment ``env``),
    ready (``/readyz`` 200) when yielded; ``headers`` (``Name: value``) go with every request to it.
    ``root`` is the source tree whose ``bridge`` runs (another checkout, to compare two versions);
    ``wrapper`` the command it runs under (``valgrind ...``), if any."""
    port = free_port()
    config = work / f"bridge-{port}.json"
    config.write_text(json.dumps({"mcpServers": {u.name: u.claude_desktop_entry() for u in upstreams}}))
    argv = [*wrapper, sys.executable, "-m", "bridge.cli", "serve", "--port", str(port), "--config", str(config)]
    argv += ["--log-level", "warning", "--registry", str(work / f"registry-{port}.db"), *options]
    environ = None if env is None else {**os.environ, **env}
    with started("bridge", argv, cwd=root, log=work / f"bridge-{port}.log", env=environ) as proc:
        ready_s = proc.wait_until(lambda: _ready(port, "/readyz"), start_timeout, "ready (/readyz 200)")
        paths = {u.name: f"/servers/{u.name}/tools/{u.tool}" for u in upstreams}
        endpoint = _endpoint("bridge", port, proc, paths, ready_s, upstreams, headers)
        sent = dict(line.split(": ", 1) for line in headers)
        status, answer = http_call(port, "GET", f"/servers/{upstreams[0].name}", headers=sent)
        endpoint.protocol_version = json.loads(answer).get("protocolVersion") if status == 200 else None
        yield endpoint


@contextlib.contextmanager
def running_mcpo(upstream: Upstream, work: Path, *, log_level: str) -> Iterator[Endpoint]:
    """mcpo in front of one upstream, ready (the tool call answers 200) when yielded."""
    port = free_port()
    argv = [str(MCPO_VENV / "bin" / "mcpo"), "--host", "127.0.0.1", "--port", str(port), "--log-level", log_level]
    if upstream.url:
        argv += ["--server-type", "streamable-http", "--", upstream.url]
    else:
        argv += ["--", *upstream.spawn_command()]
    body = json.dumps(dict(upstream.arguments)).encode()
    path = f"/{upstream.tool}"
    with started("mcpo", argv, cwd=ROOT, log=work / f"mcpo-{port}.log") as proc:
        ready_s = proc.wait_until(lambda: _ready(port, path, "POST", body), START_TIMEOUT, f"answering POST {path}")
        yield _endpoint("mcpo", port, proc, {upstream.name: path}, ready_s, [upstream])


@contextlib.contextmanager
def running_thin_proxy(upstream: Upstream, work: Path) -> Iterator[Endpoint]:
    """``bench/thin_proxy.py`` in front of one stdio upstream, ready when yielded."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.thin_proxy", "--port", str(port)]
    if upstream.cpus is not None:
        argv += ["--cpus", ",".join(map(str, upstream.cpus))]
    path = f"/{upstream.tool}"
    body = json.dumps(dict(upstream.arguments)).encode()
    with started("thin proxy", [*argv, "--", *upstream.command], cwd=ROOT, log=work / f"thin-{port}.log") as proc:
        ready_s = proc.wait_until(lambda: _ready(port, path, "POST", body), START_TIMEOUT, f"answering POST {path}")
        yield _endpoint("thin", port, proc, {upstream.name: path}, ready_s, [upstream])


def _endpoint(
    name: str,
    port: int,
    proc: Proc,
    paths: dict[str, str],
    ready_s: float,
    ups: list[Upstream],
    headers: Sequence[str] = (),
) -> Endpoint:
    """The running proxy, once one call through it to each upstream has answered what it should."""
    sent = dict(line.split(": ", 1) for line in headers)
    for upstream in ups:
        body = json.dumps(dict(upstream.arguments)).encode()
        status, answer = http_call(port, "POST", paths[upstream.name], body, timeout=30.0, headers=sent)
        if status != 200 or upstream.expect.encode() not in answer:
            raise RuntimeError(f"{name}: {upstream.name}.{upstream.tool} answered {status}: {answer[:300]!r}")
    # One host process may serve many upstreams: count its CPU once.
    pids = list(dict.fromkeys(u.pid for u in ups if u.pid is not None)) + proc.children()
    return Endpoint(name, port, proc, paths, ready_s, pids, headers=list(headers))


def _ensure_venv(venv: Path, requirements: Path, what: str, marker: str) -> None:
    """``requirements`` installed into ``venv`` of its own, unless that set is already there."""
    stamp = venv / ".requirements"
    wanted = requirements.read_text()
    if not (stamp.exists() and stamp.read_text() == wanted and (venv / marker).exists()):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        done = subprocess.run([*pip, "-r", str(requirements)], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"installing {what} failed:\n{done.stderr[-2000:]}")
        stamp.write_text(wanted)


def ensure_fastmcp() -> str:
    """Install FastMCP into its own venv unless the pinned set is already there; its version."""
    _ensure_venv(FASTMCP_VENV, FASTMCP_REQUIREMENTS, "FastMCP", "bin/fastmcp")
    probe = "import fastmcp, mcp.types; print(fastmcp.__version__, mcp.types.LATEST_PROTOCOL_VERSION)"
    done = subprocess.run(
        [str(FASTMCP_VENV / "bin" / "python"), "-c", probe], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing FastMCP failed:\n{done.stderr[-2000:]}")
    version, protocol = done.stdout.split()
    return f"FastMCP {version} (its SDK's newest revision {protocol})"


@contextlib.contextmanager
def running_fastmcp(upstream: Upstream, work: Path) -> Iterator[Endpoint]:
    """FastMCP's proxy (``bench/fastmcp_proxy.py``) in front of one stdio upstream, accepting when yielded.

    Its ``upstream_pids`` are filled in by whoever first calls through it: FastMCP starts the
    server on the first request."""
    port = free_port()
    argv = [str(FASTMCP_VENV / "bin" / "python"), str(BENCH / "fastmcp_proxy.py"), "--port", str(port)]
    with started(
        "fastmcp", [*argv, "--", *upstream.spawn_command()], cwd=ROOT, log=work / f"fastmcp-{port}.log"
    ) as proc:
        ready_s = proc.wait_until(lambda: accepting(port), START_TIMEOUT, "accepting connections")
        yield Endpoint("fastmcp", port, proc, {upstream.name: "/mcp"}, ready_s)


def ensure_mcpo() -> str:
    """Install mcpo into its own venv unless the pinned set is already there; its version."""
    _ensure_venv(MCPO_VENV, MCPO_REQUIREMENTS, "mcpo", "bin/mcpo")
    check = subprocess.run([str(MCPO_VENV / "bin" / "mcpo"), "--help"], capture_output=True, text=True, timeout=120)
    if check.returncode != 0:
        raise RuntimeError(f"mcpo --help failed:\n{check.stderr[-2000:]}")
    freeze = subprocess.run(
        [str(MCPO_VENV / "bin" / "python"), "-m", "pip", "freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    versions = dict(line.split("==", 1) for line in freeze.splitlines() if "==" in line)
    latest = "import mcp.types; print(mcp.types.LATEST_PROTOCOL_VERSION)"
    protocol = subprocess.run(
        [str(MCPO_VENV / "bin" / "python"), "-c", latest], capture_output=True, text=True, timeout=120
    ).stdout.strip()
    return (
        f"mcpo {versions.get('mcpo', '?')} (mcp {versions.get('mcp', '?')}, uvicorn {versions.get('uvicorn', '?')};"
        f" `initialize` at {protocol or '?'})"
    )
