"""Claude Desktop's config file: where it lives, and adding an entry without losing the rest."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["add_server", "default_config_path"]


def default_config_path() -> Path:
    """``claude_desktop_config.json`` where Claude Desktop reads it on this platform."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if sys.platform == "win32":
        return (
            Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
            / "Claude"
            / "claude_desktop_config.json"
        )
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config_home / "Claude" / "claude_desktop_config.json"


def add_server(path: Path, name: str, entry: Mapping[str, Any]) -> bool:
    """Set ``mcpServers[name]`` to ``entry``, keeping every other key; True if it replaced one.

    The file is rewritten atomically (a sibling temp file, then rename), so a crash never
    leaves Claude Desktop a half-written config.
    """
    document: dict[str, Any] = {}
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if text.strip():
            loaded = json.loads(text)
            if not isinstance(loaded, dict):
                raise ValueError(f"{path} does not hold a JSON object")
            document = loaded
    servers = document.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise ValueError(f'{path}: "mcpServers" is not an object')
    replaced = name in servers
    servers[name] = dict(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".claude_desktop_config.", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2)
        out.write("\n")
    os.replace(temp, path)
    return replaced
