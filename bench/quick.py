"""Bridge versus direct SDK session, one upstream, one table: ``python bench/quick.py``.

The upstream is the rich test server's ``echo`` tool over stdio (official SDK). "direct" is the
official SDK client over one held session; "bridge" is ``mcp-bridge serve`` (uvicorn) in front of
the same server, driven over HTTP keep-alive by a load generator in its own process. Each cell
runs for a fixed time and stops by itself; the bridge is stopped by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers.launch import RICH_SERVER, free_port  # noqa: E402

ARGS = {"text": "hello"}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime, children excluded


def _summary(latencies: list[float], seconds: float) -> dict[str, float]:
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0.0,
        "n": len(latencies),
    }


async def _direct(concurrency: int, seconds: float) -> dict[str, float]:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=[str(RICH_SERVER), "stdio"])
    async with Client(params, cache=None) as client:
        await client.list_tools()
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                await client.call_tool("echo", ARGS)
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return _summary(latencies, time.perf_counter() - began)


def _load(port: int, path: str, concurrency: int, seconds: float, out: Any) -> None:
    """Keep-alive POSTs from threads; http.client sends headers and body in one write (no Nagle stall)."""
    import http.client

    body = json.dumps(ARGS).encode()
    headers = {"Content-Type": "application/json"}
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"bridge answered {response.status}")
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(_summary(latencies, time.perf_counter() - began))


def _bridge(concurrency: int, seconds: float) -> dict[str, float]:
    port = free_port()
    config = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}}}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(config, handle)
    cmd = [sys.executable, "-m", "bridge.cli", "serve", "--port", str(port), "--config", handle.name]
    cmd += ["--log-level", "warning"]
    process = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        import requests

        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if requests.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        requests.post(url + "/servers/rich/tools/echo", json=ARGS, timeout=30).raise_for_status()
        queue: Any = multiprocessing.Queue()
        cpu_before = _cpu_seconds(process.pid)
        loader = multiprocessing.Process(
            target=_load, args=(port, "/servers/rich/tools/echo", concurrency, seconds, queue)
        )
        loader.start()
        result: dict[str, float] = queue.get(timeout=seconds + 60)
        loader.join(30)
        result["cpu_ms_per_req"] = (_cpu_seconds(process.pid) - cpu_before) / max(result["n"], 1) * 1000
        return result
    finally:
        process.terminate()
        process.wait(30)
        os.unlink(handle.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()
    print(
        f"{'c':>3} {'direct rps':>11} {'bridge rps':>11} {'ratio':>6} {'direct p50':>11} {'bridge p50':>11}"
        f" {'bridge p99':>11} {'bridge cpu/req':>15}"
    )
    for c in args.concurrency:
        direct = asyncio.run(_direct(c, args.seconds))
        bridge = _bridge(c, args.seconds)
        print(
            f"{c:>3} {direct['rps']:>11.0f} {bridge['rps']:>11.0f} {bridge['rps'] / direct['rps']:>6.2f}"
            f" {direct['p50_ms']:>9.2f}ms {bridge['p50_ms']:>9.2f}ms {bridge['p99_ms']:>9.2f}ms"
            f" {bridge['cpu_ms_per_req']:>13.2f}ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
