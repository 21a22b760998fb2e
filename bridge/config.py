"""Configuration as data: which upstream servers to front, and how the bridge itself runs.

Upstreams come in the Claude Desktop format, so an existing ``claude_desktop_config.json``
works as is::

    {"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
        "remote": {"url": "https://example/mcp", "type": "streamable-http",
                   "headers": {"Authorization": "Bearer ${TOKEN}"}}}}

``${VAR}`` (or ``${VAR:-default}``, or ``${env:VAR}``) is expanded from the environment given to
the loader, and ``${file:/path}`` from a file's text (its trailing newline dropped, as secrets
mounted by Docker or Kubernetes end), so no secret has to be written into the config itself.
Nothing here reads the environment on import.

Besides static ``headers``, an HTTP server may have an ``authentication`` object, in the same
shapes as a registration over REST (bearer token, headers, or OAuth 2.0 client credentials, with
``tokenFile``/``clientSecretFile`` for secrets kept in files), and an ``identity`` object saying
what the upstream is told of each caller (``upstream_credentials`` parses both).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import limits

__all__ = [
    "CLIENT_AUTH_METHODS",
    "DEFAULT_CALL_TIMEOUT",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "DEFAULT_OAUTH_ALGORITHMS",
    "DEFAULT_OAUTH_LEEWAY",
    "DEFAULT_SHUTDOWN_GRACE",
    "DEFAULT_STORE_POOL",
    "BridgeSettings",
    "ClientCredentials",
    "ConfigError",
    "Cpus",
    "Limit",
    "LimitSettings",
    "OAuthSettings",
    "Rate",
    "ServerConfig",
    "Transport",
    "default_registry_path",
    "demo_server",
    "load_servers",
    "normalize_server_name",
    "parse_cpus",
    "parse_limit",
    "parse_rate",
    "parse_servers",
    "upstream_credentials",
]

Transport = Literal["stdio", "streamable-http", "sse"]
#: CPU numbers a stdio child is held to, or "auto": one CPU, the one with fewest such children.
Cpus = tuple[int, ...] | Literal["auto"]

#: A tool call that takes longer is answered 504; long enough for real tools, short enough
#: that a hung upstream never holds a caller for minutes.
DEFAULT_CALL_TIMEOUT = 60.0
#: Bodies above this are refused with 413 before they are read: 10 MiB fits any sane tool argument.
DEFAULT_MAX_BODY = 10 * 1024 * 1024
#: Connecting includes starting a child process, which for npx/uvx servers can take seconds.
DEFAULT_CONNECT_TIMEOUT = 30.0
#: A dead instance's webhook deliveries are taken over within about this many seconds, while
#: renewing its leases (every third of it) costs a live one an UPDATE every ten seconds.
DEFAULT_DELIVERY_LEASE = 30.0
#: Connections a bridge may hold to a PostgreSQL store at once.
DEFAULT_STORE_POOL = 10

#: Signatures an access token may carry unless the operator says otherwise: public-key ones only,
#: so a key the bridge holds can never sign a token (HMAC needs ``OAuthSettings.hmac_secret``).
DEFAULT_OAUTH_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
#: Seconds a token's ``exp``/``nbf``/``iat`` may be off: clocks of issuer and bridge drift a little.
DEFAULT_OAUTH_LEEWAY = 30.0
#: Seconds calls in flight may take to finish once the bridge is told to stop: under the 30 s
#: systemd and Kubernetes give a service to stop before killing it, with time left to stop children.
DEFAULT_SHUTDOWN_GRACE = 20.0

SERVER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
#: ``${VAR}``, ``${VAR:-default}``, ``${env:VAR}`` and ``${file:/path}``.
_VAR = re.compile(r"\$\{(?:(env|file):([^}]+)|([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?)\}")
#: A header name as RFC 9110 has it (a token), for the caller's subject header.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
#: How the bridge authenticates at a token endpoint: HTTP Basic (RFC 6749's default) or form fields.
CLIENT_AUTH_METHODS = ("basic", "post")
_TRANSPORT_ALIASES: Mapping[str, Transport] = {
    "stdio": "stdio",
    "streamable-http": "streamable-http",
    "streamable_http": "streamable-http",
    "streamableHttp": "streamable-http",
    "http": "streamable-http",
    "sse": "sse",
}


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why (never a secret's value)."""


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """OAuth 2.0 client credentials (RFC 6749 §4.4): the bridge gets the upstream's access token itself."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    #: Space-separated scopes to ask for; None asks for the client's default.
    scope: str | None = None
    #: The ``audience`` form field some authorization servers (Auth0, Okta) want.
    audience: str | None = None
    #: The RFC 8707 ``resource`` indicator: the upstream the token is meant for.
    resource: str | None = None
    client_auth: Literal["basic", "post"] = "basic"


# -- limits ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` requests per ``seconds``, of which at most ``burst`` at once (None: all ``count``)."""

    count: int
    seconds: int
    burst: int | None = None


@dataclass(frozen=True, slots=True)
class Limit:
    """How much of something one key (a caller, a server, a tool) may use: a rate, calls in flight."""

    rate: Rate | None = None
    concurrency: int | None = None


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """Every limit the operator set; nothing set, nothing is counted.

    ``caller``'s rate counts each request a caller (a principal's subject) sends, its concurrency
    the calls it has upstream at once; ``servers`` and ``tools`` (``server.tool``) count the calls
    going to them, whoever sends them.
    """

    caller: Limit = Limit()
    servers: Mapping[str, Limit] = field(default_factory=dict)
    tools: Mapping[str, Limit] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.caller != Limit() or bool(self.servers) or bool(self.tools)

    def including(self, configured: Sequence[ServerConfig]) -> LimitSettings:
        """These limits with the config file's under them: a server or tool set here keeps its own."""
        servers = {c.name: c.limit for c in configured if c.limit is not None}
        tools = {f"{c.name}.{tool}": limit for c in configured for tool, limit in c.tool_limits.items()}
        return replace(self, servers={**servers, **self.servers}, tools={**tools, **self.tools})


def parse_rate(text: str, burst: int | None = None, where: str = "rate") -> Rate:
    """``"100/minute"`` (or ``"5 per 2 seconds"``, as the ``limits`` library reads them), with a burst."""
    try:
        item = limits.parse(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: {text!r} is not a rate such as 100/minute or 10/second") from exc
    if item.amount < 1:
        raise ConfigError(f"{where}: {text!r} allows nothing; give at least 1 per period")
    if burst is not None:
        if burst < 1:
            raise ConfigError(f"{where}: a burst must be at least 1 (got {burst})")
        # A burst is kept as "at most `burst` in any burst/rate seconds": the window must be a whole second at least.
        if burst * item.get_expiry() < item.amount:
            per_second = -(-item.amount // item.get_expiry())
            raise ConfigError(
                f"{where}: a burst of {burst} at {text} passes in under a second; give a burst of at least {per_second}"
            )
    return Rate(item.amount, item.get_expiry(), burst)


def _positive(raw: Any, where: str) -> int:
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise ConfigError(f"{where} must be a positive whole number (got {raw!r})")
    return raw


def parse_limit(text: str, where: str) -> Limit:
    """A limit as the command line gives it: ``10/second``, ``burst=5``, ``concurrent=4``, comma-separated."""
    rate: str | None = None
    burst: int | None = None
    concurrency: int | None = None
    for part in (p.strip() for p in text.split(",")):
        key, sep, value = part.partition("=")
        if not sep:
            rate = part
        elif key.strip() == "burst":
            burst = _positive(value, f"{where}: burst")
        elif key.strip() == "concurrent":
            concurrency = _positive(value, f"{where}: concurrent")
        else:
            raise ConfigError(f"{where}: {part!r} is not a rate (10/second), burst=N or concurrent=N")
    if rate is None and burst is not None:
        raise ConfigError(f"{where}: a burst needs a rate beside it (10/second,burst=5)")
    if rate is None and concurrency is None:
        raise ConfigError(f"{where}: give a rate (10/second), concurrent=N, or both")
    return Limit(None if rate is None else parse_rate(rate, burst, where), concurrency)


def _limit_from_entry(raw: Any, where: str) -> Limit:
    """A config file's limit: ``{"rate": "10/second", "burst": 5, "concurrent": 4}``, each optional."""
    if not isinstance(raw, dict) or not raw or set(raw) - {"rate", "burst", "concurrent"}:
        raise ConfigError(f'{where} must be an object of "rate", "burst" and "concurrent"')
    rate = raw.get("rate")
    if rate is not None and not isinstance(rate, str):
        raise ConfigError(f"{where}.rate must be a string such as 10/second")
    burst = None if raw.get("burst") is None else _positive(raw["burst"], f"{where}.burst")
    if rate is None and burst is not None:
        raise ConfigError(f"{where}.burst needs a rate beside it")
    concurrency = None if raw.get("concurrent") is None else _positive(raw["concurrent"], f"{where}.concurrent")
    return Limit(None if rate is None else parse_rate(rate, burst, f"{where}.rate"), concurrency)


def _server_limits(raw: Any, where: str) -> tuple[Limit | None, dict[str, Limit]]:
    """A server entry's ``"limits"``: its own, and ``"tools"`` naming limits per tool."""
    if raw is None:
        return None, {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be an object")
    tools_raw = raw.get("tools", {})
    if not isinstance(tools_raw, dict):
        raise ConfigError(f"{where}.tools must be an object of tool names")
    tools = {name: _limit_from_entry(entry, f"{where}.tools.{name}") for name, entry in tools_raw.items()}
    own = {k: v for k, v in raw.items() if k != "tools"}
    return (_limit_from_entry(own, where) if own else None), tools


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """One upstream MCP server, as the operator configured it."""

    name: str
    transport: Transport
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold secrets
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold secrets
    #: "auto" probes the newest revision and falls back; "legacy" or a revision pins it.
    protocol: str = "auto"
    #: Seconds per call; None until the bridge fills in its own ``--timeout`` (an explicit value wins).
    call_timeout: float | None = None
    #: CPUs a stdio child (and whatever it starts) may run on; None leaves the scheduler free (Linux).
    cpus: Cpus | None = None
    #: The config file's ``"limits"``: for the whole server, and per tool (by the server's own tool name).
    limit: Limit | None = None
    tool_limits: Mapping[str, Limit] = field(default_factory=dict)
    #: HTTP servers: the bridge's own token for the upstream, fetched and renewed (beside ``headers``).
    oauth: ClientCredentials | None = None
    #: HTTP servers: a header carrying the caller's principal subject on the requests made for it.
    subject_header: str | None = None
    #: Streamable HTTP servers: the caller's own bearer token goes upstream instead of the bridge's
    #: (the operator's choice in the config file only, never a registration's).
    forward_caller_token: bool = False

    @property
    def identifies_caller(self) -> bool:
        """Requests made for a caller carry something of it (its subject, or its token)."""
        return self.subject_header is not None or self.forward_caller_token

    @property
    def timeout(self) -> float:
        """The call timeout in force (the bridge fills ``call_timeout`` in before a server starts)."""
        return DEFAULT_CALL_TIMEOUT if self.call_timeout is None else self.call_timeout

    def describe_target(self) -> str:
        """Where the server lives, without secrets (headers and env values are never shown)."""
        if self.transport == "stdio":
            return " ".join([self.command or "", *self.args]).strip()
        return self.url or ""


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    """How the bridge takes OAuth 2.0 access tokens as a resource server (off while no source of
    keys is given: no issuer, JWKS URL, introspection endpoint or HMAC secret)."""

    #: The authorization server's issuer identifier: tokens' ``iss`` must equal it, and its
    #: metadata (OIDC discovery or RFC 8414) names the JWKS and introspection endpoints.
    issuer: str | None = None
    #: Where the signing keys are, when not found by discovery.
    jwks_url: str | None = None
    #: The ``aud`` values that mean this bridge (RFC 8707); empty: the bridge's public URL.
    audiences: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = DEFAULT_OAUTH_ALGORITHMS
    leeway: float = DEFAULT_OAUTH_LEEWAY
    #: RFC 7662 endpoint for opaque tokens, and the bridge's own client credentials there.
    introspection_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    #: A shared secret for HS256/384/512 tokens; only with it are HMAC signatures accepted.
    hmac_secret: bytes | None = field(default=None, repr=False)
    #: The token scopes (``scope``/``scp`` claims) that grant the bridge's ``use``, ``admin`` and
    #: ``destructive``; an empty one means no token is granted that (``use`` always has a name).
    use_scope: str = "use"
    admin_scope: str = "admin"
    destructive_scope: str = "destructive"
    #: A claim listing what the caller may use (``server.*``, ``server.tool``); a token without it,
    #: or a bridge without this, is limited by scopes only.
    allow_claim: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.issuer or self.jwks_url or self.introspection_url or self.hmac_secret)


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    """How the bridge process serves."""

    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: tuple[str, ...] = ()
    #: Keys that may also register and remove servers.
    admin_keys: tuple[str, ...] = ()
    #: Where servers registered over REST are kept; None keeps them in memory only.
    registry_path: str | None = None
    #: Connections to a PostgreSQL store this bridge may hold at once (a SQLite file takes none).
    store_pool: int = DEFAULT_STORE_POOL
    #: Registering a stdio server runs a command on this host: off unless the operator allows it.
    allow_stdio_registration: bool = False
    max_body: int = DEFAULT_MAX_BODY
    call_timeout: float = DEFAULT_CALL_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    #: Worker threads for REST calls: each in-flight call holds one while it waits upstream.
    threads: int = 32
    #: Serve MCP clients' common requests on ``/mcp`` on the loop (``bridge.endpoint.lean``); off: all by the SDK.
    mcp_lean_path: bool = True
    #: The event log keeps at most this many events, none older than ``event_log_age`` seconds.
    event_log_count: int = 10_000
    event_log_age: float = 24 * 3600.0
    #: Seconds a tool call's answer is kept for its caller's ``Idempotency-Key`` (a day: any client's retries).
    idempotency_ttl: float = 24 * 3600.0
    #: Include calls' params and results in events for every subscriber allowed to see them.
    event_payloads: bool = False
    #: Keep every call's events in the log, not only while a stream, socket or webhook follows them.
    log_all_calls: bool = False
    #: Origins (``https://app.example``) whose browser pages may use the bridge (CORS) besides the
    #: bridge's own origin; none by default, so CORS is off.
    allowed_origins: tuple[str, ...] = ()
    #: Names besides loopback ones a loopback-bound bridge answers to in ``Host`` (DNS rebinding).
    allowed_hosts: tuple[str, ...] = ()
    #: Webhook URLs may point at loopback, private and link-local addresses (refused by default).
    allow_private_webhooks: bool = False
    #: Servers registered over REST may be at loopback and private addresses (refused by default;
    #: link-local and cloud-metadata addresses are refused even so).
    allow_private_upstreams: bool = False
    #: A file the audit log (admin actions, refusals) is appended to as JSON lines; None: stderr only.
    audit_log: str | None = None
    #: A webhook subscription made at start (the integration guide's ``WEBHOOK_URL``), and its
    #: signing secret (``WEBHOOK_SECRET``; when missing, one is made and never logged: rotate it
    #: over REST to be shown one).
    webhook_url: str | None = None
    webhook_secret: str | None = None
    #: Seconds between a webhook delivery's attempts (None: the default schedule, about a day).
    webhook_retry_delays: tuple[float, ...] | None = None
    #: Seconds a webhook delivery stays leased to the instance attempting it unless renewed: how
    #: soon another instance sharing the store takes over the deliveries of one that died.
    delivery_lease: float = DEFAULT_DELIVERY_LEASE
    #: Rate and concurrency limits per caller, server and tool (none by default).
    limits: LimitSettings = LimitSettings()
    #: Redis (``redis://host:port/db``) for what several bridges share: the limits' counters, events, calls.
    #: None keeps them in this process.
    redis_url: str | None = None
    #: Tools annotated ``destructiveHint: true`` are only for keys with the ``destructive`` scope
    #: (keys from the command line and the environment have it; stored keys only when given it).
    destructive_scope: bool = True
    #: The URL callers reach the bridge by: its OAuth resource identifier, and where its protected
    #: resource metadata is. None: ``http://{host}:{port}``.
    public_url: str | None = None
    oauth: OAuthSettings = field(default_factory=OAuthSettings)
    #: Asynchronous calls (``Prefer: respond-async``): seconds an ended call stays readable, calls
    #: running per caller and in all, and the bytes of a result kept (a bigger one fails the call).
    call_retention: float = 24 * 3600.0
    call_limit_per_caller: int = 100
    call_limit_total: int = 1000
    call_max_result: int = 4 * 1024 * 1024
    #: What asynchronous calls' completion callbacks (``Callback-Url``) are signed with, as webhook
    #: deliveries are; None: callbacks are refused (nothing to sign them with).
    callback_secret: str | None = field(default=None, repr=False)
    #: Seconds calls in flight may take to finish after SIGTERM or SIGINT; past them, 503.
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE
    #: Request ids, trace context and metrics (``GET /metrics`` for admins); off only to measure their cost.
    telemetry: bool = True
    #: ``HOST:PORT`` serving ``/metrics`` without auth, for a private network's Prometheus; None: not served.
    metrics_address: str | None = None
    #: What handshake-era MCP session ids are sealed with, the same on every instance behind one
    #: balancer so that any of them revives a session another opened; None: a key of this process's own.
    session_secret: str | None = field(default=None, repr=False)

    @property
    def resource_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @staticmethod
    def keys_from_env(environ: Mapping[str, str], variable: str = "MCP_BRIDGE_API_KEYS") -> tuple[str, ...]:
        raw = environ.get(variable, "")
        return tuple(k.strip() for k in raw.split(",") if k.strip())


def normalize_server_name(name: str) -> str:
    """Map a Claude Desktop entry name ("My_Server") onto our URL-safe rule ("my-server")."""
    slug = re.sub(r"[^a-z0-9-]+", "-", name.strip().lower()).strip("-")
    slug = re.sub(r"-{2,}", "-", slug)[:63]
    if not SERVER_NAME.match(slug):
        raise ConfigError(f"server name {name!r} has no usable characters (allowed: a-z, 0-9, '-')")
    return slug


def read_secret_file(path: str, where: str) -> str:
    """A secret kept in a file: its text without the trailing newline; the error names the file, never its text."""
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: the file {path} is not UTF-8 text") from exc


def _expand(value: Any, environ: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            kind, target, var, default = match.groups()
            if kind == "file":
                return read_secret_file(target, where)
            var = target if kind == "env" else var
            if var in environ:
                return environ[var]
            if default is not None:
                return default
            raise ConfigError(f"{where}: environment variable {var} is not set")

        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [_expand(v, environ, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _expand(v, environ, f"{where}.{k}") for k, v in value.items()}
    return value


def _str_map(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise ConfigError(f"{where} must be an object of strings")
    return dict(raw)


def parse_cpus(raw: Any, where: str) -> Cpus | None:
    """A stdio child's CPU set, as with ``taskset -c``: CPU numbers of this machine, or "auto".

    They need not be among the bridge's own (an operator may keep the bridge on one CPU and its
    servers on others); a CPU outside the bridge's cpuset is refused by the kernel at start.
    """
    if raw is None:
        return None
    if raw != "auto" and (
        not isinstance(raw, list) or not raw or not all(isinstance(c, int) and not isinstance(c, bool) for c in raw)
    ):
        raise ConfigError(f'{where} must be a non-empty list of CPU numbers, or "auto"')
    if not hasattr(os, "sched_setaffinity"):
        raise ConfigError(f"{where}: pinning a server to CPUs needs Linux")
    if raw == "auto":
        return "auto"
    count = os.cpu_count() or 1
    if outside := sorted(c for c in set(raw) if not 0 <= c < count):
        raise ConfigError(f"{where}: this machine has no CPUs {outside} (it has 0 to {count - 1})")
    return tuple(sorted(set(raw)))


def _server_from_entry(raw_name: str, entry: Any, environ: Mapping[str, str]) -> ServerConfig | None:
    where = f"mcpServers.{raw_name}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be an object")
    if entry.get("disabled") is True:
        return None
    entry = _expand(entry, environ, where)
    name = normalize_server_name(raw_name)
    kind = entry.get("type") or entry.get("transport") or ("stdio" if "command" in entry else None)
    if kind is None:
        kind = "streamable-http" if "url" in entry else None
    if not isinstance(kind, str) or kind not in _TRANSPORT_ALIASES:
        raise ConfigError(f"{where}: give a 'command' (stdio) or a 'url' with type 'streamable-http' or 'sse'")
    transport = _TRANSPORT_ALIASES[kind]
    timeout = entry.get("timeout")  # absent: the bridge's --timeout
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
        raise ConfigError(f"{where}.timeout must be a positive number of seconds")
    protocol = entry.get("protocol", "auto")
    if not isinstance(protocol, str):
        raise ConfigError(f"{where}.protocol must be a string")
    limit, tool_limits = _server_limits(entry.get("limits"), f"{where}.limits")
    if transport == "stdio":
        for http_only in ("authentication", "identity"):
            if http_only in entry:
                raise ConfigError(f"{where}.{http_only} applies to HTTP servers only (stdio servers take env)")
        command = entry.get("command")
        args = entry.get("args", [])
        if not isinstance(command, str) or not command:
            raise ConfigError(f"{where}.command must be a non-empty string")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ConfigError(f"{where}.args must be a list of strings")
        cwd = entry.get("cwd")
        return ServerConfig(
            name=name,
            transport=transport,
            command=command,
            args=tuple(args),
            env=_str_map(entry.get("env"), f"{where}.env"),
            cwd=cwd if isinstance(cwd, str) else None,
            protocol=protocol,
            call_timeout=None if timeout is None else float(timeout),
            cpus=parse_cpus(entry.get("cpus"), f"{where}.cpus"),
            limit=limit,
            tool_limits=tool_limits,
        )
    if "cpus" in entry:
        raise ConfigError(f"{where}.cpus applies to stdio servers only (a child process the bridge starts)")
    url = entry.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.url must be an http:// or https:// URL")
    headers = _str_map(entry.get("headers"), f"{where}.headers")
    extra, oauth, subject_header, forward = upstream_credentials(entry, where, files=True)
    if forward and transport != "streamable-http":
        raise ConfigError(f"{where}.identity.forwardCallerToken needs a streamable-http server")
    return ServerConfig(
        name=name,
        transport=transport,
        url=url,
        headers={**headers, **extra},
        protocol=protocol,
        call_timeout=None if timeout is None else float(timeout),
        limit=limit,
        tool_limits=tool_limits,
        oauth=oauth,
        subject_header=subject_header,
        forward_caller_token=forward,
    )


def upstream_credentials(
    entry: Mapping[str, Any], where: str, *, files: bool
) -> tuple[dict[str, str], ClientCredentials | None, str | None, bool]:
    """An HTTP server's ``authentication`` and ``identity``: extra headers, client credentials,
    the subject header, and whether the caller's token is forwarded.

    ``files`` allows ``tokenFile`` and ``clientSecretFile`` (read here, once) and forwarding
    callers' tokens: both for the operator's config file only. A registration over REST may
    neither read the bridge host's files nor collect every caller's credentials.
    """
    headers: dict[str, str] = {}
    oauth: ClientCredentials | None = None
    auth = entry.get("authentication")
    here = f"{where}.authentication"
    if auth is not None:
        if not isinstance(auth, dict):
            raise ConfigError(f"{here} must be an object")
        kind = auth.get("type")
        if kind == "bearer":
            headers["Authorization"] = "Bearer " + _secret(auth, "token", here, files=files)
        elif kind == "headers":
            headers.update(_str_map(auth.get("headers"), f"{here}.headers"))
        elif kind == "oauth2-client-credentials":
            oauth = _client_credentials(auth, here, files=files)
        else:
            raise ConfigError(f'{here}.type must be "bearer", "headers" or "oauth2-client-credentials"')
    identity = entry.get("identity")
    here = f"{where}.identity"
    if identity is None:
        return headers, oauth, None, False
    if not isinstance(identity, dict) or not set(identity) <= {"subjectHeader", "forwardCallerToken"}:
        raise ConfigError(f"{here} must be an object with subjectHeader and forwardCallerToken only")
    subject_header = identity.get("subjectHeader")
    if subject_header is not None and (not isinstance(subject_header, str) or not _HEADER_NAME.match(subject_header)):
        raise ConfigError(f"{here}.subjectHeader must be a header name")
    if subject_header is not None and subject_header.lower() == "authorization":
        raise ConfigError(f"{here}.subjectHeader cannot be Authorization (see forwardCallerToken)")
    forward = identity.get("forwardCallerToken", False)
    if not isinstance(forward, bool):
        raise ConfigError(f"{here}.forwardCallerToken must be true or false")
    if forward and not files:
        raise ConfigError(f"{here}.forwardCallerToken can be set in the bridge's config file only")
    return headers, oauth, subject_header, forward


def _secret(raw: Mapping[str, Any], key: str, where: str, *, files: bool) -> str:
    """A secret given as ``key`` or, where files are allowed, as ``keyFile`` (exactly one)."""
    file_key = key + "File"
    if file_key in raw and not files:
        raise ConfigError(f"{where}.{file_key}: secrets from files can be named in the bridge's config file only")
    if (key in raw) == (file_key in raw):
        raise ConfigError(f"{where} needs exactly one of {key} and {file_key}" if files else f"{where} needs {key}")
    if file_key in raw:
        path = raw[file_key]
        if not isinstance(path, str) or not path:
            raise ConfigError(f"{where}.{file_key} must be a file path")
        value = read_secret_file(path, f"{where}.{file_key}")
    else:
        value = raw[key]
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key} must be a non-empty string")
    return value


def _client_credentials(raw: Mapping[str, Any], where: str, *, files: bool) -> ClientCredentials:
    token_url = raw.get("tokenUrl")
    if not isinstance(token_url, str) or not token_url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.tokenUrl must be an http:// or https:// URL")
    client_id = raw.get("clientId")
    if not isinstance(client_id, str) or not client_id:
        raise ConfigError(f"{where}.clientId must be a non-empty string")
    optional: dict[str, str | None] = {}
    for key in ("scope", "audience", "resource"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{where}.{key} must be a string")
        optional[key] = value or None
    client_auth = raw.get("clientAuth", "basic")
    if client_auth not in CLIENT_AUTH_METHODS:
        raise ConfigError(f'{where}.clientAuth must be "basic" or "post"')
    return ClientCredentials(
        token_url=token_url,
        client_id=client_id,
        client_secret=_secret(raw, "clientSecret", where, files=files),
        scope=optional["scope"],
        audience=optional["audience"],
        resource=optional["resource"],
        client_auth=client_auth,
    )


def parse_servers(document: Any, environ: Mapping[str, str]) -> list[ServerConfig]:
    """Servers from a parsed Claude Desktop style document."""
    if not isinstance(document, dict) or not isinstance(document.get("mcpServers"), dict):
        raise ConfigError('the config must be an object with an "mcpServers" object')
    servers: list[ServerConfig] = []
    seen: dict[str, str] = {}
    for raw_name, entry in document["mcpServers"].items():
        server = _server_from_entry(raw_name, entry, environ)
        if server is None:
            continue
        if server.name in seen:
            raise ConfigError(f"servers {seen[server.name]!r} and {raw_name!r} both map to the name {server.name!r}")
        seen[server.name] = raw_name
        servers.append(server)
    return servers


def load_servers(path: Path, environ: Mapping[str, str]) -> list[ServerConfig]:
    """Servers from a config file on disk."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config {path} is not valid JSON: line {exc.lineno}: {exc.msg}") from exc
    return parse_servers(document, environ)


def demo_server() -> ServerConfig:
    """The bundled demo server, started as a stdio child with this interpreter."""
    return ServerConfig(name="demo", transport="stdio", command=sys.executable, args=("-m", "bridge.demo"))


def default_registry_path(environ: Mapping[str, str]) -> str:
    """Where ``serve`` and ``keys`` keep their store: ``$MCP_BRIDGE_REGISTRY`` (a path or a
    database URL, kept as text: a ``Path`` would fold ``postgresql://`` into one slash), else
    ``registry.db`` in the user's XDG data folder."""
    if environ.get("MCP_BRIDGE_REGISTRY"):
        return environ["MCP_BRIDGE_REGISTRY"]
    data = Path(environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return str(data / "mcp-bridge" / "registry.db")
