"""``mcp-bridge keys`` on a real store file, in process (``CliRunner``), and a running bridge
serving that file picking each change up without a restart."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import requests
from click.testing import CliRunner, Result

from bridge.cli import main
from harness import poll
from tests.keys.conftest import KeyedBridge


def _keys(*args: str) -> Result:
    return CliRunner().invoke(main, ["keys", *args], catch_exceptions=False)


def test_create_prints_the_key_alone_and_list_never_shows_it(tmp_path: Path) -> None:
    registry = str(tmp_path / "registry.db")
    made = _keys("create", "ci", "--scope", "use", "--tool", "demo.*", "--expires-in", "30d", "--registry", registry)
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert key.startswith("mcpb_")
    assert "\n" not in key
    key_id = key.split("_")[1]
    assert f"created key {key_id} (ci): scopes use; tools demo.*; expires " in made.stderr
    listed = _keys("list", "--registry", registry)
    assert listed.exit_code == 0
    assert listed.stdout.startswith(f"{key_id}  ci  valid  scopes use; tools demo.*; expires ")
    assert listed.stdout.rstrip().endswith("last used: never used")
    assert key not in listed.output
    as_json = json.loads(_keys("list", "--json", "--registry", registry).stdout)
    assert [k["id"] for k in as_json["keys"]] == [key_id]
    assert "key" not in as_json["keys"][0]
    with sqlite3.connect(registry) as db:
        (kept,) = db.execute("SELECT secret_hash FROM api_keys").fetchone()
    assert kept != key
    assert len(kept) == 64


def test_rotate_prints_a_new_key_and_revoke_marks_it(tmp_path: Path) -> None:
    registry = str(tmp_path / "registry.db")
    made = json.loads(_keys("create", "rotating", "--json", "--registry", registry).stdout)
    rotated = _keys("rotate", made["id"], "--registry", registry)
    assert rotated.exit_code == 0
    assert rotated.stdout.strip().startswith(f"mcpb_{made['id']}_")
    assert rotated.stdout.strip() != made["key"]
    revoked = _keys("revoke", made["id"], "--registry", registry)
    assert revoked.exit_code == 0
    assert revoked.stderr == f"revoked key {made['id']}\n"
    assert " revoked " in _keys("list", "--registry", registry).stdout
    refused = _keys("rotate", made["id"], "--registry", registry)
    assert refused.exit_code == 1
    assert refused.stderr == f"Error: API key {made['id']!r} is revoked; create a new one\n"


def test_bad_input_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    registry = str(tmp_path / "registry.db")
    bad_tool = _keys("create", "x", "--tool", "demo", "--registry", registry)
    assert bad_tool.exit_code == 1
    assert bad_tool.stderr == "Error: the key cannot be made: 'demo' is not 'server.tool' or 'server.*'\n"
    past = _keys("create", "x", "--expires-at", "2020-01-01T00:00:00", "--registry", registry)
    assert past.stderr == "Error: the key cannot be made: this time has passed; give one in the future\n"
    assert _keys("create", "x", "--scope", "root", "--registry", registry).exit_code == 2  # click refuses the choice
    assert _keys("create", "x", "--expires-in", "soon", "--registry", registry).exit_code == 2
    unknown = _keys("revoke", "0123456789ab", "--registry", registry)
    assert unknown.stderr == "Error: no API key with id '0123456789ab'\n"
    assert _keys("list", "--registry", registry).stderr == "no keys\n"


def _status(live: KeyedBridge, key: str) -> int:
    return requests.get(f"{live.url}/tools", headers={"X-API-Key": key}, timeout=30).status_code


def test_a_running_bridge_picks_up_what_the_cli_changes(live: KeyedBridge) -> None:
    registry = str(live.registry)
    made = json.loads(_keys("create", "from-the-cli", "--tool", "time.*", "--json", "--registry", registry).stdout)
    poll(lambda: _status(live, made["key"]) == 200, 15, what="the bridge to accept the new key")
    tools = requests.get(f"{live.url}/tools", headers={"X-API-Key": made["key"]}, timeout=30).json()["tools"]
    assert {t["qualifiedName"] for t in tools} == {"time.get_current_time", "time.convert_time"}

    rotated = _keys("rotate", made["id"], "--registry", registry).stdout.strip()
    poll(lambda: _status(live, made["key"]) == 401, 15, what="the bridge to refuse the rotated-out key")
    assert _status(live, rotated) == 200

    _keys("revoke", made["id"], "--registry", registry)
    poll(lambda: _status(live, rotated) == 401, 15, what="the bridge to refuse the revoked key")
    refused = requests.get(f"{live.url}/tools", headers={"Authorization": f"Bearer {rotated}"}, timeout=30)
    assert refused.json()["detail"] == "the API key has been revoked"

    def used() -> str | None:
        listed = json.loads(_keys("list", "--json", "--registry", registry).stdout)["keys"]
        found: str | None = next(k["lastUsedAt"] for k in listed if k["id"] == made["id"])
        return found

    assert poll(used, 15, what="the bridge to record the key's last use")
