"""A real MCP server over Streamable HTTP that lets in only bearer tokens its token endpoint vouches for.

Built on the official SDK. Every HTTP request's ``Authorization: Bearer <token>`` is checked
against the token endpoint's RFC 7662 introspection (``--introspect URL``) on each request, so a
token revoked or expired there is refused at once: 401 with ``WWW-Authenticate: Bearer
error="invalid_token"``, the way a resource server answers. Its tools tell a test what reached it::

    python tests/servers/guarded_server.py --port P --introspect http://127.0.0.1:T/introspect [--sse]

Streamable HTTP at ``/mcp``; with ``--sse``, the legacy SSE transport at ``/sse`` and ``/messages/``.
"""

from __future__ import annotations

import argparse
import hashlib
from typing import Any

import httpx2
import uvicorn
from mcp.server.mcpserver import Context, MCPServer

#: The header a test configures the bridge to name its caller in.
SUBJECT_HEADER = "x-mcp-bridge-subject"


def fingerprint(token: str) -> str:
    """What the server tells of a token it saw: never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def build() -> MCPServer:
    server = MCPServer("guarded")

    @server.tool(description="Echo the text back.")
    def echo(text: str) -> str:
        return text

    @server.tool(description="What this request carried: the subject header and the bearer token's fingerprint.")
    def whoami(ctx: Context) -> dict[str, Any]:
        request = ctx.request_context.request
        headers = request.headers if request is not None else {}
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return {
            "subject": headers.get(SUBJECT_HEADER),
            "token": fingerprint(token) if scheme.lower() == "bearer" and token else None,
        }

    return server


def guarded(app: Any, introspect: str) -> Any:
    """Wrap an ASGI app: a request gets through only with a token the introspection endpoint calls active."""
    http = httpx2.AsyncClient(timeout=10)

    async def refuse(send: Any) -> None:
        headers = [(b"content-length", b"0"), (b"www-authenticate", b'Bearer error="invalid_token"')]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def app_with_tokens(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        scheme, _, token = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token:
            await refuse(send)
            return
        answer = await http.post(introspect, data={"token": token})
        if answer.status_code != 200 or answer.json().get("active") is not True:
            await refuse(send)
            return
        await app(scope, receive, send)

    return app_with_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--introspect", required=True, help="the token endpoint's RFC 7662 introspection URL")
    parser.add_argument("--sse", action="store_true", help="serve the legacy SSE transport instead")
    args = parser.parse_args()
    server = build()
    app = guarded(server.sse_app() if args.sse else server.streamable_http_app(), args.introspect)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
