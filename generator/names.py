"""Identifiers for the targets: Python ``snake_case`` and TypeScript ``camelCase`` from spec names."""

from __future__ import annotations

import keyword
import re

__all__ = ["camel", "snake"]

_RESERVED = set(keyword.kwlist) | {"self", "cls", "body", "type", "id", "async", "await", "default"}


def snake(name: str) -> str:
    """A Python identifier: ``listServerTools`` → ``list_server_tools``."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "x"
    if text[0].isdigit():
        text = "_" + text
    return text + "_" if text in _RESERVED else text


def camel(name: str) -> str:
    """A TypeScript identifier: ``call_demo_process_data`` → ``callDemoProcessData``."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", name) if p]
    if not parts:
        return "x"
    text = parts[0][:1].lower() + parts[0][1:] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
    return "_" + text if text[0].isdigit() else text
