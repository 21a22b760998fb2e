"""The secrets the suite uses, and the search for them in every log the suite wrote.

A test hands a secret to the bridge (an API key, an upstream's bearer token, a webhook secret)
through ``secret(value)``, or has it registered for it: ``tests.support`` registers the keys and
secrets it passes to ``bridge_process`` and ``in_process_bridge``. The plugin in
``tests/conftest.py`` sends this process's log records to a file in the session's temporary
folder and, when the session ends, searches that file and every other ``*.log`` there (bridges,
upstream servers, receivers: each ``harness.started`` process logs under a test's ``tmp_path``)
for every registered secret, failing the run with the places it found one. Secrets shorter than
``MIN_CHARS`` are not registered: such strings ("k1", "admin") occur in ordinary text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MIN_CHARS", "Leak", "find_leaks", "register_args", "register_env", "secret", "used"]

#: Shorter strings are too likely to occur in a log by chance to be searched for.
MIN_CHARS = 8
#: Options of ``mcp-bridge serve`` whose value is a secret.
SECRET_OPTIONS = frozenset({"--api-key", "--admin-key"})
#: Environment variables of ``mcp-bridge serve`` that hold secrets (comma-separated keys for the first two).
SECRET_VARIABLES = ("MCP_BRIDGE_API_KEYS", "MCP_BRIDGE_ADMIN_KEYS", "WEBHOOK_SECRET")

_used: set[str] = set()


def secret(value: str) -> str:
    """``value``, registered as a secret no log line may hold; returned so a test can write ``KEY = secret(...)``."""
    if len(value) >= MIN_CHARS:
        _used.add(value)
    return value


def register_args(args: Sequence[str]) -> None:
    """Register the values of ``--api-key K`` / ``--admin-key K`` (and ``--api-key=K``) in a command line."""
    for index, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if name in SECRET_OPTIONS and eq:
            secret(value)
        elif arg in SECRET_OPTIONS and index + 1 < len(args):
            secret(args[index + 1])


def register_env(env: Mapping[str, str]) -> None:
    for variable in SECRET_VARIABLES:
        for value in env.get(variable, "").split(","):
            secret(value.strip())


def used() -> frozenset[str]:
    return frozenset(_used)


@dataclass(frozen=True)
class Leak:
    path: Path
    line: int
    secret: str

    def __str__(self) -> str:
        shown = self.secret[:3] + "…"  # enough to find it in the test, not enough to reuse it
        return f"{self.path}:{self.line}: holds the secret {shown} ({len(self.secret)} characters)"


def find_leaks(files: Iterable[Path], secrets: Iterable[str]) -> list[Leak]:
    """Where each of ``secrets`` occurs in ``files``: one pass per file over its bytes, lines counted only on a hit."""
    wanted = [(s, s.encode()) for s in sorted(set(secrets))]
    leaks: list[Leak] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:  # removed meanwhile, or not a file
            continue
        for text, raw in wanted:
            at = data.find(raw)
            while at != -1:
                leaks.append(Leak(path, data.count(b"\n", 0, at) + 1, text))
                at = data.find(raw, at + 1)
    return leaks
