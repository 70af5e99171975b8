"""How many web chat streams may be open at once (issue 42, item 6): per visitor, per
IP, and per web process.

An open stream holds a connection for up to a minute, and under gunicorn's gthread
worker a thread too: sixteen streams of one visitor took every thread of a worker, and
its health check and signed webhooks then waited until the streams ended. So:

- a visitor may hold ``streams_per_visitor`` streams (a few tabs), an IP
  ``streams_per_ip`` (a few visitors behind one address); a stream over either is
  refused with a 429 that names the limit, and the widget reads by polling meanwhile;
- a web process lends streams only ``WEBCHAT_STREAMS_PER_PROCESS`` of its threads (the
  gunicorn settings set it from the worker's threads, keeping the rest for webhooks,
  the health check and the API); a stream past that is refused with a 503.

The per-visitor and per-IP counts are shared by every web process and host through
Redis when the deployment has it (each open stream is a lease in a sorted set, so a
process that dies without closing its streams frees them when the lease runs out);
in memory otherwise, as the other web chat limits are.
"""
from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from flask import Flask

log = logging.getLogger(__name__)

#: The defaults; ``app.config["WEBCHAT_STREAM_LIMITS"]`` may override either.
DEFAULT_STREAM_LIMITS = {"streams_per_visitor": 4, "streams_per_ip": 16}
EXTENSION = "switchboard.webchat.stream_slots"
#: A lease outlives its stream by this much (a stream ends after its own seconds).
LEASE_MARGIN_SECONDS = 30.0

# Takes a slot under every key (KEYS) unless one of them is full: returns 0 when taken,
# else the 1-based index of the first full key. ARGV: now, lease end, member, the
# lease in whole seconds, the limits.
_ACQUIRE = """
local now, expires, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[4 + i]) then return i end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, expires, member)
  redis.call('EXPIRE', key, ARGV[4])
end
return 0
"""


class StreamRefused(Exception):
    """No slot: which limit is full (its name and value)."""

    def __init__(self, limit: str, value: int) -> None:
        super().__init__(f"{limit}={value}")
        self.limit, self.value = limit, value


@dataclass
class Slot:
    """An open stream's hold on its counts; ``release`` once it ends (idempotent)."""

    _release: Callable[[], None]
    _done: bool = field(default=False)

    def release(self) -> None:
        if not self._done:
            self._done = True
            self._release()


class MemoryCounts:
    """Open streams by key, in this process (no Redis)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}

    def acquire(self, keys: list[tuple[str, str, int]], lease_seconds: float) -> Callable[[], None]:
        with self._lock:
            for key, name, limit in keys:
                if self._open.get(key, 0) >= limit:
                    raise StreamRefused(name, limit)
            for key, _, _ in keys:
                self._open[key] = self._open.get(key, 0) + 1

        def release() -> None:
            with self._lock:
                for key, _, _ in keys:
                    left = self._open.get(key, 0) - 1
                    if left > 0:
                        self._open[key] = left
                    else:
                        self._open.pop(key, None)
        return release


class RedisCounts:
    """Open streams by key, shared through Redis (leases in sorted sets); when Redis
    does not answer, this process's own counts stand in."""

    def __init__(self, url: str, prefix: str) -> None:
        self.client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self.prefix = prefix
        self.script = self.client.register_script(_ACQUIRE)
        self.fallback = MemoryCounts()

    def acquire(self, keys: list[tuple[str, str, int]], lease_seconds: float) -> Callable[[], None]:
        names = [f"{self.prefix}:streams:{key}" for key, _, _ in keys]
        member = uuid.uuid4().hex
        now = time.time()
        try:
            full = int(self.script(keys=names, args=[now, now + lease_seconds, member, math.ceil(lease_seconds),
                                                      *(limit for _, _, limit in keys)]))
        except redis.RedisError as exc:
            log.warning("web chat stream limits: Redis unavailable (%s); counting in this process",
                        type(exc).__name__)
            return self.fallback.acquire(keys, lease_seconds)
        if full:
            _, name, limit = keys[full - 1]
            raise StreamRefused(name, limit)

        def release() -> None:
            try:
                pipe = self.client.pipeline(transaction=False)
                for key in names:
                    pipe.zrem(key, member)
                pipe.execute()
            except redis.RedisError:  # the lease runs out by itself
                pass
        return release


class ProcessShare:
    """The streams this process serves at once, at most ``limit`` (None: no cap)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0

    def acquire(self, limit: int | None) -> Callable[[], None]:
        with self._lock:
            if limit is not None and self.open >= limit:
                raise StreamRefused("streams_per_process", limit)
            self.open += 1

        def release() -> None:
            with self._lock:
                self.open -= 1
        return release


@dataclass
class StreamSlots:
    counts: MemoryCounts | RedisCounts
    process: ProcessShare = field(default_factory=ProcessShare)

    def acquire(self, app: Flask, *, visitor: str, ip: str, seconds: float) -> Slot:
        """A slot for one more stream of ``visitor`` from ``ip``, or StreamRefused."""
        limits = {**DEFAULT_STREAM_LIMITS, **app.config.get("WEBCHAT_STREAM_LIMITS", {})}
        share = app.config.get("WEBCHAT_STREAMS_PER_PROCESS")
        release_process = self.process.acquire(None if share is None else int(share))
        try:
            release_counts = self.counts.acquire(
                [(f"visitor:{visitor}", "streams_per_visitor", int(limits["streams_per_visitor"])),
                 (f"ip:{ip}", "streams_per_ip", int(limits["streams_per_ip"]))],
                seconds + LEASE_MARGIN_SECONDS)
        except BaseException:
            release_process()
            raise

        def release() -> None:
            release_counts()
            release_process()
        return Slot(release)


def redis_prefix(app: Flask) -> str:
    """Where the web chat's counters live in Redis. The queue's name is part of it: two
    deployments (or two test runs) sharing one Redis keep their limits apart, as their
    queues are."""
    prefix = app.config.get("WEBCHAT_LIMIT_PREFIX", "switchboard.webchat")
    return f"{prefix}:{app.config['SETTINGS'].queue_name}"


def init_app(app: Flask) -> StreamSlots:
    settings = app.config["SETTINGS"]
    counts: MemoryCounts | RedisCounts = MemoryCounts()
    if settings.redis_url:
        counts = RedisCounts(settings.redis_url, redis_prefix(app))
    slots = app.extensions[EXTENSION] = StreamSlots(counts)
    return slots


def slots_of(app: Flask) -> StreamSlots:
    slots: StreamSlots = app.extensions[EXTENSION]
    return slots
