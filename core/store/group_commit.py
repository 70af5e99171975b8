"""Writes that concurrent threads of one process make together, one round trip for all.

Each webhook delivery is one INSERT that must commit before its 2xx. Alone, every
insert pays a round trip, the driver's work and a commit of its own in the database;
deliveries that arrive while one is being written can share the next statement
instead (a multi-row INSERT costs little more than a single one: at four rows the
database and the client each spent about a third of the CPU per row).

There is no writer thread and no waiting for company: the first caller writes at once
(alone, at rest: no added latency), and callers that arrive meanwhile queue. When a
write ends, the first of those queued becomes the next writer and takes everything
waiting, up to ``max_batch``. So a caller waits at most for the write in progress and
then its own, every caller's item is in exactly one write, and each gets back its own
result or its own error (``write`` reports them item by item).
"""
from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, cast

Item = TypeVar("Item")
Result = TypeVar("Result")


class WriterStopped(RuntimeError):
    """The thread writing this item's batch stopped before it reported (it was
    interrupted): whether the item was stored is unknown, so the caller must not say
    it was."""


class _Slot(Generic[Item]):
    __slots__ = ("item", "outcome", "woken", "lead")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.outcome: object = _PENDING
        self.woken = threading.Event()
        self.lead = False


_PENDING = object()


class GroupCommit(Generic[Item, Result]):
    """Calls ``write`` with the items of every caller waiting (in arrival order, at
    most ``max_batch``); ``write`` returns one outcome per item, its result or the
    exception that item's caller is to raise."""

    def __init__(self, write: Callable[[Sequence[Item]], Sequence[Result | Exception]], *,
                 max_batch: int = 16) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._write = write
        self._max_batch = max_batch
        self._forget()
        _instances.add(self)

    def _forget(self) -> None:
        """A new lock and an empty queue (in a forked child: the parent's lock may have
        been held by a thread the child does not have)."""
        self._lock = threading.Lock()
        self._queue: list[_Slot[Item]] = []
        self._writing = False

    @property
    def waiting(self) -> int:
        """Items queued behind the write in progress."""
        with self._lock:
            return len(self._queue)

    def submit(self, item: Item) -> Result:
        """``item`` written (alone or with others'); its result, or its error raised."""
        slot = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            lead = not self._writing
            self._writing = True
        if not lead:
            slot.woken.wait()
            lead = slot.lead
        if lead:
            self._write_next()
        outcome = slot.outcome
        if outcome is _PENDING:
            raise WriterStopped("the batch holding this item was not written to the end")
        if isinstance(outcome, Exception):
            raise outcome
        return cast(Result, outcome)

    def _write_next(self) -> None:
        """Write what waits (the caller's own item first: nothing leaves the queue but
        by a writer, and there is one writer at a time), then hand over."""
        with self._lock:
            batch = self._queue[:self._max_batch]
            del self._queue[:self._max_batch]
        try:
            try:
                outcomes: Sequence[Result | Exception] = self._write([slot.item for slot in batch])
                if len(outcomes) != len(batch):
                    raise RuntimeError(f"write returned {len(outcomes)} outcomes for {len(batch)} items")
            except Exception as exc:  # noqa: BLE001 - every caller of the batch raises it
                outcomes = [exc] * len(batch)
            for slot, outcome in zip(batch, outcomes, strict=True):
                slot.outcome = outcome
        finally:  # even when interrupted: the callers waiting must not wait forever
            with self._lock:
                successor = self._queue[0] if self._queue else None
                if successor is None:
                    self._writing = False
                else:
                    successor.lead = True
            for slot in batch:
                slot.woken.set()
            if successor is not None:
                successor.woken.set()


_instances: weakref.WeakSet[GroupCommit[Any, Any]] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for instance in list(_instances):
        instance._forget()


os.register_at_fork(after_in_child=_after_fork_in_child)
