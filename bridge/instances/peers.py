"""Asynchronous calls across instances: each runs its own; any reads, follows, answers and cancels.

The instance running a call (its owner) writes each new view of it, progress included (which
the store does not keep), to ``mcp-bridge:call:{id}`` with its own id beside it, and publishes
it on the channel of that name. The others read a call there, or in the shared store once its
key has lapsed (``ENDED_TTL`` after the call ended), and follow it on its channel. Cancel and
answers go to the owner's channel (``bridge.instances.instance``) with a channel for the reply;
the owner acts as if its own caller had asked and replies with the new view or the problem.

A call whose owner is gone (its heartbeat lapsed, nobody hears its channel, or no key names an
owner) is cut off as a restart cuts it off: whoever finds it so marks it failed, in Redis and in
the store (a newer version than any its owner wrote), and a cancel or an answer sent to it is
refused with 503 (``call-cut-off``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from collections.abc import AsyncIterator, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import redis.asyncio
from redis.exceptions import RedisError

from bridge.calls import Calls, CallView, cut_off, from_record, to_record
from bridge.calls.calls import CANCEL_GRACE
from bridge.errors import UNEXPECTED, BridgeError, CallCutOff, NotFound, NotWaitingForInput
from bridge.model import JSON, Principal
from bridge.store.calls import CallRecord, CallStore
from bridge.store.writer import StoreWriter

from .instance import LAPSE, PREFIX, Instance, ended

__all__ = ["ENDED_TTL", "GONE", "RedisCallPeers"]

log = logging.getLogger(__name__)

CALL = PREFIX + "call:"
REPLY = PREFIX + "reply:"
#: Seconds an ended call's view stays in Redis; the store keeps it after that.
ENDED_TTL = 600
#: Seconds to wait for the owner's reply: its cancel waits up to ``CANCEL_GRACE`` for the upstream.
ASK_TIMEOUT = CANCEL_GRACE + 5.0
#: What is told of a call whose instance is gone.
GONE = (
    "the call was cut off: the bridge instance running it stopped or cannot be reached;"
    " whether it finished upstream is unknown"
)
#: The errors an owner's reply may carry, by problem type: those ``cancel`` and ``answer`` raise.
_REPLIED: dict[str, type[BridgeError]] = {cls.slug: cls for cls in (NotFound, NotWaitingForInput, CallCutOff)}


class RedisCallPeers:
    """This instance's calls told to the others, and theirs reached from here (a ``bridge.calls.CallPeers``)."""

    def __init__(self, calls: Calls, instance: Instance, records: CallStore, writer: StoreWriter) -> None:
        self._calls = calls
        self._instance = instance
        self._client = instance.client
        self._records = records
        self._writer = writer
        self._dirty: dict[str, CallView] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._serving: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._flush_forever(), name="peers-flush"),
            asyncio.create_task(
                self._instance.listen(Instance.key(self._instance.id), self._heard), name="peers-serve"
            ),
        ]

    async def close(self) -> None:
        await self._flush()  # the others see how this instance's calls ended (``Calls.close`` cut them off)
        await ended([*self._tasks, *self._serving])

    # -- this instance's calls --------------------------------------------------------------------

    def changed(self, view: CallView) -> None:
        self._dirty[view.id] = view  # a later view replaces one not yet sent
        self._wake.set()

    async def started(self, view: CallView) -> None:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                _put(pipe, self._instance.id, view)
                await pipe.execute()
        except RedisError as exc:  # the call runs all the same; only this instance can reach it
            log.warning("call %s not shared with the other instances: %s", view.id, exc)

    async def _flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._flush()
            except RedisError as exc:  # the others read the store's (older) view meanwhile
                log.warning("calls' views not shared with the other instances: %s", exc)

    async def _flush(self) -> None:
        batch, self._dirty = self._dirty, {}
        if batch:
            async with self._client.pipeline(transaction=False) as pipe:
                for view in batch.values():
                    _put(pipe, self._instance.id, view)
                await pipe.execute()

    def _heard(self, data: bytes) -> None:
        task = asyncio.create_task(self._serve(data))
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    async def _serve(self, data: bytes) -> None:
        """Act on another instance's request about a call running here, and reply."""
        request = orjson.loads(data)
        principal = Principal(request["subject"])
        reply: dict[str, Any]
        try:
            if request["op"] == "cancel":
                view = await self._calls.cancel(request["call"], principal)
            else:
                view = await self._calls.answer(request["call"], principal, request["answers"])
            reply = {"record": dataclasses.asdict(to_record(view))}
        except BridgeError as error:
            reply = {"problem": error.to_problem()}
        await self._client.publish(request["reply"], orjson.dumps(reply))

    # -- the others' calls ------------------------------------------------------------------------

    async def running_elsewhere(self, call_ids: Collection[str]) -> set[str]:
        if not call_ids:
            return set()
        ids = list(call_ids)
        found = set()
        for call_id, raw in zip(ids, await self._client.mget([CALL + i for i in ids]), strict=True):
            if raw is not None:
                owner, view = _decode(raw)
                if not view.state.terminal and owner != self._instance.id and await self._instance.alive(owner):
                    found.add(call_id)
        return found

    async def find(self, call_id: str) -> CallView | None:
        return await self._latest(call_id)

    async def _latest(self, call_id: str, record: CallRecord | None = None) -> CallView | None:
        """The call's view in Redis (cut off if its instance is gone), else as kept: ``record``, or read."""
        raw = await self._client.get(CALL + call_id)
        if raw is not None:
            owner, view = _decode(raw)
            if view.state.terminal or await self._instance.alive(owner):
                return view
            return await self._cut_off(view)
        if record is None:
            record = await asyncio.to_thread(self._records.get, call_id)
            if record is None:
                return None
        view = from_record(record)
        if view.expires <= datetime.now(UTC):  # past its retention, as if swept already
            return None
        return view if view.state.terminal else await self._cut_off(view)  # no instance says it runs it

    async def of(self, subject: str) -> list[CallView]:
        now = datetime.now(UTC)
        records = await asyncio.to_thread(self._records.of_subject, subject, now.isoformat())
        views = []
        for record in records:
            view = from_record(record)
            if view.state.terminal:  # as kept once it ended: nothing changes it now
                views.append(view)
            elif (latest := await self._latest(record.id, record)) is not None:  # from its instance, or cut off
                views.append(latest)
        return views

    async def watch(self, view: CallView) -> AsyncIterator[CallView]:
        pubsub = self._instance.listener.pubsub()
        await pubsub.subscribe(CALL + view.id)
        try:
            latest = await self.find(view.id)  # what changed before the subscription
            while True:
                if latest is not None and latest.version > view.version:
                    view = latest
                    yield view
                    if view.state.terminal:
                        return
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=LAPSE)
                # Quiet for a while: is its owner still there? (``find`` cuts the call off if not.)
                latest = await self.find(view.id) if message is None else _decode(message["data"])[1]
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped

    async def cancel(self, view: CallView) -> CallView:
        return await self._ask(view, {"op": "cancel"})

    async def answer(self, view: CallView, answers: Mapping[str, JSON]) -> CallView:
        return await self._ask(view, {"op": "answer", "answers": answers})

    async def _ask(self, view: CallView, request: dict[str, Any]) -> CallView:
        """Have the call's owner act on ``request``; its new view, or the problem it replied."""
        raw = await self._client.get(CALL + view.id)
        owner = _decode(raw)[0] if raw is not None else None
        reply_to = REPLY + secrets.token_urlsafe(12)
        pubsub = self._instance.listener.pubsub()
        await pubsub.subscribe(reply_to)
        try:
            request.update(call=view.id, subject=view.subject, reply=reply_to)
            heard = 0 if owner is None else await self._client.publish(Instance.key(owner), orjson.dumps(request))
            if heard == 0:  # nobody hears the owner's channel: it is gone
                await self._cut_off(view)
                raise CallCutOff(GONE)
            message = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ASK_TIMEOUT):
                    while message is None:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=ASK_TIMEOUT)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        if message is None:
            if owner is None or not await self._instance.alive(owner):
                await self._cut_off(view)
            raise CallCutOff(f"{GONE} (it did not answer within {ASK_TIMEOUT:.0f} s)")
        reply = orjson.loads(message["data"])
        if "problem" in reply:
            raise _error(reply["problem"])
        return from_record(CallRecord(**reply["record"]))

    async def _cut_off(self, view: CallView) -> CallView:
        """``view``'s call ended as cut off, here, in Redis and in the store."""
        ended = cut_off(view, GONE, self._calls.limits.retention)
        self._writer.submit(CallStore.put(to_record(ended)))
        async with self._client.pipeline(transaction=False) as pipe:
            _put(pipe, "", ended)
            await pipe.execute()
        return ended


def _put(pipe: redis.asyncio.client.Pipeline, owner: str, view: CallView) -> None:
    document = orjson.dumps({"owner": owner, "record": dataclasses.asdict(to_record(view))})
    pipe.set(CALL + view.id, document, ex=ENDED_TTL if view.state.terminal else None)
    pipe.publish(CALL + view.id, document)


def _decode(raw: bytes) -> tuple[str, CallView]:
    document = orjson.loads(raw)
    return document["owner"], from_record(CallRecord(**document["record"]))


def _error(problem: Mapping[str, Any]) -> BridgeError:
    """The error an owner replied, as this instance raises it."""
    slug = str(problem.get("type", "")).rsplit("/", 1)[-1]
    known = _REPLIED.get(slug)
    return known(str(problem.get("detail", ""))) if known is not None else BridgeError(UNEXPECTED)
