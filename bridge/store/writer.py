"""One thread that writes for the whole process, many small writes to one transaction.

Events and webhook deliveries are written on every observed call, from the event loop, which
must not wait on a disk. They are handed to the ``StoreWriter``: its thread takes everything
queued, runs it in one transaction (group commit: at 8 calls in flight, one commit serves
about 8 of them) and then tells each submitter it is kept. If that transaction fails, each
write is tried again alone, so one bad write fails only its own submitter.

A write someone waits on (it has a ``done``: a webhook delivery its call's answer waits for)
is committed as soon as the thread gets to it. A write nobody waits on (the event log) waits up
to ``GATHER`` seconds for others to share its commit: a commit costs more than the rows it
writes, and with a stream following every call, committing each drain of the queue was a
quarter of the bridge's CPU.

Each hand-over wakes the writer's thread, and on a busy bridge that wake is most of what a
write costs its submitter. Writes made together (an observed call's event log row and its
webhook deliveries) are handed over as one: ``with writer.together():`` on a thread queues the
writes submitted in it at once when it ends.

One writer per database also keeps SQLite's single write lock uncontended within a process.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import cast

from bridge.store.database import Database, Transaction

__all__ = ["Done", "StoreWriter", "Write"]

log = logging.getLogger(__name__)

#: A write: statements run inside the writer's transaction.
Write = Callable[[Transaction], None]
#: Told once the write is committed (None) or has failed (the error); called on the writer's thread.
Done = Callable[[BaseException | None], None]

_STOP = object()
#: Writes in one transaction at most; the rest wait for the next one.
BATCH = 512
#: Seconds a write nobody waits on may wait for others to commit with.
GATHER = 0.02

_Item = tuple[Write, Done | None]


class StoreWriter:
    """A writer thread over ``database``; ``close()`` writes what is queued, then stops it."""

    def __init__(self, database: Database, *, name: str = "store-writer") -> None:
        self._database = database
        self._queue: queue.SimpleQueue[_Item | list[_Item] | object] = queue.SimpleQueue()
        self._local = threading.local()
        #: A token for each write someone waits on (and for the stop): it ends a gathering wait.
        #: A queue rather than a ``threading.Event``: its put is one C call, and it is made on
        #: every observed call's path.
        self._urgent: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._closed = False
        self._thread.start()

    def submit(self, write: Write, done: Done | None = None) -> None:
        """Queue ``write``; ``done`` hears how it went. Never blocks."""
        held: list[_Item] | None = getattr(self._local, "held", None)
        if held is not None:
            held.append((write, done))
        else:
            self._put(write, done)

    def _put(self, write: Write, done: Done | None) -> None:
        if self._closed:
            error = RuntimeError("the store writer is closed")
            if done is not None:
                done(error)
                return
            raise error
        self._queue.put((write, done))
        if done is not None:
            self._urgent.put(None)

    def together(self) -> _Together:
        """A context in which this thread's writes are held, then queued as one when it ends."""
        return _Together(self)

    def _submit_held(self, held: list[_Item]) -> None:
        if self._closed:
            error = RuntimeError("the store writer is closed")
            for _write, done in held:
                if done is not None:
                    done(error)
            return
        self._queue.put(held)
        if any(done is not None for _write, done in held):
            self._urgent.put(None)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until what was queued before this call is written; False if that took longer than ``timeout``."""
        written = threading.Event()
        self._put(lambda _tx: None, lambda _error: written.set())  # never held: it is waited on here
        return written.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._urgent.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[_Item] = []
            stop = self._gather(batch)
            if batch:
                self._write(batch)

    def _gather(self, batch: list[_Item]) -> bool:
        """Take the next batch into ``batch``; whether the writer was told to stop.

        After a write nobody waits on, the thread waits for ``GATHER`` seconds or an urgent
        write, not for each write queued meanwhile: a busy bridge queues thousands a second,
        and waking for each cost more than the writing.
        """
        item = self._queue.get()
        self._forget_urgent()
        gathered = waited_on = False
        while True:
            if item is _STOP:
                return True
            if isinstance(item, list):
                batch.extend(item)
                waited_on = waited_on or any(done is not None for _write, done in item)
            else:
                taken = cast(_Item, item)
                batch.append(taken)
                waited_on = waited_on or taken[1] is not None
            if len(batch) >= BATCH:
                return False
            try:
                item = self._queue.get_nowait()
                continue
            except queue.Empty:
                pass
            if gathered or waited_on:
                return False
            self._forget_urgent()
            if self._queue.empty():  # else something came before the tokens were dropped: look at it first
                try:
                    self._urgent.get(timeout=GATHER)
                except queue.Empty:
                    if self._queue.empty():
                        return False
                gathered = True
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False

    def _forget_urgent(self) -> None:
        """Drop the tokens of urgent writes: those are in the queue, and looked at next."""
        try:
            while True:
                self._urgent.get_nowait()
        except queue.Empty:
            pass

    def _write(self, batch: list[tuple[Write, Done | None]]) -> None:
        try:
            with self._database.transaction() as tx:
                for write, _done in batch:
                    write(tx)
        except Exception as exc:
            if len(batch) > 1:
                for item in batch:  # find the bad one: each alone
                    self._write([item])
                return
            log.warning("a store write failed: %s", exc)
            self._tell(batch, exc)
            return
        self._tell(batch, None)

    @staticmethod
    def _tell(batch: list[tuple[Write, Done | None]], error: BaseException | None) -> None:
        for _write, done in batch:
            if done is None:
                continue
            try:
                done(error)
            except Exception:
                log.exception("a store write's completion callback failed")


class _Together:
    """``StoreWriter.together()``: nested uses hold into the outermost one."""

    __slots__ = ("_held", "_outer", "_writer")

    def __init__(self, writer: StoreWriter) -> None:
        self._writer = writer
        self._outer = False
        self._held: list[_Item] = []

    def __enter__(self) -> None:
        local = self._writer._local
        if getattr(local, "held", None) is None:
            self._outer = True
            local.held = self._held

    def __exit__(self, *_exc: object) -> None:
        if self._outer:
            self._writer._local.held = None
            if self._held:
                self._writer._submit_held(self._held)
