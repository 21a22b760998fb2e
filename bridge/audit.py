"""The audit log: who changed the bridge's configuration, and who was refused, one JSON line each.

Admin actions (servers registered and removed, webhook subscriptions and their secrets, keys)
and refused requests (401, 403, 429) are recorded with their time, action, subject (the
principal's name, never its credential), request id, target and outcome. Anything may call
``audit``; it writes to the ``bridge.audit`` logger, so the records reach stderr with the other
log lines, and ``--audit-log PATH`` adds a file of JSON lines (``AuditFile``). Field names that
could hold a credential (``key``, ``token``, ``secret``, ``password``, ``authorization``, ...)
are written as ``"[redacted]"``, and URLs lose their user info and query (``safe_url``), so no
secret reaches the log even when a caller passes one by mistake. With neither a file nor
INFO logging, ``audit`` returns after one level check.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import orjson

__all__ = ["DENIED", "REDACTED", "AuditFile", "audit", "safe_url"]

log = logging.getLogger("bridge.audit")

#: Statuses whose answers are audited as refusals.
DENIED: Final = frozenset({401, 403, 429})
REDACTED: Final = "[redacted]"
#: Request ids are the caller's: kept short so a caller cannot flood the log through them.
REQUEST_ID_CHARS: Final = 128
_SECRET_FIELD = re.compile(r"key|token|secret|passw|authoriz|credential|cookie|signature", re.IGNORECASE)
#: Where a record rides on its ``logging.LogRecord`` to the file handler.
_ENTRY = "audit_entry"


def audit(
    event: str,
    subject: str | None,
    request_id: str | None,
    *,
    target: str | None = None,
    outcome: str = "ok",
    **fields: Any,
) -> None:
    """Record ``event`` (an action such as ``server.register``) by ``subject`` on ``target``.

    ``outcome`` is ``"ok"``, or what refused it (``"denied"``, a status such as ``"409"``).
    ``fields`` add details; one whose name suggests a credential is redacted.
    """
    if not log.isEnabledFor(logging.INFO):
        return
    entry: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "action": event,
        "subject": subject,
        "requestId": _clean(request_id[:REQUEST_ID_CHARS]) if request_id else None,
        "target": _clean(target) if target else None,
        "outcome": outcome,
    }
    for name, value in fields.items():
        entry[name] = REDACTED if _SECRET_FIELD.search(name) else value
    log.info(
        "audit %s %s %s by %s",
        event,
        entry["target"] or "-",
        outcome,
        subject or "anonymous",
        extra={_ENTRY: entry},
    )


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment: the parts that may carry a credential."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(not a URL)"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _clean(text: str) -> str:
    """``text`` without control characters, so a caller cannot forge lines in a text log."""
    return "".join(c if c.isprintable() else "?" for c in text)


class AuditFile(logging.Handler):
    """Appends each audit record as one JSON line to a file only its owner may read (``0600``)."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.INFO)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "ab", buffering=0)  # one write per line: lines from threads never interleave

    @classmethod
    def attach(cls, path: Path) -> AuditFile:
        """A handler for ``path`` on the audit logger, which then records at INFO whatever the root's level."""
        handler = cls(path)
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        return handler

    def emit(self, record: logging.LogRecord) -> None:
        entry = getattr(record, _ENTRY, None)
        if entry is None:
            return
        try:
            self._file.write(orjson.dumps(entry, default=str) + b"\n")
        except (OSError, ValueError, TypeError):
            self.handleError(record)

    def detach(self) -> None:
        """Stop recording to the file and close it (the bridge's shutdown)."""
        log.removeHandler(self)
        if not log.handlers:
            log.setLevel(logging.NOTSET)
        self._file.close()
        super().close()

    def close(self) -> None:
        """Kept open: ``logging.config.dictConfig``, which uvicorn calls as the server starts, closes
        every handler there is, while this one stays on its logger; ``detach`` closes it."""
