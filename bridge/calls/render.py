"""A call's view as the REST API shows it (the ``Call`` schema of the spec).

Times are RFC 3339 in UTC; ``questions`` is a list (each with its ``id``, to answer by);
``result`` and ``problem`` appear once the call has ended, as the synchronous call would have
answered them. The subject is not shown: a caller only ever sees its own calls.
"""

from __future__ import annotations

from datetime import datetime

from bridge.model import JSON

from .model import CallView

__all__ = ["render", "timestamp"]


def timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render(view: CallView) -> JSON:
    body: JSON = {
        "id": view.id,
        "server": view.server,
        "tool": view.tool,
        "state": view.state.value,
        "created": timestamp(view.created),
        "updated": timestamp(view.updated),
        "expires": timestamp(view.expires),
        "version": view.version,
    }
    if view.progress is not None:
        progress = view.progress
        body["progress"] = {
            "progress": progress.progress,
            **({"total": progress.total} if progress.total is not None else {}),
            **({"message": progress.message} if progress.message is not None else {}),
        }
    if view.questions:
        body["questions"] = [{"id": q.id, "method": q.method, "params": q.params} for q in view.questions.values()]
    if view.result is not None:
        body["result"] = view.result
    if view.problem is not None:
        body["problem"] = view.problem
    return body
