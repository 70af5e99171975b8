"""Accepted inbox events handed to the queue off the request thread, several per message.

A webhook's 2xx means "stored"; the event is already committed when it is handed over
here. Publishing one Celery message per delivery on the request thread cost about as
much CPU as storing it (kombu builds and serialises a message, redis-py a command), and
a burst of deliveries paid it once each. Here a thread of the web process takes every id
waiting and publishes them as one message, so under load one publish carries many
events, and at rest each event still leaves at once.

Nothing is lost by leaving the request first: an id this thread could not publish (the
broker is down, the process was killed with ids waiting) is in the inbox as "received",
and the sweep enqueues it again.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

#: The most event ids one message carries: a batch is processed in order by one pool
#: child, so a longer one would keep the other child idle while it waits (the default
#: of SWITCHBOARD_DISPATCH_BATCH).
MAX_BATCH = 16
#: How long the thread waits, once an id arrived, for others to join it: under load a
#: publish then carries several events; at rest an event reaches the worker this much
#: later (a bot reply takes longer than that to compose, and Twilio longer to deliver).
#: The default of SWITCHBOARD_DISPATCH_LINGER_MS (0: publish at once, one by one at rest).
LINGER_SECONDS = 0.02


class Dispatcher:
    """Collects event ids and calls ``send`` with as many as are waiting (up to
    ``max_batch``, after at most ``linger`` seconds), on a daemon thread started on
    first use (a forked child starts its own, with an empty queue)."""

    def __init__(self, send: Callable[[Sequence[int]], None], *, max_batch: int = MAX_BATCH,
                 linger: float = LINGER_SECONDS) -> None:
        self._send = send
        self._max_batch = max_batch
        self._linger = linger
        self._forget()
        _dispatchers.add(self)

    @property
    def max_batch(self) -> int:
        return self._max_batch

    @property
    def linger(self) -> float:
        """Seconds."""
        return self._linger

    def _forget(self) -> None:
        """A new lock, queue and thread (in a forked child: the parent's lock may have
        been held by a thread the child does not have)."""
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._waiting: list[int] = []
        self._in_flight = 0
        self._started = False

    def submit(self, event_id: int) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                threading.Thread(target=self._loop, name="switchboard-dispatch", daemon=True).start()
            self._waiting.append(event_id)
            # Woken only when there is something new to do: the first id (the thread waits
            # for one) or a full batch (it lingers for one). Waking it for every id cost a
            # thread switch per webhook, more than the publish it batches.
            if len(self._waiting) == 1 or len(self._waiting) == self._max_batch:
                self._ready.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until every submitted id was handed to ``send``; False on timeout."""
        with self._lock:
            return self._ready.wait_for(lambda: not self._waiting and not self._in_flight, timeout)

    def _loop(self) -> None:
        while True:
            with self._lock:
                self._ready.wait_for(lambda: bool(self._waiting))
                if self._linger:
                    self._ready.wait_for(lambda: len(self._waiting) >= self._max_batch, self._linger)
                batch = self._waiting[:self._max_batch]
                del self._waiting[:self._max_batch]
                self._in_flight = len(batch)
            try:
                self._send(batch)
            except Exception as exc:  # kombu/redis raise several types for "broker unreachable"
                log.warning("queue unreachable, %d inbox event(s) wait for the sweep: %s", len(batch),
                            type(exc).__name__)
            finally:
                with self._lock:
                    self._in_flight = 0
                    self._ready.notify_all()


#: Every Dispatcher of this process, for the fork and exit hooks below.
_dispatchers: weakref.WeakSet[Dispatcher] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for dispatcher in list(_dispatchers):
        dispatcher._forget()


def _at_exit() -> None:
    """A web process shutting down publishes what it accepted last (the sweep would
    otherwise pick those events up a minute later)."""
    for dispatcher in list(_dispatchers):
        dispatcher.flush(2.0)


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
