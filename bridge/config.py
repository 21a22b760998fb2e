"""Configuration as data: which upstream servers to front, and how the bridge itself runs.

Upstreams come in the Claude Desktop format, so an existing ``claude_desktop_config.json``
works as is::

    {"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
        "remote": {"url": "https://example/mcp", "type": "streamable-http",
                   "headers": {"Authorization": "Bearer ${TOKEN}"}}}}

``${VAR}`` (or ``${VAR:-default}``) is expanded from the environment given to the loader; nothing
here reads the environment on import.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "DEFAULT_OAUTH_ALGORITHMS",
    "DEFAULT_OAUTH_LEEWAY",
    "BridgeSettings",
    "ConfigError",
    "Cpus",
    "OAuthSettings",
    "ServerConfig",
    "Transport",
    "demo_server",
    "load_servers",
    "normalize_server_name",
    "parse_cpus",
    "parse_servers",
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

#: Signatures an access token may carry unless the operator says otherwise: public-key ones only,
#: so a key the bridge holds can never sign a token (HMAC needs ``OAuthSettings.hmac_secret``).
DEFAULT_OAUTH_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
#: Seconds a token's ``exp``/``nbf``/``iat`` may be off: clocks of issuer and bridge drift a little.
DEFAULT_OAUTH_LEEWAY = 30.0

SERVER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_TRANSPORT_ALIASES: Mapping[str, Transport] = {
    "stdio": "stdio",
    "streamable-http": "streamable-http",
    "streamable_http": "streamable-http",
    "streamableHttp": "streamable-http",
    "http": "streamable-http",
    "sse": "sse",
}


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """One upstream MCP server, as the operator configured it."""

    name: str
    transport: Transport
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: "auto" probes the newest revision and falls back; "legacy" or a revision pins it.
    protocol: str = "auto"
    #: Seconds per call; None until the bridge fills in its own ``--timeout`` (an explicit value wins).
    call_timeout: float | None = None
    #: CPUs a stdio child (and whatever it starts) may run on; None leaves the scheduler free (Linux).
    cpus: Cpus | None = None

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
    #: The token scopes (``scope``/``scp`` claims) that grant the bridge's ``use`` and ``admin``;
    #: an empty admin scope means no token may manage the bridge.
    use_scope: str = "use"
    admin_scope: str = "admin"
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
    #: Registering a stdio server runs a command on this host: off unless the operator allows it.
    allow_stdio_registration: bool = False
    max_body: int = DEFAULT_MAX_BODY
    call_timeout: float = DEFAULT_CALL_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    #: Worker threads for REST calls: each in-flight call holds one while it waits upstream.
    threads: int = 32
    #: The event log keeps at most this many events, none older than ``event_log_age`` seconds.
    event_log_count: int = 10_000
    event_log_age: float = 24 * 3600.0
    #: Include calls' params and results in events for every subscriber allowed to see them.
    event_payloads: bool = False
    #: Keep every call's events in the log, not only while a stream, socket or webhook follows them.
    log_all_calls: bool = False
    #: Origins (``https://app.example``) whose browser pages may open the WebSocket and the event
    #: stream, besides the bridge's own origin.
    allowed_origins: tuple[str, ...] = ()
    #: Webhook URLs may point at loopback, private and link-local addresses (refused by default).
    allow_private_webhooks: bool = False
    #: A webhook subscription made at start (the integration guide's ``WEBHOOK_URL``), and its
    #: signing secret (``WEBHOOK_SECRET``; when missing, one is made and never logged: rotate it
    #: over REST to be shown one).
    webhook_url: str | None = None
    webhook_secret: str | None = None
    #: Seconds between a webhook delivery's attempts (None: the default schedule, about a day).
    webhook_retry_delays: tuple[float, ...] | None = None
    #: The URL callers reach the bridge by: its OAuth resource identifier, and where its protected
    #: resource metadata is. None: ``http://{host}:{port}``.
    public_url: str | None = None
    oauth: OAuthSettings = field(default_factory=OAuthSettings)

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


def _expand(value: Any, environ: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            var, default = match.group(1), match.group(2)
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
    if transport == "stdio":
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
        )
    if "cpus" in entry:
        raise ConfigError(f"{where}.cpus applies to stdio servers only (a child process the bridge starts)")
    url = entry.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.url must be an http:// or https:// URL")
    return ServerConfig(
        name=name,
        transport=transport,
        url=url,
        headers=_str_map(entry.get("headers"), f"{where}.headers"),
        protocol=protocol,
        call_timeout=None if timeout is None else float(timeout),
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
