"""A small Jira-like MCP server for the guide's multi-server orchestration: tickets to create.

``create_ticket`` answers the ticket with its ``key`` (``DEV-1``, ``DEV-2``, ...), as the guide
reads it; ``list_tickets`` and the ``jira://tickets`` resource read back every ticket created
since the server started. State is in memory. Written with the official MCP SDK; over stdio::

    python examples/servers/jira_server.py
"""

from __future__ import annotations

import json
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

__all__ = ["Ticket", "create_server"]

Project = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$", description="The project's key, e.g. DEV.")]


class Ticket(BaseModel):
    """One ticket."""

    key: str = Field(description="PROJECT-N, unique on this server.")
    title: str
    description: str
    labels: list[str]
    status: str = Field(description="Where the ticket is in the workflow; new tickets are 'To Do'.")


def create_server() -> MCPServer:
    """The server, with no tickets yet."""
    server = MCPServer("jira", version="1.0.0", instructions="Tickets, kept in memory.")
    tickets: list[Ticket] = []

    @server.tool(description="Create a ticket in a project; answers it with its key (DEV-1, DEV-2, ...).")
    def create_ticket(
        title: Annotated[str, Field(min_length=1, max_length=200)],
        description: str = "",
        labels: list[str] = [],  # noqa: B006 - the SDK copies defaults into the schema; never mutated
        project: Project = "DEV",
    ) -> Ticket:
        number = sum(ticket.key.startswith(f"{project}-") for ticket in tickets) + 1
        ticket = Ticket(
            key=f"{project}-{number}", title=title, description=description, labels=list(labels), status="To Do"
        )
        tickets.append(ticket)
        return ticket

    @server.tool(description="Every ticket created so far, oldest first.")
    def list_tickets() -> list[Ticket]:
        return list(tickets)

    @server.resource("jira://tickets", name="tickets", mime_type="application/json", description="Every ticket.")
    def all_tickets() -> str:
        return json.dumps([ticket.model_dump() for ticket in tickets])

    return server


if __name__ == "__main__":
    create_server().run("stdio")
