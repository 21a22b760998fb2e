"""Opening one connection to an upstream: the transport its config names, the SDK client, the handshake.

A stdio server is started as a child process over the bridge's own transport
(``bridge/upstream/stdio.py``, POSIX), a Streamable HTTP one is reached over the lean transport
(``bridge/upstream/http.py``), a legacy SSE one through the SDK's client. Once connected, the
negotiated revision is pinned, so a reconnect skips the discover probe and keeps the server's
capabilities; after a failed attempt it is forgotten, as the server may have changed revision.
An HTTP server with credentials beyond static headers (an OAuth 2.0 token, the caller's
identity) gets them from ``bridge/upstream/credentials.py`` on each request; one without pays
nothing for them, and its tool calls may go as lean requests (``bridge/upstream/lean_http.py``)
beside the SDK session on the same pooled connections.
"""

from __future__ import annotations

import os
from contextlib import AsyncExitStack
from typing import Any

import httpx2
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.session import MessageHandlerFnT
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from bridge import __version__
from bridge.config import ServerConfig
from bridge.upstream.credentials import TOKEN_TIMEOUT, AccessToken, UpstreamAuth
from bridge.upstream.declaring import keep_declared
from bridge.upstream.http import LeanTransport
from bridge.upstream.lean_calls import LeanChannel
from bridge.upstream.lean_http import HttpChannel
from bridge.upstream.lean_pipe import LeanPipe
from bridge.upstream.link import Link
from bridge.upstream.relaying import BackChannel
from bridge.upstream.stdio import stdio_transport
from bridge.upstream.tasks import UpstreamTasks
from bridge.upstream.translate import to_json

__all__ = ["CLIENT_INFO", "Connector"]

#: How the bridge introduces itself to upstream servers (their logs and any client checks see it).
CLIENT_INFO = types.Implementation(name="mcp-rest-bridge", version=__version__)


class Connector:
    """Opens connections to one server, each a new SDK client, remembering the revision last negotiated."""

    def __init__(
        self, config: ServerConfig, link: Link, back: BackChannel, on_message: MessageHandlerFnT, tasks: UpstreamTasks
    ) -> None:
        self._config = config
        self._link = link
        self._back = back
        self._on_message = on_message
        self._tasks = tasks
        self._mode = config.protocol
        self._prior_discover: types.DiscoverResult | None = None
        #: Kept across reconnects: a token still valid serves the next connection too.
        self._token = AccessToken(config.oauth) if config.oauth is not None else None
        #: The last connection's lean requests beside its session, where its transport offers them.
        self.lean: LeanChannel | None = None
        self._http: HttpChannel | None = None

    async def connect(self, stack: AsyncExitStack) -> Client:
        """A client whose handshake is done and whose revision is pinned; ``stack`` closes it."""
        self.lean = None
        self._http = None
        pipe = LeanPipe() if self._config.transport == "stdio" and os.name == "posix" else None
        client = self._client(await self._target(stack, pipe))
        await stack.enter_async_context(client)
        self._pin(client)
        if client.protocol_version in MODERN_PROTOCOL_VERSIONS:  # each call tells its caller's capabilities
            keep_declared(client.session)
        if pipe is not None:
            pipe.bind(client.session)
            self.lean = pipe
        elif self._http is not None:
            self._http.bind(client.session)
            self.lean = self._http
        return client

    def forget(self) -> None:
        """Negotiate afresh next time: the server may have changed revision (upgraded, replaced)."""
        self._mode, self._prior_discover = self._config.protocol, None

    async def _target(self, stack: AsyncExitStack, pipe: LeanPipe | None) -> Any:
        cfg = self._config
        if cfg.transport == "stdio":
            server = StdioServerParameters(
                command=cfg.command or "", args=list(cfg.args), env=dict(cfg.env) or None, cwd=cfg.cwd
            )
            if pipe is not None:  # POSIX: the same wire with fewer hops per message
                return stdio_transport(server, cfg.cpus, pipe)
            return server
        auth = await self._auth(stack)
        if cfg.transport == "sse":
            return sse_client(cfg.url or "", headers=dict(cfg.headers) or None, auth=auth)
        # A client we pass in is ours to close: the exit stack does it with the connection.
        # The SDK's client settings (create_mcp_http_client) over the lean transport.
        transport = LeanTransport()
        http = await stack.enter_async_context(
            httpx2.AsyncClient(
                headers=dict(cfg.headers) or None,
                timeout=httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT),
                transport=transport,
                auth=auth,
            )
        )
        if auth is None and (cfg.url or "").startswith("http://"):  # credentials stay on the SDK path
            self._http = HttpChannel(
                cfg.url or "", transport, headers=cfg.headers, back=self._back, on_message=self._on_message
            )
            stack.callback(self._http.close)  # with the connection, its lean requests end
        return streamable_http_client(cfg.url or "", http_client=http)

    async def _auth(self, stack: AsyncExitStack) -> UpstreamAuth | None:
        """The credentials flow for this connection, if the server has more than static headers."""
        cfg = self._config
        if self._token is None and not cfg.identifies_caller:
            return None
        tokens = None
        if self._token is not None:  # token requests go on a client of their own, closed with the connection
            tokens = await stack.enter_async_context(httpx2.AsyncClient(timeout=TOKEN_TIMEOUT))
        return UpstreamAuth(
            self._token,
            tokens,
            subject_header=cfg.subject_header,
            forward_caller_token=cfg.forward_caller_token,
        )

    def _client(self, target: Any) -> Client:
        back = self._back
        return Client(
            target,
            mode=self._mode,
            prior_discover=self._prior_discover,
            client_info=CLIENT_INFO,
            cache=None,  # the bridge keeps its own catalog; per-client caching would only go stale
            message_handler=self._on_message,
            logging_callback=back.on_log,
            # Declared so a server may ask; each question goes to the caller whose call asked it.
            sampling_callback=back.on_sampling,
            elicitation_callback=back.on_elicitation,
            # A tool call the upstream makes a task of its own is followed to its end (tasks).
            extensions=[self._tasks],
        )

    def _pin(self, client: Client) -> None:
        """Remember the negotiated revision, so a reconnect skips the discover probe."""
        version = client.protocol_version
        self._mode = version if version in MODERN_PROTOCOL_VERSIONS else "legacy"
        # Re-adopting the server's own discover result keeps its capabilities on reconnect.
        self._prior_discover = client.session.discover_result
        info = client.server_info
        self._link.negotiated(version, to_json(info) if info is not None else None, to_json(client.server_capabilities))
