"""A call's view to and from the row that keeps it (``bridge.store.calls``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from bridge.store.calls import CallRecord

from .model import CallState, CallView, Progress, Question

__all__ = ["from_record", "to_record"]


def to_record(view: CallView) -> CallRecord:
    progress = view.progress
    document: dict[str, Any] = {
        "server": view.server,
        "tool": view.tool,
        "created": view.created.isoformat(),
        "updated": view.updated.isoformat(),
        "progress": None if progress is None else [progress.progress, progress.total, progress.message],
        "questions": [[q.id, q.method, q.params] for q in view.questions.values()],
        "result": view.result,
        "problem": view.problem,
    }
    return CallRecord(
        id=view.id,
        subject=view.subject,
        state=view.state.value,
        version=view.version,
        expires_at=view.expires.isoformat(),
        document=orjson.dumps(document).decode(),
    )


def from_record(record: CallRecord) -> CallView:
    document = orjson.loads(record.document)
    progress = document.get("progress")
    return CallView(
        id=record.id,
        subject=record.subject,
        server=document["server"],
        tool=document["tool"],
        state=CallState(record.state),
        created=datetime.fromisoformat(document["created"]),
        updated=datetime.fromisoformat(document["updated"]),
        progress=None if progress is None else Progress(*progress),
        questions={q[0]: Question(q[0], q[1], q[2]) for q in document.get("questions", [])},
        result=document.get("result"),
        problem=document.get("problem"),
        expires=datetime.fromisoformat(record.expires_at),
        version=record.version,
    )
