"""The ``mcp-bridge`` command."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

import click

from bridge.config import (
    DEFAULT_CALL_TIMEOUT,
    DEFAULT_DELIVERY_LEASE,
    DEFAULT_MAX_BODY,
    DEFAULT_OAUTH_ALGORITHMS,
    DEFAULT_OAUTH_LEEWAY,
    DEFAULT_SHUTDOWN_GRACE,
    DEFAULT_STORE_POOL,
    BridgeSettings,
    ConfigError,
    Limit,
    LimitSettings,
    OAuthSettings,
    default_registry_path,
    demo_server,
    load_servers,
    parse_limit,
    parse_rate,
    read_secret_file,
)
from bridge.endpoint.session_seal import MIN_SECRET_BYTES
from bridge.keys_command import keys
from bridge.spec import SpecError
from bridge.store import StoreError
from bridge.telemetry import LOG_FORMATS, LogFormat, Tracing, configure_logging
from bridge.webhooks import RetrySchedule
from generator.cli import generate

__all__ = ["main"]

log = logging.getLogger("bridge")
#: Connections the kernel queues before they are accepted (uvicorn's own default); Python's is 128.
LISTEN_BACKLOG = 2048
#: Seconds between keepalive pings on an idle /ws socket, and how long its pong may take.
WS_PING_INTERVAL = 20.0


@click.group()
@click.version_option(package_name="mcp-rest-bridge")
def main() -> None:
    """A validated REST API over MCP servers."""


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Claude Desktop style servers file.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind; keep loopback unless fronted.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--api-key", "api_keys", multiple=True, help="Accepted API key (repeatable); also MCP_BRIDGE_API_KEYS.")
@click.option(
    "--admin-key",
    "admin_keys",
    multiple=True,
    help="Key that may also register and remove servers (repeatable); also MCP_BRIDGE_ADMIN_KEYS.",
)
@click.option(
    "--registry",
    "--store",
    "registry_path",
    metavar="PATH|URL",
    help=(
        "Where servers registered over REST, named API keys and the rest are kept: a SQLite file, or a"
        " postgresql://user:password@host:port/database URL (default: a file in the user's data folder)."
    ),
)
@click.option(
    "--store-pool",
    type=click.IntRange(1, 1000),
    default=DEFAULT_STORE_POOL,
    show_default=True,
    envvar="MCP_BRIDGE_STORE_POOL",
    metavar="N",
    help="Connections to a PostgreSQL store this bridge may hold at once (a SQLite file takes none);"
    " also MCP_BRIDGE_STORE_POOL.",
)
@click.option(
    "--allow-stdio-registration",
    is_flag=True,
    help="Let admin keys register stdio servers, which run a command on this host.",
)
@click.option(
    "--timeout",
    default=DEFAULT_CALL_TIMEOUT,
    show_default=True,
    type=click.FloatRange(min=0.001),
    help="Per-call upstream timeout in seconds.",
)
@click.option(
    "--max-body",
    default=DEFAULT_MAX_BODY,
    show_default=True,
    type=click.IntRange(min=1),
    help="Largest request body in bytes (413 above).",
)
@click.option("--threads", default=32, show_default=True, type=click.IntRange(min=1), help="Worker threads.")
@click.option(
    "--mcp-sdk-only", is_flag=True, hidden=True, help="Serve every /mcp MCP client request by the SDK (tests)."
)
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="OpenAPI document to serve and validate against (default: the bundled one).",
)
@click.option(
    "--event-log-size",
    default=10_000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Events the log keeps for replay (Last-Event-ID).",
)
@click.option(
    "--event-log-age",
    default=24 * 3600.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds an event stays in the log.",
)
@click.option(
    "--idempotency-ttl",
    default=24 * 3600.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a tool call's answer is kept and replayed for its Idempotency-Key.",
)
@click.option(
    "--event-payloads",
    is_flag=True,
    help="Include calls' params and results in events (for subscribers allowed to see them).",
)
@click.option(
    "--log-all-calls",
    is_flag=True,
    help="Keep every call's events in the event log, not only while a stream, socket or webhook follows.",
)
@click.option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    help="Browser origin whose pages may use the bridge besides its own; turns CORS on for it (repeatable).",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="Host name a loopback-bound bridge answers to besides loopback ones, as behind a proxy (repeatable).",
)
@click.option(
    "--allow-private-webhooks",
    is_flag=True,
    help="Let webhooks be delivered to loopback, private and link-local addresses.",
)
@click.option(
    "--allow-private-upstreams",
    is_flag=True,
    help="Let admins register servers at loopback and private addresses (never link-local or cloud metadata).",
)
@click.option(
    "--audit-log",
    "audit_log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the audit log (admin actions, refused requests) to this file as JSON lines.",
)
@click.option(
    "--webhook-retry-delays",
    metavar="SECONDS,...",
    help="Seconds between a webhook delivery's attempts, comma-separated (default: 5 s to 12 h, about a day).",
)
@click.option(
    "--delivery-lease",
    type=click.FloatRange(min=0.5),
    default=DEFAULT_DELIVERY_LEASE,
    show_default=True,
    metavar="SECONDS",
    help="Seconds a webhook delivery stays leased to the instance attempting it unless renewed: how soon "
    "another instance on the same store takes over the deliveries of one that died.",
)
@click.option(
    "--rate-limit",
    metavar="N/PERIOD",
    help="Requests each caller may send, as 100/minute or 10/second (429 past it).",
)
@click.option(
    "--rate-burst",
    type=click.IntRange(min=1),
    help="Of --rate-limit, how many a caller may send at once (default: all of one period's).",
)
@click.option(
    "--max-concurrent-calls",
    type=click.IntRange(min=1),
    help="Calls each caller may have upstream at once (429 past it).",
)
@click.option(
    "--server-limit",
    "server_limits",
    multiple=True,
    metavar="SERVER=LIMIT",
    help="Calls to one server from all callers: a rate, burst=N, concurrent=N, comma-separated "
    "(demo=10/second,concurrent=4); repeatable.",
)
@click.option(
    "--tool-limit",
    "tool_limits",
    multiple=True,
    metavar="SERVER.TOOL=LIMIT",
    help="Calls to one tool from all callers, as --server-limit (demo.slow=2/second); repeatable.",
)
@click.option(
    "--redis-url",
    envvar="MCP_BRIDGE_REDIS_URL",
    help="Redis shared with other bridges: limits counted together, events and calls shared (MCP_BRIDGE_REDIS_URL).",
)
@click.option(
    "--destructive-scope/--no-destructive-scope",
    default=True,
    show_default=True,
    help="Tools marked destructiveHint only for keys with the 'destructive' scope (command-line keys have it).",
)
@click.option(
    "--public-url",
    help="The URL callers reach the bridge by: its OAuth resource identifier (default http://HOST:PORT).",
)
@click.option(
    "--oauth-issuer", help="Take OAuth 2.0 access tokens from this issuer (found by OIDC / RFC 8414 discovery)."
)
@click.option("--oauth-jwks-url", help="The issuer's signing keys (JWKS), when not found by discovery.")
@click.option(
    "--oauth-audience",
    "oauth_audiences",
    multiple=True,
    help="An 'aud' that means this bridge (repeatable; default: the public URL).",
)
@click.option(
    "--oauth-algorithms",
    default=",".join(DEFAULT_OAUTH_ALGORITHMS),
    show_default=True,
    help="Signature algorithms accepted, comma-separated ('none' never; HS* only with --oauth-hmac-secret-file).",
)
@click.option(
    "--oauth-leeway",
    default=DEFAULT_OAUTH_LEEWAY,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds of clock skew allowed on exp, nbf and iat.",
)
@click.option("--oauth-introspection-url", help="RFC 7662 endpoint for opaque tokens (default: from discovery).")
@click.option(
    "--oauth-client-id",
    envvar="MCP_BRIDGE_OAUTH_CLIENT_ID",
    help="The bridge's client id at the introspection endpoint.",
)
@click.option(
    "--oauth-client-secret-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="File holding the bridge's client secret for introspection; also MCP_BRIDGE_OAUTH_CLIENT_SECRET.",
)
@click.option(
    "--oauth-hmac-secret-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="File holding a shared secret: only with it are HMAC-signed (HS256/384/512) tokens accepted.",
)
@click.option("--oauth-use-scope", default="use", show_default=True, help="The token scope that grants calling tools.")
@click.option(
    "--oauth-admin-scope",
    default="admin",
    show_default=True,
    help="The token scope that grants managing ('' for none).",
)
@click.option(
    "--oauth-destructive-scope",
    default="destructive",
    show_default=True,
    help="The token scope that grants tools annotated destructiveHint ('' for none).",
)
@click.option(
    "--oauth-allow-claim", help="Token claim listing the servers and tools it may use (server.*, server.tool)."
)
@click.option(
    "--call-retention",
    default=24 * 3600.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds an asynchronous call (Prefer: respond-async) stays readable after it ends.",
)
@click.option(
    "--call-limit-per-caller",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Asynchronous calls one caller may have running; beyond it, 429.",
)
@click.option(
    "--call-limit",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Asynchronous calls the bridge runs at once; beyond it, 429.",
)
@click.option(
    "--call-max-result",
    default=4 * 1024 * 1024,
    show_default=True,
    type=click.IntRange(min=1),
    help="Bytes of an asynchronous call's result kept; a bigger result fails the call (507).",
)
@click.option(
    "--session-secret-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=(
        "File holding a secret (32 bytes or more) that 2025-era MCP session ids are sealed with; give"
        " every instance behind one balancer the same, and a session opened on one is served by all."
        " Also MCP_BRIDGE_SESSION_SECRET. Without one, sessions are this process's own."
    ),
)
@click.option(
    "--callback-secret-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=(
        "File holding the secret asynchronous calls' callbacks (Callback-Url) are signed with; also"
        " MCP_BRIDGE_CALLBACK_SECRET. Without one, callbacks are refused."
    ),
)
@click.option(
    "--shutdown-grace",
    default=DEFAULT_SHUTDOWN_GRACE,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds calls in flight may take to finish after SIGTERM or SIGINT (new connections are refused); then 503.",
)
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
@click.option(
    "--log-format",
    default="text",
    show_default=True,
    type=click.Choice(LOG_FORMATS),
    help="Log lines as text or as JSON objects (one a line); each names its request's id.",
)
@click.option(
    "--telemetry/--no-telemetry",
    default=True,
    show_default=True,
    help="Request ids (X-Request-Id, traceparent, sent upstream in _meta) and metrics (GET /metrics, admin scope).",
)
@click.option(
    "--metrics-address",
    metavar="HOST:PORT",
    help="Also serve /metrics here without auth, for Prometheus on a private network (127.0.0.1:9464).",
)
def serve(
    config_path: Path | None,
    host: str,
    port: int,
    api_keys: tuple[str, ...],
    admin_keys: tuple[str, ...],
    registry_path: str | None,
    store_pool: int,
    allow_stdio_registration: bool,
    timeout: float,
    max_body: int,
    threads: int,
    mcp_sdk_only: bool,
    spec_path: Path | None,
    event_log_size: int,
    event_log_age: float,
    idempotency_ttl: float,
    event_payloads: bool,
    log_all_calls: bool,
    allowed_origins: tuple[str, ...],
    allowed_hosts: tuple[str, ...],
    allow_private_webhooks: bool,
    allow_private_upstreams: bool,
    audit_log: Path | None,
    webhook_retry_delays: str | None,
    delivery_lease: float,
    rate_limit: str | None,
    rate_burst: int | None,
    max_concurrent_calls: int | None,
    server_limits: tuple[str, ...],
    tool_limits: tuple[str, ...],
    redis_url: str | None,
    destructive_scope: bool,
    public_url: str | None,
    oauth_issuer: str | None,
    oauth_jwks_url: str | None,
    oauth_audiences: tuple[str, ...],
    oauth_algorithms: str,
    oauth_leeway: float,
    oauth_introspection_url: str | None,
    oauth_client_id: str | None,
    oauth_client_secret_file: Path | None,
    oauth_hmac_secret_file: Path | None,
    oauth_use_scope: str,
    oauth_admin_scope: str,
    oauth_destructive_scope: str,
    oauth_allow_claim: str | None,
    call_retention: float,
    call_limit_per_caller: int,
    call_limit: int,
    call_max_result: int,
    callback_secret_file: Path | None,
    shutdown_grace: float,
    session_secret_file: Path | None,
    log_level: str,
    log_format: LogFormat,
    telemetry: bool,
    metrics_address: str | None,
) -> None:
    """Serve the REST API in front of the configured MCP servers (the demo server by default)."""
    configure_logging(log_level, log_format)
    logging.getLogger("uvicorn.error").addFilter(_without_query_strings)
    if log_level.lower() != "debug":  # a line per upstream request, with its URL (a secret may ride in a query)
        for client in ("httpx2", "httpx"):
            logging.getLogger(client).setLevel(logging.WARNING)
    import uvicorn

    from bridge.endpoint.draining import CUT_OFF_SETTLE, DrainingServer
    from bridge.runtime import Bridge

    try:
        servers = load_servers(config_path, os.environ) if config_path else [demo_server()]
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    settings = BridgeSettings(
        host=host,
        port=port,
        api_keys=tuple(api_keys) + BridgeSettings.keys_from_env(os.environ),
        admin_keys=tuple(admin_keys) + BridgeSettings.keys_from_env(os.environ, "MCP_BRIDGE_ADMIN_KEYS"),
        registry_path=registry_path or default_registry_path(os.environ),
        store_pool=store_pool,
        allow_stdio_registration=allow_stdio_registration,
        max_body=max_body,
        call_timeout=timeout,
        threads=threads,
        mcp_lean_path=not mcp_sdk_only,
        event_log_count=event_log_size,
        event_log_age=event_log_age,
        idempotency_ttl=idempotency_ttl,
        event_payloads=event_payloads,
        log_all_calls=log_all_calls,
        allowed_origins=allowed_origins,
        allowed_hosts=allowed_hosts,
        allow_private_webhooks=allow_private_webhooks,
        allow_private_upstreams=allow_private_upstreams,
        audit_log=str(audit_log) if audit_log else None,
        webhook_url=os.environ.get("WEBHOOK_URL") or None,
        webhook_secret=os.environ.get("WEBHOOK_SECRET") or None,
        webhook_retry_delays=_retry_delays(webhook_retry_delays),
        delivery_lease=delivery_lease,
        limits=_limits(rate_limit, rate_burst, max_concurrent_calls, server_limits, tool_limits),
        redis_url=redis_url or None,
        destructive_scope=destructive_scope,
        public_url=public_url,
        call_retention=call_retention,
        call_limit_per_caller=call_limit_per_caller,
        call_limit_total=call_limit,
        call_max_result=call_max_result,
        callback_secret=_secret(callback_secret_file, "--callback-secret-file", "MCP_BRIDGE_CALLBACK_SECRET"),
        shutdown_grace=shutdown_grace,
        telemetry=telemetry,
        metrics_address=metrics_address,
        session_secret=_session_secret(session_secret_file),
        oauth=OAuthSettings(
            issuer=oauth_issuer,
            jwks_url=oauth_jwks_url,
            audiences=oauth_audiences,
            algorithms=tuple(a.strip() for a in oauth_algorithms.split(",") if a.strip()),
            leeway=oauth_leeway,
            introspection_url=oauth_introspection_url,
            client_id=oauth_client_id,
            client_secret=_secret(
                oauth_client_secret_file, "--oauth-client-secret-file", "MCP_BRIDGE_OAUTH_CLIENT_SECRET"
            ),
            hmac_secret=(_secret(oauth_hmac_secret_file, "--oauth-hmac-secret-file") or "").encode() or None,
            use_scope=oauth_use_scope,
            admin_scope=oauth_admin_scope,
            destructive_scope=oauth_destructive_scope,
            allow_claim=oauth_allow_claim,
        ),
    )
    _stop_on_signals()
    listener = _bind(host, port)
    try:
        bridge = Bridge.create(settings, servers, spec_path=spec_path, tracing=Tracing.from_env(os.environ))
    except (SpecError, StoreError, ConfigError) as exc:
        listener.close()
        raise click.ClickException(f"refusing to start: {exc}") from exc
    except BaseException:
        listener.close()
        raise
    try:
        listener.listen(LISTEN_BACKLOG)
        # Connections inherit this: without it a response written as headers then body waits
        # for the client's delayed ACK (~40 ms per request on Linux).
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        app = bridge.asgi_app()
        config = uvicorn.Config(
            app,
            log_level="warning" if log_level == "info" else log_level,
            log_config=None,  # uvicorn's lines go through the root handler: one format, each with its request id
            server_header=False,
            headers=[("server", "mcp-rest-bridge")],
            access_log=False,  # the bridge logs each request itself, without query strings
            # No X-Forwarded-* trust: a caller on loopback must not be able to pose as another address.
            proxy_headers=False,
            lifespan="on",
            # httptools with a deadline and limits on each request's head, refusals as problem+json,
            # and polls of asynchronous calls answered in it.
            http=bridge.http_protocol(),
            # What is left once the drain is done (``bridge.endpoint.draining``) gets this long to close.
            timeout_graceful_shutdown=CUT_OFF_SETTLE,
            # /ws: frames past the body limit close the socket with 1009; idle sockets are pinged.
            ws="websockets-sansio",
            ws_max_size=settings.max_body,
            ws_ping_interval=WS_PING_INTERVAL,
            ws_ping_timeout=WS_PING_INTERVAL,
        )
        assert bridge.drain is not None  # made by asgi_app()
        server = DrainingServer(config, bridge.drain)
        bound = f"http://{host}:{listener.getsockname()[1]}"
        names = ", ".join(s.name for s in servers) or "none"
        click.echo(f"mcp-bridge: serving {len(servers)} MCP server(s) ({names}) at {bound}", err=True)
        click.echo(f"  REST API     {bound}/servers   {bound}/tools", err=True)
        click.echo(f"  MCP          {bound}/mcp (MCP clients; plain JSON-RPC POSTs too)", err=True)
        ws = "ws" + bound.removeprefix("http")
        click.echo(f"  events       {bound}/mcp/stream (SSE)   {ws}/ws (JSON-RPC)   {bound}/webhooks", err=True)
        click.echo(f"  OpenAPI      {bound}/openapi.json", err=True)
        if settings.telemetry:
            apart = f"   http://{metrics_address}/metrics (no auth)" if metrics_address else ""
            click.echo(f"  metrics      {bound}/metrics (admin key){apart}", err=True)
        click.echo(f"  Explorer     {bound}/docs", err=True)
        click.echo(f"  auth         {_auth_line(settings, bridge.gate.authenticator.enabled)}", err=True)
        click.echo(f"  registry     {bridge.store.database.location}", err=True)  # never a password
        sys.stderr.flush()
        bridge.serve(server.serve(sockets=[listener]), stop=server.stop)
    except KeyboardInterrupt:
        pass
    finally:
        bridge.close()
        click.echo("mcp-bridge: stopped", err=True)


main.add_command(generate)
main.add_command(keys)


@main.command()
@click.option("--url", required=True, help="The bridge's base URL (or its /mcp URL).")
@click.option("--api-key", envvar="MCP_BRIDGE_API_KEY", help="Key for the bridge; also MCP_BRIDGE_API_KEY.")
def stdio(url: str, api_key: str | None) -> None:
    """Serve a bridge's tools, resources and prompts as one stdio MCP server (for Claude Desktop)."""
    from bridge.proxy import serve_stdio

    serve_stdio(url, api_key)


@main.command()
@click.option("--name", required=True, help="The entry's name in Claude Desktop.")
@click.option("--url", required=True, help="The bridge's base URL.")
@click.option("-v", "--env", "variables", multiple=True, help="KEY=VALUE for the entry's environment (repeatable).")
@click.option(
    "--config-path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="claude_desktop_config.json to edit (default: where Claude Desktop reads it).",
)
def install(name: str, url: str, variables: tuple[str, ...], config_path: Path | None) -> None:
    """Add a bridge to Claude Desktop's config as a stdio server, keeping what is there."""
    from bridge.desktop import add_server, default_config_path

    env: dict[str, str] = {}
    for item in variables:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="-v")
        env[key] = value
    entry: dict[str, object] = {"command": _own_command(), "args": ["stdio", "--url", url]}
    if env:
        entry["env"] = env
    path = config_path or default_config_path()
    try:
        replaced = add_server(path, name, entry)
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"cannot update {path}: {exc}") from exc
    click.echo(f"{'updated' if replaced else 'added'} {name!r} in {path}; restart Claude Desktop to load it")


def _bind(host: str, port: int) -> socket.socket:
    """The server's socket, bound but not yet listening, or one clear line when the address cannot be had.

    Bound before any child starts, so a taken port costs nothing; listening only once the bridge
    is ready, so a caller is refused until then instead of left waiting.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if os.name == "posix":  # as socket.create_server: rebinding after a restart need not wait
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise click.ClickException(f"cannot listen on {host}:{port}: {reason}") from exc
    return sock


def _own_command() -> str:
    """The absolute path of this ``mcp-bridge``, so Claude Desktop finds it without our PATH."""
    found = shutil.which("mcp-bridge")
    return str(Path(found).resolve()) if found else str(Path(sys.executable).with_name("mcp-bridge"))


def _retry_delays(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return RetrySchedule.parse(text).delays
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--webhook-retry-delays") from exc


def _limits(
    rate: str | None,
    burst: int | None,
    concurrency: int | None,
    server_limits: tuple[str, ...],
    tool_limits: tuple[str, ...],
) -> LimitSettings:
    """The limits options as settings; a bad one is a usage error naming the option."""
    if burst is not None and rate is None:
        raise click.BadParameter("a burst needs --rate-limit beside it", param_hint="--rate-burst")
    try:
        caller = Limit(None if rate is None else parse_rate(rate, burst, "--rate-limit"), concurrency)
        servers = _named_limits(server_limits, "--server-limit", r"[a-z0-9][a-z0-9-]*")
        tools = _named_limits(tool_limits, "--tool-limit", r"[a-z0-9][a-z0-9-]*\.[^\s=]+")
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    return LimitSettings(caller=caller, servers=servers, tools=tools)


def _named_limits(given: tuple[str, ...], option: str, name_pattern: str) -> dict[str, Limit]:
    found: dict[str, Limit] = {}
    for item in given:
        name, sep, spec = item.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(name_pattern, name):
            shape = "SERVER.TOOL=LIMIT" if option == "--tool-limit" else "SERVER=LIMIT"
            raise ConfigError(f"{option}: {item!r} is not {shape} (a server's name is as in GET /servers)")
        found[name] = parse_limit(spec, f"{option} {name}")
    return found


def _default_registry() -> Path:
    """``$MCP_BRIDGE_REGISTRY``, else ``registry.db`` in the user's XDG data folder."""
    if os.environ.get("MCP_BRIDGE_REGISTRY"):
        return Path(os.environ["MCP_BRIDGE_REGISTRY"])
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "mcp-bridge" / "registry.db"


def _secret(path: Path | None, option: str, variable: str | None = None) -> str | None:
    """A secret from a file (without its trailing newline) or else the environment; never echoed."""
    if path is not None:
        try:
            return read_secret_file(str(path), option) or None
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint=option) from exc
    return (os.environ.get(variable) or None) if variable else None


def _session_secret(path: Path | None) -> str | None:
    secret = _secret(path, "--session-secret-file", "MCP_BRIDGE_SESSION_SECRET")
    if secret is not None and len(secret.encode()) < MIN_SECRET_BYTES:
        too_short = f"the secret must be at least {MIN_SECRET_BYTES} bytes"
        raise click.BadParameter(too_short, param_hint="--session-secret-file")
    return secret


def _auth_line(settings: BridgeSettings, keyed: bool) -> str:
    if settings.oauth.enabled:
        issuer = settings.oauth.issuer or settings.oauth.jwks_url or "an introspection endpoint"
        return f"API key or OAuth 2.0 token (from {issuer}, for {settings.resource_url})"
    return "API key required" if keyed else "open (no key given)"


def _without_query_strings(record: logging.LogRecord) -> bool:
    """uvicorn names a WebSocket's path with its query string, which may hold a stream ticket: cut it."""
    if isinstance(record.args, tuple):
        record.args = tuple(a.partition("?")[0] if isinstance(a, str) and a.startswith("/") else a for a in record.args)
    return True


def _stop_on_signals() -> None:
    """SIGTERM and SIGINT stop the bridge the same way, so upstream children are closed, not orphaned.

    SIGINT is set explicitly: Python leaves it ignored when the process starts with it ignored, as
    a job started in the background by a non-interactive shell does, and then ``kill -INT`` would
    not stop the bridge.
    """

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


if __name__ == "__main__":
    main()
