"""Which servers the gateway fronts: those of the config file, and those registered over REST.

A registration is checked, connected and listed before it is kept; one that cannot be reached
or does not speak MCP is refused (422) and leaves nothing behind. An HTTP server's URL must not
lead the bridge into its own network (SSRF, ``bridge.addresses``): link-local and cloud-metadata
addresses are refused always, loopback and private ones unless the operator allows them
(``--allow-private-upstreams``); 400 pointing at ``/body/url``. Kept registrations come back
on restart. Config-file servers win a name clash and cannot be removed over REST. A server
without a ``timeout`` of its own gets the bridge's default (``--timeout``) when it starts, from
the config file and over REST alike, and keeps none in the store, so a later default applies.

Several instances may share the store: ``follow_store`` makes this one serve what the store
holds now (another instance registered, removed or changed a server), connecting the new,
dropping the removed and restarting the changed. A name this instance is registering or removing
right now is left to that operation.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import urlsplit

from bridge.addresses import AddressRefused, check_addresses, check_host_name
from bridge.config import DEFAULT_CALL_TIMEOUT, ConfigError, Cpus, ServerConfig, parse_cpus, upstream_credentials
from bridge.errors import AlreadyExists, FieldError, Forbidden, NotFound, RequestInvalid, Unprocessable
from bridge.gateway.ports import Upstreams
from bridge.store import RegistrationStore

__all__ = ["ServerRegistry", "Source"]

log = logging.getLogger(__name__)
Source = Literal["config", "registry"]
#: The flag that lets registrations name loopback and private addresses, named in refusals.
PRIVATE_OPTION = "serve --allow-private-upstreams"
_TRANSPORTS = {"streamable-http": "streamable-http", "http": "streamable-http", "sse": "sse", "stdio": "stdio"}


class ServerRegistry:
    """Adds, restores and removes upstream servers."""

    def __init__(
        self,
        upstreams: Upstreams,
        store: RegistrationStore,
        *,
        allow_stdio: bool,
        connect_timeout: float,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        allow_private: bool = False,
    ) -> None:
        self.upstreams = upstreams
        self.store = store
        self.allow_stdio = allow_stdio
        #: Registrations may name loopback and private addresses (never link-local or metadata ones).
        self.allow_private = allow_private
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self._sources: dict[str, Source] = {}
        #: Names this instance is registering or removing now: ``follow_store`` leaves them be.
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def source(self, name: str) -> Source:
        return self._sources.get(name, "config")

    def _started(self, config: ServerConfig) -> ServerConfig:
        """``config`` as it runs: with the bridge's call timeout unless it has its own."""
        return config if config.call_timeout is not None else replace(config, call_timeout=self.call_timeout)

    async def start(self, configured: Sequence[ServerConfig]) -> None:
        """Start the config file's servers and every kept registration that does not clash."""
        for config in configured:
            await self.upstreams.add(self._started(config))
            self._sources[config.name] = "config"
        for config in self.store.load():
            if config.name in self._sources:
                log.warning("registered server %s is shadowed by the config file's server of that name", config.name)
                continue
            await self.upstreams.add(self._started(config))
            self._sources[config.name] = "registry"

    async def register(self, body: Mapping[str, Any]) -> str:
        config = self._config(body)
        if config.url is not None:
            await self._check_url(config.url)
        with self._lock:
            if config.name in self.upstreams.names() or config.name in self._sources:
                raise AlreadyExists(f"a server named {config.name!r} exists already")
            self._sources[config.name] = "registry"  # the name is taken from here on
            self._busy.add(config.name)
        try:
            try:
                await self.upstreams.add(self._started(config))
                await self.upstreams.wait_connected([config.name], self.connect_timeout)
            except BaseException:
                await self._forget(config.name)
                raise
            status = self.upstreams.status(config.name)
            if status.state != "ready":
                await self._forget(config.name)
                reason = status.last_error or "no MCP handshake"
                raise Unprocessable(f"server {config.name!r} could not be reached as an MCP server: {reason}")
            self.store.save(config)
        finally:
            self._busy.discard(config.name)
        log.info("registered server %s (%s)", config.name, config.transport)
        return config.name

    async def unregister(self, name: str) -> None:
        if name not in self.upstreams.names():
            raise NotFound(f"no server named {name!r}")
        if self.source(name) == "config":
            raise AlreadyExists(f"server {name!r} comes from the configuration file; remove it there")
        self._busy.add(name)
        try:
            await self._forget(name)
            self.store.delete(name)
        finally:
            self._busy.discard(name)
        log.info("removed server %s", name)

    async def follow_store(self) -> tuple[list[ServerConfig], list[str]]:
        """Serve the registrations the store holds now; the servers added and the names removed.

        What to do is decided from one read of the store and the names claimed (or let go) before
        the first wait, so a registration made here meanwhile sees them taken.
        """
        kept = {config.name: config for config in self.store.load()}
        added: list[ServerConfig] = []
        removed: list[str] = []
        changed: list[ServerConfig] = []
        with self._lock:
            for name, config in kept.items():
                if name in self._busy or self._sources.get(name) == "config":
                    continue
                if name not in self._sources:
                    self._sources[name] = "registry"
                    added.append(config)
                elif self._running(name) not in (None, self._started(config)):
                    changed.append(config)
            for name, source in list(self._sources.items()):
                if source == "registry" and name not in kept and name not in self._busy:
                    del self._sources[name]
                    removed.append(name)
        for name in removed:
            with contextlib.suppress(NotFound):
                await self.upstreams.remove(name)
            log.info("removed server %s: another instance removed it", name)
        for config in changed:
            with contextlib.suppress(NotFound):
                await self.upstreams.remove(config.name)
            await self.upstreams.add(self._started(config))
            log.info("restarted server %s: another instance changed it", config.name)
        for config in added:
            await self.upstreams.add(self._started(config))
            log.info("serving server %s (%s): another instance registered it", config.name, config.transport)
        return added, removed

    def _running(self, name: str) -> ServerConfig | None:
        try:
            return self.upstreams.config(name)
        except NotFound:
            return None

    async def _check_url(self, url: str) -> None:
        """400 at ``/body/url`` when ``url`` leads to an address a registration may not name."""
        try:
            try:
                parts = urlsplit(url)
                host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError as exc:
                raise AddressRefused(f"not a usable URL: {exc}") from exc
            if not host:
                raise AddressRefused("the URL names no host")
            check_host_name(host)
            found = await self.upstreams.resolve(host, port)
            check_addresses(
                host, found, allow_private=self.allow_private, allow_link_local=False, option=PRIVATE_OPTION
            )
        except AddressRefused as exc:
            raise RequestInvalid(f"the server's URL is refused: {exc}", [FieldError("/body/url", str(exc))]) from exc

    async def _forget(self, name: str) -> None:
        with self._lock:
            self._sources.pop(name, None)
        with contextlib.suppress(NotFound):
            await self.upstreams.remove(name)

    def _config(self, body: Mapping[str, Any]) -> ServerConfig:
        """A ServerConfig from an already schema-checked registration body."""
        transport = _TRANSPORTS[body["transport"]]
        timeout = float(body["timeout"]) if "timeout" in body else None
        protocol = str(body.get("protocol", "auto"))
        if transport == "stdio":
            if not self.allow_stdio:
                raise Forbidden(
                    "registering stdio servers is disabled: it runs a command on the bridge's host "
                    "(the operator can allow it with --allow-stdio-registration)"
                )
            if "command" not in body:
                raise RequestInvalid("a stdio server needs a command", [FieldError("/body/command", "required")])
            return ServerConfig(
                name=body["name"],
                transport="stdio",
                command=body["command"],
                args=tuple(body.get("args", ())),
                env=dict(body.get("env", {})),
                cwd=body.get("cwd"),
                call_timeout=timeout,
                protocol=protocol,
                cpus=_cpus(body.get("cpus")),
            )
        for stdio_only in ("cwd", "cpus"):
            if stdio_only in body:
                problem = "applies to stdio servers only (a child process the bridge starts)"
                raise RequestInvalid(f"{stdio_only} {problem}", [FieldError(f"/body/{stdio_only}", problem)])
        if "url" not in body:
            raise RequestInvalid(f"a {transport} server needs a url", [FieldError("/body/url", "required")])
        try:
            headers, oauth, subject_header, _ = upstream_credentials(body, "body", files=False)
        except ConfigError as exc:
            field = "identity" if str(exc).startswith("body.identity") else "authentication"
            raise RequestInvalid(str(exc), [FieldError(f"/body/{field}", str(exc))]) from exc
        return ServerConfig(
            name=body["name"],
            transport=transport,  # type: ignore[arg-type]
            url=body["url"],
            headers=headers,
            call_timeout=timeout,
            protocol=protocol,
            oauth=oauth,
            subject_header=subject_header,
        )


def _cpus(raw: Any) -> Cpus | None:
    """The registration's ``cpus``, checked as the config file's are; a problem points at it."""
    try:
        return parse_cpus(raw, "cpus")
    except ConfigError as exc:
        raise RequestInvalid(str(exc), [FieldError("/body/cpus", str(exc))]) from exc
