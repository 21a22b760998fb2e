"""OpenTelemetry traces, when the operator's environment asks for them (the standard OTLP variables).

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` set (and
``OTEL_SDK_DISABLED`` not ``true``), ``Tracing.from_env`` installs the OpenTelemetry SDK's tracer
provider with a batching OTLP/HTTP exporter, which reads the rest of the standard variables itself
(headers, timeout, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``). The SDK is the optional
extra ``mcp-rest-bridge[otel]``; without the variables nothing of it is imported. The HTTP edge
opens a server span per request, continuing the caller's ``traceparent``; the gateway a span per
upstream call; the MCP SDK's own client span (``MCP send tools/call``) nests inside and carries the
trace upstream in the request's ``_meta``, as the SDK does through opentelemetry-api.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from opentelemetry import trace
from opentelemetry.trace import Tracer

from bridge.config import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

__all__ = ["ENDPOINT_VARIABLES", "Tracing"]

ENDPOINT_VARIABLES: Final = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
INSTRUMENTATION: Final = "mcp-rest-bridge"


class Tracing:
    """A tracer provider the bridge installed, its tracer, and its shutdown (which flushes spans)."""

    def __init__(self, provider: TracerProvider, *, owned: bool = True) -> None:
        self.provider = provider
        self.tracer: Tracer = provider.get_tracer(INSTRUMENTATION)
        self._owned = owned

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Tracing | None:
        """Traces exported over OTLP when an endpoint is configured; else None, and nothing imported."""
        if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return None
        if not any(environ.get(name) for name in ENDPOINT_VARIABLES):
            return None
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as exc:
            raise ConfigError(
                "OTEL_EXPORTER_OTLP_ENDPOINT is set, but the OpenTelemetry SDK is not installed:"
                " pip install 'mcp-rest-bridge[otel]'"
            ) from exc
        return cls.with_processor(BatchSpanProcessor(OTLPSpanExporter()))

    @classmethod
    def with_processor(cls, processor: SpanProcessor) -> Tracing:
        """Traces handed to ``processor`` (an exporter's; a test's in-memory one), installed globally so
        the MCP SDK's spans join them."""
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider

        installed = trace.get_tracer_provider()
        if isinstance(installed, TracerProvider):  # OpenTelemetry's provider is set once per process
            installed.add_span_processor(processor)
            return cls(installed, owned=False)
        resource = Resource.create()  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: INSTRUMENTATION}))
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        return cls(provider)

    def close(self) -> None:
        """Export what is still buffered and stop (a provider installed before the bridge is left running)."""
        if self._owned:
            self.provider.shutdown()
        else:
            self.provider.force_flush()
