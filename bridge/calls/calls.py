"""The call store: tool calls that outlive the request that started them.

``Calls.start`` checks a call exactly as a synchronous one is checked, keeps it, and runs it in
its own task on the bridge's loop through ``Gateway.call_tool``, so limits, events and everything
a synchronous call gets still apply. While it runs, its ``CallRelay`` turns what the upstream
sends back into new views: progress, and questions (``ask`` parks a ``Question`` and waits for
``answer``). Reads (``get``, ``list``, ``encoded``) are answered from memory; the ``calls`` table
(written off the loop by the ``StoreWriter``) is what a restart finds, and a call that was running
then is marked failed, cut off, never left working. Retention drops ended calls after a while.

Several instances on one store and one Redis (``peers``, a ``CallPeers``): each runs the calls
started on it and tells the others every new view; a call another instance runs is read,
followed, answered and cancelled through the peers (the async ``find``, ``aencoded``, ``watch``,
``cancel``, ``answer``), and a restarting instance leaves the calls of the live ones alone.

Everything here runs on the bridge's event loop; the plain methods never block.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import orjson

from bridge.errors import (
    UNEXPECTED,
    AsyncCallLimit,
    BridgeError,
    CallCancelled,
    CallCutOff,
    NotFound,
    NotWaitingForInput,
    ResultTooLarge,
    ToolFailed,
)
from bridge.events import CallInputRequired
from bridge.gateway import Gateway
from bridge.model import JSON, Principal
from bridge.store.calls import CallStore
from bridge.store.writer import StoreWriter

from .answers import check_answers
from .model import TERMINAL, CallState, CallView, Progress, Question
from .records import from_record, to_record
from .render import render

__all__ = ["CallLimits", "CallPeers", "Calls", "Completion", "cut_off"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What is told of a call cut off by the bridge stopping (``close``) or dying (found at start-up).
STOPPED = "the bridge stopped while the call was running; whether it finished upstream is unknown"
RESTARTED = (
    "the call was cut off by a restart of the bridge: it was running when the bridge stopped;"
    " whether it finished upstream is unknown"
)
#: Seconds ``cancel`` waits for the upstream call to unwind before answering with the view as it is.
CANCEL_GRACE = 5.0

#: Told of each call that ended and named a callback URL: (the view, the URL). Returns at once.
Completion = Callable[[CallView, str], None]


class CallPeers(Protocol):
    """The other instances' calls, as this one reaches them (``bridge.instances.peers``)."""

    def changed(self, view: CallView) -> None:
        """A new view of a call this instance runs (on the loop; returns at once)."""
        ...

    async def started(self, view: CallView) -> None:
        """The first view of a call this instance runs, told before its caller is answered."""
        ...

    async def running_elsewhere(self, call_ids: Collection[str]) -> set[str]:
        """Those of ``call_ids`` that a live instance other than this one runs."""
        ...

    async def find(self, call_id: str) -> CallView | None:
        """The latest view of a call another instance runs or ran; None if none knows it."""
        ...

    async def of(self, subject: str) -> list[CallView]:
        """The latest view of each call of ``subject``'s that any instance runs or ran, not yet expired."""
        ...

    def watch(self, view: CallView) -> AsyncIterator[CallView]:
        """The views after ``view`` of another instance's call, ending with a terminal one."""
        ...

    async def cancel(self, view: CallView) -> CallView:
        """Have the instance running the call cancel it."""
        ...

    async def answer(self, view: CallView, answers: Mapping[str, JSON]) -> CallView:
        """Hand answers (checked already) to the instance running the call."""
        ...


@dataclass(frozen=True, slots=True)
class CallLimits:
    """How many calls, kept how long, with how large a result."""

    #: Seconds an ended call stays readable.
    retention: float = 24 * 3600.0
    #: Calls running (working or waiting for input) per caller; beyond it, 429.
    per_caller: int = 100
    #: Calls running in the whole bridge; beyond it, 429.
    total: int = 1000
    #: Bytes of a result (as JSON) that are kept; a bigger result fails the call (507).
    max_result: int = 4 * 1024 * 1024
    #: Seconds between two sweeps of expired calls.
    sweep_every: float = 60.0


class _Call:
    """One call's mutable side: its task, its pending questions, and who waits for its next view."""

    __slots__ = (
        "arguments",
        "callback",
        "changed",
        "encoded",
        "ended_by",
        "error",
        "formed",
        "kept_state",
        "pending",
        "principal",
        "questions_asked",
        "request_id",
        "task",
        "view",
    )

    def __init__(
        self, view: CallView, principal: Principal | None, arguments: Mapping[str, Any], request_id: str | None
    ) -> None:
        self.view = view
        self.principal = principal
        self.arguments = arguments
        self.request_id = request_id
        self.callback: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.pending: dict[str, asyncio.Future[JSON]] = {}
        self.questions_asked = 0
        #: Set when the view changes, then replaced; watchers wait on it.
        self.changed = asyncio.Event()
        #: (version, the rendered view as JSON bytes), made on the first read of a version.
        self.encoded: tuple[int, bytes] | None = None
        #: (version, form, what ``form`` made of that version): ``Calls.formed``.
        self.formed: tuple[int, Callable[[CallView, bytes], Any], Any] | None = None
        #: The error a synchronous call would have raised (``run_or_start`` raises it).
        self.error: BridgeError | None = None
        #: Why the task is being cancelled: a caller's DELETE, or the bridge stopping.
        self.ended_by: BridgeError | None = None
        #: The state last written to the store (progress alone is not written).
        self.kept_state: tuple[CallState, frozenset[str]] | None = None


class CallRelay:
    """What flows back from one call's upstream while it runs, into its views (a ``bridge.model.Relay``)."""

    __slots__ = ("_call", "_calls")

    wants_progress = True
    detached = True
    log_level = None
    #: The SDK drives 2026-07-28 input-required rounds itself and asks through ``ask``.
    takes_input_required = False
    input_responses = None
    request_state = None
    declared = None

    def __init__(self, calls: Calls, call: _Call) -> None:
        self._calls = calls
        self._call = call

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        self._calls._change(self._call, progress=Progress(progress, total, message))

    async def log(self, params: JSON) -> None:
        pass  # an asynchronous call keeps no log

    async def ask(self, method: str, params: JSON) -> JSON:
        return await self._calls._ask(self._call, method, params)


class Calls:
    """Asynchronous calls: started, read, answered, cancelled and watched by their callers."""

    def __init__(
        self,
        gateway: Gateway,
        records: CallStore,
        writer: StoreWriter,
        limits: CallLimits = CallLimits(),
        completion: Completion | None = None,
    ) -> None:
        self._gateway = gateway
        self._records = records
        self._writer = writer
        self.limits = limits
        self._completion = completion
        self._calls: dict[str, _Call] = {}
        #: Each subject's calls in the order they were made (dicts keep it).
        self._owned: dict[str, dict[str, _Call]] = {}
        self._running: collections.Counter[str] = collections.Counter()
        self._running_total = 0
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False
        #: The other instances (set before ``open``); None on an instance of its own.
        self.peers: CallPeers | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        """Read the kept calls (those a dead process left running are marked cut off) and start sweeping."""
        now = _now()
        records = await asyncio.to_thread(self._records.load, now.isoformat())
        elsewhere: set[str] = set()
        if self.peers is not None:  # the calls live instances run are theirs, not cut off
            elsewhere = await self.peers.running_elsewhere([r.id for r in records if r.state not in _ENDED])
        for view in sorted((from_record(r) for r in records), key=lambda v: v.created):  # listings: oldest first
            if view.id in elsewhere:
                continue
            call = _Call(view, None, {}, None)
            call.kept_state = (view.state, frozenset(view.questions))  # as it is kept: not written again
            if not view.state.terminal:
                call.view = _ended(view, now, self._expiry(now), problem=CallCutOff(RESTARTED).to_problem())
            self._add(call)
            self._keep(call)
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="calls-sweeper")

    async def close(self) -> None:
        """Mark every running call cut off (the bridge is stopping), and stop its task."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        tasks = []
        for call in list(self._calls.values()):
            if call.task is not None and not call.task.done():
                call.ended_by = CallCutOff(STOPPED)
                call.task.cancel()
                tasks.append(call.task)
        if tasks:
            await asyncio.wait(tasks, timeout=CANCEL_GRACE)

    # -- starting ------------------------------------------------------------------------------

    async def start(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        *,
        principal: Principal,
        request_id: str | None = None,
        callback: str | None = None,
        where: str = "/body",
    ) -> CallView:
        """Check the call as a synchronous one is checked, keep it, start it; its first view (working)."""
        self._gateway.check_tool_call(server, tool, arguments, where, principal)
        subject = principal.subject
        if self._closed:
            raise CallCutOff(STOPPED)
        if self._running[subject] >= self.limits.per_caller:
            raise AsyncCallLimit(
                f"this caller has {self.limits.per_caller} asynchronous calls running, its limit",
                policy="caller-async-calls",
                quota=self.limits.per_caller,
            )
        if self._running_total >= self.limits.total:
            raise AsyncCallLimit(
                f"the bridge has {self.limits.total} asynchronous calls running, its limit",
                policy="async-calls",
                quota=self.limits.total,
            )
        now = _now()
        view = CallView(
            id=secrets.token_urlsafe(16),
            subject=subject,
            server=server,
            tool=tool,
            state=CallState.WORKING,
            created=now,
            updated=now,
            progress=None,
            questions={},
            result=None,
            problem=None,
            expires=self._expiry(now),
            version=1,
        )
        call = _Call(view, principal, arguments, request_id)
        call.callback = callback
        self._add(call)
        self._running[subject] += 1
        self._running_total += 1
        self._keep(call)
        if self.peers is not None:  # before the caller has its id: any instance it asks knows the call
            await self.peers.started(view)
        call.task = asyncio.create_task(self._run(call), name=f"call-{view.id}")
        return view

    async def run_or_start(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        *,
        principal: Principal,
        wait: float,
        request_id: str | None = None,
        callback: str | None = None,
        where: str = "/body",
    ) -> tuple[JSON | None, CallView | None]:
        """The synchronous answer when the call ends within ``wait`` seconds (its error raised as a
        synchronous call raises it), else its view: (result, None) or (None, view). A call that
        asks a question meanwhile is answered with its view at once: the caller must answer it."""
        view = await self.start(
            server, tool, arguments, principal=principal, request_id=request_id, callback=callback, where=where
        )
        call = self._calls[view.id]
        deadline = asyncio.get_running_loop().time() + wait
        while call.view.state is CallState.WORKING:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            try:
                async with asyncio.timeout(left):  # not wait_for: on 3.11 it can lose the caller's cancel
                    await call.changed.wait()
            except TimeoutError:
                break
        view = call.view
        if view.state is CallState.COMPLETED:
            return view.result, None
        if view.state.terminal and call.error is not None:
            raise call.error
        return None, view

    # -- reading -------------------------------------------------------------------------------

    def get(self, call_id: str, principal: Principal) -> CallView:
        """The call's latest view; 404 for an unknown call and for another caller's, alike."""
        return self._own(call_id, principal).view

    def encoded(self, call_id: str, principal: Principal) -> tuple[CallView, bytes]:
        """The latest view and its REST rendering as JSON bytes, made once per version."""
        call = self._own(call_id, principal)
        view = call.view
        cached = call.encoded
        if cached is None or cached[0] != view.version:
            cached = (view.version, orjson.dumps(render(view)))
            call.encoded = cached
        return view, cached[1]

    def formed(self, call_id: str, principal: Principal, form: Callable[[CallView, bytes], T]) -> T:
        """``form(view, json)`` of the call's latest view (``encoded``), made once per version: what
        an edge answers a poll with, so that a poll of an unchanged call makes nothing anew. One
        ``form`` per call is kept (give the same object each time)."""
        call = self._calls.get(call_id)  # ``_own``, inline: this is every poll's one look-up
        if call is None or call.view.subject != principal.subject:
            raise NotFound(f"no call {call_id!r}")
        kept = call.formed
        version = call.view.version
        if kept is not None and kept[0] == version and kept[1] is form:
            made: T = kept[2]
            return made
        view, body = self.encoded(call_id, principal)
        made = form(view, body)
        call.formed = (version, form, made)
        return made

    async def find(self, call_id: str, principal: Principal) -> CallView:
        """The call's latest view, wherever it runs; 404 for an unknown call and for another caller's, alike."""
        call = self._calls.get(call_id)
        if call is not None or self.peers is None:
            return self._own(call_id, principal).view
        view = await self.peers.find(call_id)
        if view is None or view.subject != principal.subject:
            raise NotFound(f"no call {call_id!r}")
        return view

    async def aencoded(self, call_id: str, principal: Principal) -> tuple[CallView, bytes]:
        """``encoded``, for a call that may run on another instance."""
        if call_id in self._calls or self.peers is None:
            return self.encoded(call_id, principal)
        view = await self.find(call_id, principal)
        return view, orjson.dumps(render(view))

    def list(
        self, principal: Principal, *, state: CallState | None = None, limit: int = 100, after: str | None = None
    ) -> list[CallView]:
        """The caller's own calls made here, newest first; ``after`` a call id, to page on past it."""
        owned = self._owned.get(principal.subject) or {}
        return _page((owned[call_id].view for call_id in reversed(owned)), state, limit, after)

    async def alist(
        self, principal: Principal, *, state: CallState | None = None, limit: int = 100, after: str | None = None
    ) -> Sequence[CallView]:
        """``list``, with the caller's calls made on every other instance too (newest first by when
        each was made): what a caller behind a balancer sees does not depend on the instance asked."""
        if self.peers is None:
            return self.list(principal, state=state, limit=limit, after=after)
        views = {view.id: view for view in await self.peers.of(principal.subject)}
        views.update((call_id, call.view) for call_id, call in (self._owned.get(principal.subject) or {}).items())
        newest_first = sorted(views.values(), key=lambda view: (view.created, view.id), reverse=True)
        return _page(newest_first, state, limit, after)

    async def watch(self, call_id: str, principal: Principal) -> AsyncGenerator[CallView, None]:
        """The current view at once, then each later one (intermediate ones may be skipped when they
        come faster than they are read), ending after a terminal view."""
        if call_id not in self._calls and self.peers is not None:
            view = await self.find(call_id, principal)
            yield view
            if not view.state.terminal:
                async for later in self.peers.watch(view):
                    yield later
            return
        call = self._own(call_id, principal)
        view = call.view
        yield view
        while not view.state.terminal:
            if call.view.version == view.version:
                await call.changed.wait()
            view = call.view
            yield view

    # -- acting on a call ----------------------------------------------------------------------

    async def cancel(self, call_id: str, principal: Principal) -> CallView:
        """Cancel the call upstream; a call that has ended is returned as it is."""
        if call_id not in self._calls and self.peers is not None:
            view = await self.find(call_id, principal)
            return view if view.state.terminal else await self.peers.cancel(view)
        call = self._own(call_id, principal)
        task = call.task
        if call.view.state.terminal or task is None or task.done():
            return call.view
        call.ended_by = CallCancelled(
            f"the call to tool {call.view.server}.{call.view.tool} was cancelled by its caller"
        )
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_GRACE)
        return call.view

    async def answer(
        self, call_id: str, principal: Principal, answers: Mapping[str, JSON], *, where: str = "/body"
    ) -> CallView:
        """Answer some or all of the call's pending questions; it goes on once none is left."""
        remote = call_id not in self._calls and self.peers is not None
        view = await self.find(call_id, principal) if remote else self._own(call_id, principal).view
        if view.state is not CallState.INPUT_REQUIRED:
            raise NotWaitingForInput(f"the call is {view.state.value}, not waiting for input")
        check_answers(view.questions, answers, where)
        if self.peers is not None and remote:
            return await self.peers.answer(view, answers)
        call = self._own(call_id, principal)
        left = {qid: q for qid, q in view.questions.items() if qid not in answers}
        self._change(call, questions=left, state=CallState.INPUT_REQUIRED if left else CallState.WORKING)
        for qid, answer in answers.items():
            future = call.pending.pop(qid, None)
            if future is not None and not future.done():
                future.set_result(dict(answer))
        return call.view

    # -- inside ----------------------------------------------------------------------------------

    def _own(self, call_id: str, principal: Principal) -> _Call:
        call = self._calls.get(call_id)
        if call is None or call.view.subject != principal.subject:
            raise NotFound(f"no call {call_id!r}")
        return call

    def _add(self, call: _Call) -> None:
        self._calls[call.view.id] = call
        self._owned.setdefault(call.view.subject, {})[call.view.id] = call

    def _expiry(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.limits.retention)

    def _change(self, call: _Call, **changes: Any) -> None:
        """A new view with ``changes``; watchers are woken, and a new state is kept."""
        view = call.view
        if view.state.terminal:
            return
        now = _now()
        call.view = replace(view, **changes, updated=now, expires=self._expiry(now), version=view.version + 1)
        changed, call.changed = call.changed, asyncio.Event()
        changed.set()
        if self.peers is not None:
            self.peers.changed(call.view)
        if call.view.state is not view.state or call.view.questions is not view.questions:
            self._keep(call)

    def _keep(self, call: _Call) -> None:
        view = call.view
        kept = (view.state, frozenset(view.questions))
        if kept == call.kept_state:
            return
        call.kept_state = kept
        self._writer.submit(CallStore.put(to_record(view)))

    async def _ask(self, call: _Call, method: str, params: JSON) -> JSON:
        call.questions_asked += 1
        question = Question(f"q{call.questions_asked}", method, params)
        future: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        call.pending[question.id] = future
        self._change(call, state=CallState.INPUT_REQUIRED, questions={**call.view.questions, question.id: question})
        bus = self._gateway.bus
        if bus.wants(CallInputRequired):
            view = call.view
            bus.publish(
                CallInputRequired(
                    server=view.server,
                    tool=view.tool,
                    call_id=view.id,
                    subject=view.subject,
                    request_id=call.request_id,
                    questions=tuple(
                        {"id": q.id, "method": q.method, "params": q.params} for q in view.questions.values()
                    ),
                )
            )
        try:
            return await future
        finally:
            call.pending.pop(question.id, None)

    async def _run(self, call: _Call) -> None:
        view = call.view
        principal = call.principal
        assert principal is not None  # only calls started here run
        result: JSON | None = None
        error: BridgeError | None = None
        try:
            result = await self._gateway.call_tool(
                view.server,
                view.tool,
                call.arguments,
                principal=principal,
                relay=CallRelay(self, call),
                request_id=call.request_id,
            )
            if len(orjson.dumps(result)) > self.limits.max_result:
                error, result = _too_large(self.limits.max_result), None
        except ToolFailed as failed:
            error, result = failed, failed.result
        except BridgeError as bridge_error:
            error = bridge_error
        except asyncio.CancelledError:
            error = call.ended_by or CallCutOff(STOPPED)
        except Exception:  # a bug in the bridge: logged with its traceback, kept without internals
            log.exception("async call %s to %s.%s failed unexpectedly", view.id, view.server, view.tool)
            error = BridgeError(UNEXPECTED)
        finally:
            self._running[view.subject] -= 1
            if self._running[view.subject] <= 0:
                del self._running[view.subject]
            self._running_total -= 1
        self._end(call, result, error)

    def _end(self, call: _Call, result: JSON | None, error: BridgeError | None) -> None:
        call.error = error
        for future in call.pending.values():
            future.cancel()
        call.pending.clear()
        if error is None:
            state = CallState.COMPLETED
        elif isinstance(error, CallCancelled):
            state = CallState.CANCELLED
        else:
            state = CallState.FAILED
        self._change(
            call,
            state=state,
            questions={},
            result=result,
            problem=None if error is None else error.to_problem(),
        )
        call.principal, call.arguments, call.task = None, {}, None  # nothing an ended call needs
        if call.callback is not None and self._completion is not None:
            self._completion(call.view, call.callback)

    async def _sweep_forever(self) -> None:
        # A retention shorter than the sweep's period is swept as often as it runs out.
        while True:
            await asyncio.sleep(min(self.limits.sweep_every, self.limits.retention))
            self.sweep()

    def sweep(self) -> int:
        """Drop the ended calls past their expiry, here and in the store; how many were dropped."""
        now = _now()
        expired = [c for c in self._calls.values() if c.view.state in TERMINAL and c.view.expires <= now]
        for call in expired:
            del self._calls[call.view.id]
            owned = self._owned.get(call.view.subject)
            if owned is not None:
                owned.pop(call.view.id, None)
                if not owned:
                    del self._owned[call.view.subject]
        self._writer.submit(CallStore.sweep(now.isoformat()))
        return len(expired)


_ENDED = frozenset(state.value for state in TERMINAL)


def cut_off(view: CallView, detail: str, retention: float) -> CallView:
    """``view`` ended as a call cut off (``CallCutOff``, with ``detail``), now."""
    now = _now()
    return _ended(view, now, now + timedelta(seconds=retention), problem=CallCutOff(detail).to_problem())


def _now() -> datetime:
    return datetime.now(UTC)


def _ended(view: CallView, now: datetime, expires: datetime, *, problem: JSON) -> CallView:
    return replace(
        view,
        state=CallState.FAILED,
        questions={},
        problem=problem,
        updated=now,
        expires=expires,
        version=view.version + 1,
    )


def _too_large(cap: int) -> ResultTooLarge:
    return ResultTooLarge(
        f"the tool's result is over the {cap} bytes this bridge keeps of an asynchronous call's result;"
        " call the tool synchronously for results this large"
    )


def _page(views: Iterable[CallView], state: CallState | None, limit: int, after: str | None) -> list[CallView]:
    """Up to ``limit`` of ``views`` (in their order) in ``state`` (any, if None), from past the call ``after``."""
    found: list[CallView] = []
    skipping = after is not None
    for view in views:
        if skipping:
            skipping = view.id != after
            continue
        if state is None or view.state is state:
            found.append(view)
            if len(found) >= limit:
                break
    return found
