"""A small GitHub-like MCP server for the guide's multi-server orchestration: issues to list.

It holds a few repositories' issues in memory (seeded below), answers ``list_issues`` in the
shape the guide reads (``number``, ``title``, ``body``, ``labels``), and takes new ones with
``open_issue``, so a run can be set up and read back. Written with the official MCP SDK; run
it over stdio (the bridge starts it: see examples/guide/orchestration.json)::

    python examples/servers/github_server.py
"""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

__all__ = ["Issue", "create_server"]

State = Literal["open", "closed"]
Repo = Annotated[str, Field(pattern=r"^[\w.-]+/[\w.-]+$", description="owner/name, e.g. myorg/myrepo")]


class Issue(BaseModel):
    """One issue of a repository."""

    number: int = Field(description="The issue's number in its repository.")
    title: str
    body: str
    labels: list[str]
    state: State


def _seed() -> dict[str, list[Issue]]:
    return {
        "myorg/myrepo": [
            Issue(
                number=1,
                title="Login times out behind the proxy",
                body="Sign-in hangs for 30 s when HTTPS_PROXY is set.",
                labels=["bug", "auth"],
                state="open",
            ),
            Issue(
                number=2, title="Typo in the README", body="'recieve' in Quickstart.", labels=["docs"], state="closed"
            ),
            Issue(
                number=3,
                title="Export reports as CSV",
                body="Finance asks for a CSV next to the PDF.",
                labels=["feature"],
                state="open",
            ),
        ]
    }


def create_server() -> MCPServer:
    """The server, with its own issues: every server made here starts from the same seed."""
    server = MCPServer("github", version="1.0.0", instructions="Issues of a few repositories, kept in memory.")
    repos = _seed()

    @server.tool(description="List a repository's issues, open ones by default, oldest first.")
    def list_issues(repo: Repo, state: Literal["open", "closed", "all"] = "open") -> list[Issue]:
        if repo not in repos:
            raise ToolError(f"no repository {repo!r}; this server has {', '.join(sorted(repos))}")
        return [issue for issue in repos[repo] if state in ("all", issue.state)]

    @server.tool(description="Open an issue in a repository (created when new); answers the issue with its number.")
    def open_issue(
        repo: Repo,
        title: Annotated[str, Field(min_length=1, max_length=200)],
        body: str = "",
        labels: list[str] = [],  # noqa: B006 - the SDK copies defaults into the schema; never mutated
    ) -> Issue:
        issues = repos.setdefault(repo, [])
        issue = Issue(number=len(issues) + 1, title=title, body=body, labels=list(labels), state="open")
        issues.append(issue)
        return issue

    return server


if __name__ == "__main__":
    create_server().run("stdio")
