"""The audit log: one JSON line per record, credentials redacted by field name, URLs without their secrets."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson

from bridge.audit import REDACTED, AuditFile, audit, safe_url


def test_records_are_json_lines_with_the_required_fields_and_no_credentials(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.jsonl"
    handler = AuditFile.attach(path)
    try:
        audit("key.create", "key:abc", "req-1\r\nforged", target="/keys/ci", name="ci", key="sk-secret-1", token="t")
        audit("request.denied", None, None, target="/servers", outcome="denied", status=401)
        handler.close()
        audit("server.remove", "key:abc", "req-2", target="/servers/x")
    finally:
        handler.detach()
    audit("after.detach", "key:abc", None)
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [r["action"] for r in lines] == ["key.create", "request.denied", "server.remove"]
    first = lines[0]
    assert first["time"].endswith("Z")
    assert {k: first[k] for k in ("subject", "requestId", "target", "outcome", "name", "key", "token")} == {
        "subject": "key:abc",
        "requestId": "req-1??forged",
        "target": "/keys/ci",
        "outcome": "ok",
        "name": "ci",
        "key": REDACTED,
        "token": REDACTED,
    }
    assert lines[1]["subject"] is None
    assert b"sk-secret-1" not in path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_url_loses_user_info_query_and_fragment() -> None:
    assert safe_url("https://user:pw@mcp.example:8443/mcp?token=abc#x") == "https://mcp.example:8443/mcp"
    assert safe_url("http://[::1]:9/x") == "http://[::1]:9/x"
    assert safe_url("http://[::1") == "(not a URL)"
