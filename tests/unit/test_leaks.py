"""The search for secrets in the suite's logs finds each one where it is, and only registered ones."""

from __future__ import annotations

from pathlib import Path

from tests import leaks
from tests.leaks import find_leaks, register_args, register_env


def test_every_occurrence_of_each_secret_is_found_with_its_line(tmp_path: Path) -> None:
    first = tmp_path / "bridge.log"
    first.write_text("started\nAuthorization: Bearer tok-123456789\nok tok-123456789\n", encoding="utf-8")
    second = tmp_path / "other.log"
    second.write_text("nothing here\n", encoding="utf-8")
    found = find_leaks([first, second, tmp_path / "gone.log"], ["tok-123456789", "never-written-1"])
    assert [(leak.path.name, leak.line, leak.secret) for leak in found] == [
        ("bridge.log", 2, "tok-123456789"),
        ("bridge.log", 3, "tok-123456789"),
    ]
    assert str(found[0]).endswith("bridge.log:2: holds the secret tok… (13 characters)")


def test_keys_on_a_command_line_and_in_the_environment_are_registered_but_short_ones_are_not() -> None:
    before = leaks.used()
    register_args(["serve", "--api-key", "cli-key-123456", "--admin-key=admin-key-98765", "--api-key", "k1"])
    register_env({"MCP_BRIDGE_API_KEYS": "env-key-1234, env-key-5678", "WEBHOOK_SECRET": "whsec_abcdefgh"})
    added = leaks.used() - before
    assert added == {"cli-key-123456", "admin-key-98765", "env-key-1234", "env-key-5678", "whsec_abcdefgh"} - before
