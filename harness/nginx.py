"""nginx in front of bridge instances, as deployed: the shipped ``deploy/nginx/mcp-bridge.conf``
with the ports of this run, under a prefix of its own, started and stopped by its PID.

The shipped file is changed in two places only: its upstreams' ``server`` lines (one per
instance given in each upstream, each keeping the shipped parameters) and its ``listen``
address. Everything else, timeouts, buffering, retries, balancing, is what operators run.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from harness.net import LOOPBACK, accepting, free_port
from harness.procs import Proc, started

__all__ = ["NGINX", "SHIPPED_CONFIG", "deployed_config", "running_nginx"]

#: Debian's nginx; ``.ci/run`` installs it.
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SHIPPED_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "mcp-bridge.conf"
#: Seconds nginx may take to accept connections.
START_TIMEOUT = 10.0
#: One upstream's server lines, together.
_SERVER_LINES = re.compile(r"(?:^[ \t]*server 127\.0\.0\.1:\d+ .*\n)+", re.MULTILINE)
_LISTEN = re.compile(r"listen 127\.0\.0\.1:\d+;")

_MAIN = """\
daemon off;
master_process on;
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/mcp-bridge.conf;
}}
"""


def deployed_config(instances: Sequence[int], listen: int) -> str:
    """The shipped config, balancing over the bridges on ``instances`` and listening on ``listen``."""
    text = SHIPPED_CONFIG.read_text(encoding="utf-8")

    def servers(block: re.Match[str]) -> str:
        template = block.group(0).splitlines()[0]
        return "".join(template.replace(template.split()[1], f"{LOOPBACK}:{port}", 1) + "\n" for port in instances)

    text, upstreams = _SERVER_LINES.subn(servers, text)
    if not upstreams:
        raise RuntimeError(f"{SHIPPED_CONFIG} has no upstream server lines")
    text, listens = _LISTEN.subn(f"listen {LOOPBACK}:{listen};", text)
    if listens != 1:
        raise RuntimeError(f"{SHIPPED_CONFIG} should listen on one loopback address, not {listens}")
    return text


@contextmanager
def running_nginx(prefix: Path, instances: Sequence[int], *, workers: int = 1) -> Iterator[tuple[int, Proc]]:
    """nginx balancing over ``instances`` with the shipped config: its port and its process."""
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (prefix / "mcp-bridge.conf").write_text(deployed_config(instances, port), encoding="utf-8")
    # As root, nginx's workers would run as nobody, who cannot reach a test's private temp folder.
    user = "user root root;" if os.geteuid() == 0 else ""
    main = _MAIN.format(prefix=prefix, workers=workers, user=user)
    (prefix / "nginx.conf").write_text(main, encoding="utf-8")
    argv = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    with started("nginx", argv, log=prefix / "nginx.log") as proc:
        proc.wait_until(lambda: accepting(port), START_TIMEOUT, f"accepting connections on port {port}")
        yield port, proc
