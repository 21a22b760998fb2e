"""Operations' view of the bridge: request ids and trace context, log lines, metrics, traces.

Below every other layer, so the edges, the gateway and the upstream sessions may all read the
request being served (``current``) and count into ``Metrics``; none of it depends on them.
"""

from bridge.telemetry.context import (
    MAX_REQUEST_ID,
    REQUEST_ID_HEADER,
    REQUEST_ID_META,
    TRACEPARENT,
    RequestContext,
    continue_request,
    current,
    current_request_id,
    named_jsonrpc_error,
    with_request_id,
)
from bridge.telemetry.logs import LOG_FORMATS, JsonFormatter, LogFormat, RequestIdFilter, configure_logging
from bridge.telemetry.metrics import (
    CONTENT_TYPE,
    FanoutCollector,
    Metrics,
    MetricsServer,
    MetricsSources,
    create_registry,
    exposition,
)
from bridge.telemetry.tracing import Tracing

__all__ = [
    "CONTENT_TYPE",
    "LOG_FORMATS",
    "MAX_REQUEST_ID",
    "REQUEST_ID_HEADER",
    "REQUEST_ID_META",
    "TRACEPARENT",
    "FanoutCollector",
    "JsonFormatter",
    "LogFormat",
    "Metrics",
    "MetricsServer",
    "MetricsSources",
    "RequestContext",
    "RequestIdFilter",
    "Tracing",
    "configure_logging",
    "continue_request",
    "create_registry",
    "current",
    "current_request_id",
    "exposition",
    "named_jsonrpc_error",
    "with_request_id",
]
