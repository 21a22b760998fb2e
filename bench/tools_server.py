"""An official-SDK MCP server with as many generated tools as asked, for the bench's scale scenario.

``python bench/tools_server.py --tools 20 [--name NAME] [--fill]`` serves over stdio. Each tool
``tool_NN`` has a small but real input schema (a string, a bounded integer, an enum) and echoes
its text; ``--fill`` adds ``fill(size)``, which answers ``size`` characters from a tiny request,
so a large tool result can be measured without a large request body.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field


def _generated_tool(index: int) -> Callable[..., str]:
    def tool(
        text: Annotated[str, Field(description="Text to echo", max_length=10_000)],
        count: Annotated[int, Field(ge=1, le=10, description="How many times to repeat it")] = 1,
        case: Annotated[Literal["keep", "upper", "lower"], Field(description="Case to answer in")] = "keep",
    ) -> str:
        answer = text * count
        return answer.upper() if case == "upper" else answer.lower() if case == "lower" else answer

    tool.__name__ = f"tool_{index:02d}"
    return tool


def build(name: str, tools: int, fill: bool) -> MCPServer:
    server = MCPServer(name, version="1.0.0")
    for index in range(tools):
        server.add_tool(
            _generated_tool(index),
            name=f"tool_{index:02d}",
            description=f"Generated tool number {index} of {name}: echoes its text, repeated and recased.",
        )
    if fill:

        def fill_tool(size: Annotated[int, Field(ge=0, le=64 * 1024 * 1024)]) -> str:
            return "x" * size

        server.add_tool(fill_tool, name="fill", description="Answer `size` characters of text.")
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tools", type=int, default=20)
    parser.add_argument("--name", default="tools")
    parser.add_argument("--fill", action="store_true", help="also serve the fill(size) tool")
    args = parser.parse_args()
    build(args.name, args.tools, args.fill).run("stdio")


if __name__ == "__main__":
    main()
