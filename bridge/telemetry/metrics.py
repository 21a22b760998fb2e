"""What ``GET /metrics`` reports, counted cheaply where it happens and read at scrape time.

``Metrics`` holds plain counters and fixed-bucket histograms, written only on the event loop's
thread (the gateway, the HTTP edge), so no lock is taken on the hot path and a labelled series
is one dict entry. What the bridge knows anyway (upstream states, open sockets, the outbox) is not
counted at all: ``MetricsCollector`` asks for it when Prometheus scrapes, and renders everything
with prometheus-client's own families, in its text format.

The series (all prefixed ``mcp_bridge_``): tool calls by server, tool and status; the upstream's
time per call (by server) and the bridge's own time per request (its time less the upstream's);
calls in flight; upstream states and reconnects; webhook deliveries by status (the outbox depth
is ``status="pending"``); event streams and WebSockets open; requests refused for a limit (429).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest, start_http_server
from prometheus_client.registry import Collector

from bridge.config import ConfigError

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

__all__ = [
    "CONTENT_TYPE",
    "STATES",
    "FanoutCollector",
    "FanoutState",
    "Histogram",
    "Metrics",
    "MetricsCollector",
    "MetricsServer",
    "MetricsSources",
    "create_registry",
    "exposition",
]

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
PREFIX: Final = "mcp_bridge_"
#: Upper bounds (seconds): a bridge's own time is often under a millisecond, an upstream's up to a call timeout.
BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Every state an upstream can be in (``bridge.model.ServerState``): each is a series, 1 for the current one.
STATES: Final = ("connecting", "ready", "degraded", "down")
#: A name no caller chose, for a call refused before its server or tool was known to exist.
UNKNOWN: Final = "(unknown)"


class Histogram:
    """Counts per bucket and a sum; ``observe`` is a bisection and two additions."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)  # the last: above every bound (+Inf only)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.sum += seconds

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative counts by ``le``, as Prometheus wants them."""
        counts = list(self.counts)  # one copy: a scrape from another thread sees one moment
        total = 0
        cumulative: list[tuple[str, float]] = []
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), counts, strict=True):
            total += count
            cumulative.append((bound, total))
        return cumulative


@dataclass
class Metrics:
    """The counters the bridge keeps itself; written on the event loop only."""

    #: (server, tool, status) → calls; status is the HTTP status the call was answered with.
    calls: dict[tuple[str, str, str], int] = field(default_factory=dict)
    upstream: dict[str, Histogram] = field(default_factory=dict)
    own: Histogram = field(default_factory=Histogram)
    in_flight: int = 0
    rate_limited: int = 0
    streams: int = 0
    sockets: int = 0
    reconnects: dict[str, int] = field(default_factory=dict)
    _last_state: dict[str, str] = field(default_factory=dict)

    def call_ended(self, server: str, tool: str, status: int) -> None:
        key = (server, tool, str(status))
        calls = self.calls
        calls[key] = calls.get(key, 0) + 1

    def upstream_time(self, server: str, seconds: float) -> None:
        histogram = self.upstream.get(server)
        if histogram is None:
            histogram = self.upstream[server] = Histogram()
        histogram.observe(seconds)

    def state_changed(self, server: str, state: str) -> None:
        """Counts a reconnect when a server that was down (or reconnecting) is serving again."""
        before = self._last_state.get(server)
        self._last_state[server] = state
        if state in ("ready", "degraded") and before in ("down", "connecting") and server in self.reconnects:
            self.reconnects[server] += 1
        elif state in ("ready", "degraded"):
            self.reconnects.setdefault(server, 0)


@dataclass(frozen=True)
class MetricsSources:
    """What is read at scrape time rather than counted: each a callable the bridge wires."""

    #: Server → its state now.
    states: Callable[[], Mapping[str, str]]
    #: Webhook deliveries by status (``pending`` is the outbox depth); None without a store to ask.
    deliveries: Callable[[], Mapping[str, int]] | None = None


class MetricsCollector(Collector):
    """Renders ``Metrics`` and the ``MetricsSources`` as Prometheus families on each scrape."""

    def __init__(self, metrics: Metrics, sources: MetricsSources) -> None:
        self._metrics = metrics
        self._sources = sources

    def collect(self) -> Iterator[Metric]:
        m = self._metrics
        calls = CounterMetricFamily(PREFIX + "tool_calls", "Tool calls answered", labels=("server", "tool", "status"))
        for (server, tool, status), count in list(m.calls.items()):
            calls.add_metric((server, tool, status), count)
        yield calls
        upstream = HistogramMetricFamily(
            PREFIX + "upstream_seconds", "Time an upstream took to answer a tool call", labels=("server",)
        )
        for server, histogram in list(m.upstream.items()):
            upstream.add_metric((server,), histogram.buckets(), histogram.sum)
        yield upstream
        own = HistogramMetricFamily(
            PREFIX + "own_seconds", "The bridge's own time per request: its whole time less the upstream's"
        )
        own.add_metric((), m.own.buckets(), m.own.sum)
        yield own
        yield GaugeMetricFamily(PREFIX + "tool_calls_in_flight", "Tool calls waiting on an upstream", m.in_flight)
        yield from self._upstreams()
        yield CounterMetricFamily(
            PREFIX + "rate_limited", "Requests refused for a rate or concurrency limit (429)", m.rate_limited
        )
        yield GaugeMetricFamily(PREFIX + "event_streams_open", "Event streams (SSE) open", m.streams)
        yield GaugeMetricFamily(PREFIX + "websockets_open", "WebSockets open", m.sockets)
        if self._sources.deliveries is not None:
            deliveries = GaugeMetricFamily(
                PREFIX + "webhook_deliveries",
                "Webhook deliveries kept, by status (pending: the outbox depth; delivered, failed: outcomes)",
                labels=("status",),
            )
            for status, count in sorted(self._sources.deliveries().items()):
                deliveries.add_metric((status,), count)
            yield deliveries

    def _upstreams(self) -> Iterator[Metric]:
        states = GaugeMetricFamily(
            PREFIX + "upstream_state", "1 for each upstream's current state", labels=("server", "state")
        )
        for server, now in sorted(self._sources.states().items()):
            for state in STATES:
                states.add_metric((server, state), 1 if state == now else 0)
        yield states
        reconnects = CounterMetricFamily(
            PREFIX + "upstream_reconnects", "Times an upstream was serving again after it was lost", labels=("server",)
        )
        for server, count in sorted(self._metrics.reconnects.items()):
            reconnects.add_metric((server,), count)
        yield reconnects


class FanoutState(Protocol):
    """What an instance sharing its events through Redis tells of them (``bridge.instances.RedisFanout``)."""

    @property
    def settle(self) -> float: ...

    late: int


class FanoutCollector(Collector):
    """The fan-out's settling time now and its late events, for a bridge run with ``--redis-url``."""

    def __init__(self, fanout: FanoutState) -> None:
        self._fanout = fanout

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            PREFIX + "event_settle_seconds",
            "How long events wait for the other instances' events made before them (grows when theirs come late)",
            self._fanout.settle,
        )
        yield CounterMetricFamily(
            PREFIX + "events_late",
            "Other instances' events that came after newer ones had gone to live followers (those skip them)",
            self._fanout.late,
        )


def create_registry(metrics: Metrics, sources: MetricsSources) -> CollectorRegistry:
    """A registry of the bridge's series and the process's own (CPU, memory, open files)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetricsCollector(metrics, sources))
    ProcessCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry's series in Prometheus text format."""
    return generate_latest(registry)


@dataclass
class MetricsServer:
    """``/metrics`` on an address of its own, without auth: prometheus-client's server, on its own thread."""

    server: WSGIServer
    thread: threading.Thread

    @classmethod
    def start(cls, address: str, registry: CollectorRegistry) -> MetricsServer:
        """Serving ``registry`` on ``address`` (``HOST:PORT``, ``[::1]:PORT``); ConfigError when it cannot."""
        host, _, port = address.rpartition(":")
        try:
            server, thread = start_http_server(int(port), host.strip("[]") or "127.0.0.1", registry)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot serve metrics on {address!r}: {exc}") from exc
        return cls(server, thread)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
