"""What an asynchronous call is, as its callers see it: immutable views, one per change.

A call's state moves ``working`` ⇄ ``input_required`` and ends in ``completed``, ``failed`` or
``cancelled``. Every change makes a new ``CallView`` with a higher ``version``; the edges render
views (``GET /calls/{id}``, its event stream, MCP tasks) and never see the mutable call behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bridge.model import JSON

__all__ = ["TERMINAL", "CallState", "CallView", "Progress", "Question"]


class CallState(StrEnum):
    WORKING = "working"
    INPUT_REQUIRED = "input_required"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


#: The states a call never leaves.
TERMINAL = frozenset({CallState.COMPLETED, CallState.FAILED, CallState.CANCELLED})


@dataclass(frozen=True, slots=True)
class Question:
    """Something the upstream asked the caller mid-call, waiting for an answer."""

    #: Opaque, minted by the bridge, unique within the call ("q1", "q2", ...).
    id: str
    #: ``elicitation/create``, ``sampling/createMessage`` or ``roots/list``.
    method: str
    #: The request's params in wire shape, as the upstream sent them.
    params: JSON


@dataclass(frozen=True, slots=True)
class Progress:
    progress: float
    total: float | None
    message: str | None


@dataclass(frozen=True, slots=True)
class CallView:
    """One call at one version; a new one after every change."""

    #: URL-safe and unguessable; also the MCP ``taskId``.
    id: str
    #: Whose call it is (the principal's subject): callers see only their own.
    subject: str
    server: str
    tool: str
    state: CallState
    created: datetime
    updated: datetime
    #: The latest the upstream reported.
    progress: Progress | None
    #: Pending questions only (empty unless ``input_required``).
    questions: Mapping[str, Question]
    #: ``completed``: the REST tool result; ``failed`` by the tool (``isError``): the tool's result too.
    result: JSON | None
    #: ``failed`` / ``cancelled``: the RFC 9457 problem the synchronous call would have answered.
    problem: JSON | None
    #: When retention drops it.
    expires: datetime
    #: Bumped on every change (ETags, SSE ids).
    version: int
