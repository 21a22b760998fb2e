"""Asynchronous tool calls: calls kept as resources, read, answered and cancelled by their callers.

Between the edges that serve them (``/calls`` on the REST API, MCP tasks on ``/mcp``) and the
gateway that runs them. Modules, one job each:

- ``model``: ``CallState``, ``CallView`` and what a view holds (``Question``, ``Progress``)
- ``calls``: ``Calls``, the call store, and ``CallRelay``, what flows back from a running call
- ``answers``: checking a caller's answers to a call's questions
- ``render``: a view as the REST API shows it; ``records``: a view to and from its stored row
"""

from bridge.calls.calls import CallLimits, CallPeers, CallRelay, Calls, Completion, cut_off
from bridge.calls.model import TERMINAL, CallState, CallView, Progress, Question
from bridge.calls.records import from_record, to_record
from bridge.calls.render import render

__all__ = [
    "TERMINAL",
    "CallLimits",
    "CallPeers",
    "CallRelay",
    "CallState",
    "CallView",
    "Calls",
    "Completion",
    "Progress",
    "Question",
    "cut_off",
    "from_record",
    "render",
    "to_record",
]
