"""Log lines that name their request: a filter that stamps each record, text or JSON lines.

``RequestIdFilter`` sits on the handler, so every record that reaches it, from whatever logger
(the bridge's, uvicorn's, the MCP SDK's), carries ``request_id``: the id of the request being
served where the record was made (``bridge.telemetry.context``), or ``-``. ``--log-format json``
writes one JSON object per line (``JsonFormatter``) for log shippers; ``text`` stays readable.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Final, Literal

import orjson

from bridge.telemetry.context import current

__all__ = ["LOG_FORMATS", "JsonFormatter", "LogFormat", "RequestIdFilter", "configure_logging"]

LogFormat = Literal["text", "json"]
LOG_FORMATS: Final = ("text", "json")
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
#: What a record outside any request shows for its id.
NO_REQUEST: Final = "-"


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request it was made for (``request_id``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            context = current.get()
            record.request_id = NO_REQUEST if context is None else context.request_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, request id, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "requestId": getattr(record, "request_id", NO_REQUEST),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str, log_format: LogFormat = "text") -> logging.Handler:
    """The root logger at ``level``, writing to stderr in ``log_format``, each line with its request id."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    return handler
