"""Live delivery to the widget: a Server-Sent Events stream per open widget, and the
wake-ups that tell it to look.

The stream reads new messages from the database (id above the last it sent), so what
it shows is what is on the record, and nothing is lost when a wake-up is: it also
looks every RECHECK_SECONDS by itself. Wake-ups are published once the transaction
that wrote a message commits (a SQLAlchemy ``after_commit`` hook on the sessions that
asked for one: ``core.channels.webchat.wake_after_commit``), on Redis pub/sub when the
deployment has Redis (the worker is another process), within the process otherwise
(embedded mode runs tasks on a thread of the web process; with several embedded
processes a stream in another one finds the message at its next look).

A stream ends after STREAM_SECONDS (the browser reconnects at once with
Last-Event-ID), so a gunicorn thread is never held for ever, and a server restart or
a visitor's merge into another customer is picked up within a minute.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import redis
from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from switchboard.core.channels import webchat
from switchboard.core.settings import Settings
from switchboard.core.store.models import WebVisitor
from switchboard.intake.db import get_db

log = logging.getLogger(__name__)

STREAM_SECONDS = 60.0
RECHECK_SECONDS = 3.0
KEEPALIVE_SECONDS = 15.0
RETRY_MILLISECONDS = 2000


def channel_name(account_id: int, customer_id: int) -> str:
    return f"switchboard:webchat:{account_id}:{customer_id}"


class Waiter(Protocol):
    def wait(self, seconds: float) -> bool:
        """Block until a wake-up or ``seconds`` pass; True when woken."""
        ...

    def close(self) -> None: ...


# -- within the process -------------------------------------------------------------------

class LocalNotifier:
    """Wake-ups between threads of one process (embedded mode)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, set[threading.Event]] = {}

    def publish(self, channel: str) -> None:
        with self._lock:
            for flag in self._waiting.get(channel, ()):
                flag.set()

    def subscribe(self, channel: str) -> LocalWaiter:
        flag = threading.Event()
        with self._lock:
            self._waiting.setdefault(channel, set()).add(flag)
        return LocalWaiter(self, channel, flag)

    def _leave(self, channel: str, flag: threading.Event) -> None:
        with self._lock:
            waiting = self._waiting.get(channel)
            if waiting is not None:
                waiting.discard(flag)
                if not waiting:
                    del self._waiting[channel]


class LocalWaiter:
    def __init__(self, notifier: LocalNotifier, channel: str, flag: threading.Event) -> None:
        self.notifier, self.channel, self.flag = notifier, channel, flag

    def wait(self, seconds: float) -> bool:
        woken = self.flag.wait(max(0.0, seconds))
        self.flag.clear()
        return woken

    def close(self) -> None:
        self.notifier._leave(self.channel, self.flag)


LOCAL = LocalNotifier()


# -- through Redis --------------------------------------------------------------------------

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def _redis(url: str) -> redis.Redis:
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        return client


class RedisWaiter:
    def __init__(self, url: str, channel: str) -> None:
        self.pubsub = _redis(url).pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(channel)

    def wait(self, seconds: float) -> bool:
        """get_message answers None early for a subscription's own confirmation (which
        it swallows): wait out the time unless a published message comes, then take
        whatever else is already there without waiting."""
        deadline = time.monotonic() + max(0.0, seconds)
        try:
            while (left := deadline - time.monotonic()) > 0:
                if self.pubsub.get_message(timeout=left) is not None:
                    while self.pubsub.get_message(timeout=0.0) is not None:
                        pass
                    return True
        except redis.RedisError as exc:  # Redis went away: the stream goes on looking by itself
            log.warning("web chat stream: Redis wake-ups lost (%s)", type(exc).__name__)
            time.sleep(max(0.0, deadline - time.monotonic()))
        return False

    def close(self) -> None:
        try:
            self.pubsub.close()
        except redis.RedisError:
            pass


def subscribe(redis_url: str | None, channel: str) -> Waiter:
    """Wake-ups of ``channel``; a Redis that is down leaves only the periodic re-check."""
    if redis_url:
        try:
            return RedisWaiter(redis_url, channel)
        except redis.RedisError as exc:
            log.warning("web chat stream: Redis unavailable (%s); looking every %.0f s instead",
                        type(exc).__name__, RECHECK_SECONDS)
    return LOCAL.subscribe(channel)


def publish(redis_url: str | None, account_id: int, customer_id: int) -> None:
    channel = channel_name(account_id, customer_id)
    LOCAL.publish(channel)  # a stream of this process hears it at once either way
    if redis_url:
        try:
            _redis(redis_url).publish(channel, "1")
        except redis.RedisError as exc:  # the stream's own re-check delivers it a little later
            log.warning("web chat wake-up not published (%s)", type(exc).__name__)


def _after_commit(session: Session) -> None:
    for redis_url, account_id, customer_id in session.info.pop(webchat.WAKES, set()):
        publish(redis_url, account_id, customer_id)


def _after_rollback(session: Session) -> None:
    session.info.pop(webchat.WAKES, None)


def init_app(app: Flask) -> None:
    """Publish wake-ups after every commit that asked for one (once per process)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)


# -- the stream -----------------------------------------------------------------------------

def _event(message: dict[str, Any]) -> str:
    return f"id: {message['id']}\nevent: message\ndata: {json.dumps(message, separators=(',', ':'))}\n\n"


def events(app: Flask, settings: Settings, *, account_id: int, visitor_id: str, customer_id: int, after: int,
           seconds: float = STREAM_SECONDS, recheck: float = RECHECK_SECONDS,
           clock: Callable[[], float] = time.monotonic) -> Iterator[str]:
    """The text/event-stream: new messages as they are on the record, a keepalive
    comment every KEEPALIVE_SECONDS, the end after ``seconds``. Each read takes a
    short-lived session, so an open stream holds no database connection while it waits."""
    database = get_db(app)
    waiter = subscribe(settings.redis_url, channel_name(account_id, customer_id))  # before the first read
    try:
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        start = last_sent = clock()
        while True:
            try:
                with app.app_context(), database.session() as session:
                    visitor = session.get(WebVisitor, visitor_id)
                    if visitor is None or visitor.customer_id != customer_id:
                        return  # erased, or merged into another customer: the reconnect follows
                    new = webchat.messages_after(session, customer_id, after)
                    shown = webchat.message_json(session, settings, new)
                    if webchat.seen(visitor):
                        session.commit()
            except OperationalError as exc:
                # The database dropped the connection (a restart, a failover): end the
                # stream as one that ran its minute ends; the browser reconnects after
                # ``retry`` and is answered 503 until the database is back.
                log.warning("web chat stream ended: the database is unavailable (%s)",
                            type(exc.orig).__name__ if exc.orig else type(exc).__name__)
                return
            for message in shown:
                after = message["id"]
                yield _event(message)
            if shown:
                last_sent = clock()
                continue  # there may be more than one page
            now = clock()
            if now - start >= seconds:
                return
            if now - last_sent >= KEEPALIVE_SECONDS:
                yield ": keepalive\n\n"
                last_sent = now
            waiter.wait(min(recheck, seconds - (now - start), KEEPALIVE_SECONDS - (now - last_sent)))
    finally:
        waiter.close()
