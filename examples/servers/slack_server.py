"""A small Slack-like MCP server for the guide's multi-server orchestration: messages to send.

``send_message`` posts to a channel (``#dev-team``) and answers the message with its timestamp;
``list_messages`` and the ``slack://channels/{name}/messages`` resource read a channel back
(the name without its ``#``). State is in memory. Written with the official MCP SDK; over stdio::

    python examples/servers/slack_server.py
"""

from __future__ import annotations

import json
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from pydantic import BaseModel, Field

__all__ = ["Message", "create_server"]

Channel = Annotated[str, Field(pattern=r"^#[a-z0-9][a-z0-9_-]{0,79}$", description="A channel, e.g. #dev-team.")]


class Message(BaseModel):
    """One message in a channel."""

    channel: str
    text: str
    ts: str = Field(description="The message's id in its channel: a sequence number, as Slack's ts orders messages.")


def create_server() -> MCPServer:
    """The server, with empty channels."""
    server = MCPServer("slack", version="1.0.0", instructions="Channels and their messages, kept in memory.")
    channels: dict[str, list[Message]] = {}

    @server.tool(description="Post a message to a channel; answers the message with its ts.")
    def send_message(channel: Channel, text: Annotated[str, Field(min_length=1, max_length=4000)]) -> Message:
        posted = channels.setdefault(channel, [])
        message = Message(channel=channel, text=text, ts=f"{len(posted) + 1}.000000")
        posted.append(message)
        return message

    @server.tool(description="A channel's messages, oldest first (none for a channel nobody posted to).")
    def list_messages(channel: Channel) -> list[Message]:
        return list(channels.get(channel, []))

    @server.resource(
        "slack://channels/{name}/messages", name="messages", mime_type="application/json", description="A channel."
    )
    def messages(name: str) -> str:
        if f"#{name}" not in channels:
            raise ResourceNotFoundError(f"nobody posted to #{name}")
        return json.dumps([message.model_dump() for message in channels[f"#{name}"]])

    return server


if __name__ == "__main__":
    create_server().run("stdio")
