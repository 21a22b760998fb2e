"""The PyPI reference servers mcp-server-time and mcp-server-git behind the bridge."""

import subprocess
import sys
from pathlib import Path

from flask.testing import FlaskClient

from bridge.config import ServerConfig
from tests.support import in_process_bridge


def test_time_server_converts_between_zones(client: FlaskClient) -> None:
    response = client.post(
        "/servers/time/tools/convert_time",
        json={"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"},
    )
    assert response.status_code == 200
    result = response.json["structuredContent"]
    assert result["target"]["datetime"].endswith("21:00:00+09:00")


def test_time_server_reports_an_unknown_zone_as_a_422_tool_error(client: FlaskClient) -> None:
    response = client.post("/servers/time/tools/get_current_time", json={"timezone": "Mars/Olympus"})
    assert response.status_code == 422
    assert "Invalid timezone" in response.json["detail"]
    assert "Mars/Olympus" in response.json["content"][0]["text"]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_git_server_reads_a_real_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "hello.txt").write_text("hello\n")
    _git(repo, "add", "hello.txt")
    _git(repo, "-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "first commit")
    (repo / "hello.txt").write_text("hello\nworld\n")
    git = ServerConfig(
        name="git",
        transport="stdio",
        command=sys.executable,
        args=("-m", "mcp_server_git", "--repository", str(repo)),
    )
    with in_process_bridge([git]) as bridge:
        client = bridge.app.test_client()
        tools = {t["name"] for t in client.get("/servers/git/tools").json["tools"]}
        assert {"git_status", "git_log", "git_diff_unstaged"} <= tools
        log = client.post("/servers/git/tools/git_log", json={"repo_path": str(repo)})
        assert log.status_code == 200
        assert "first commit" in log.json["content"][0]["text"]
        diff = client.post("/servers/git/tools/git_diff_unstaged", json={"repo_path": str(repo)})
        assert "+world" in diff.json["content"][0]["text"]
        bad = client.post("/servers/git/tools/git_log", json={"repo_path": 5})
        assert bad.status_code == 400
        assert bad.json["errors"][0]["pointer"] == "/body/repo_path"
