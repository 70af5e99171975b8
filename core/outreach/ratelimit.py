"""Messages per second per account, never exceeded, across every worker.

A pacing bucket without burst: each send takes the next free slot, ``1/rate`` seconds
after the previous one. With Redis the slot is kept in Redis and stamped with Redis's
own clock (one clock for all workers); in embedded mode an in-process lock does it.
The limiter sleeps for its slot: at outreach rates that is milliseconds, and holding
the worker is what keeps the rate.

Each limiter also keeps the last ``GRANTS_KEPT`` granted slots per key (``grants``),
stamped by the same clock that spaced them: what the pace really was, for operators,
the bench and the tests, across workers and restarts.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from functools import lru_cache
from typing import Protocol

import redis

GRANTS_KEPT = 1000
#: The grants log outlives the last send by an hour, then Redis drops it.
GRANTS_TTL_MS = 3_600_000
#: Atomically: if the next slot is in the future, say how long to wait (µs); else take
#: the slot now, move the next one an interval later and log the slot taken (µs).
#: Stamps are written with %.0f: Lua's tostring keeps 14 digits, which rounds today's
#: µs clock to 100 µs and could bring two slots closer than the interval.
PACE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if nxt > now then return nxt - now end
redis.call('SET', KEYS[1], string.format('%.0f', now + interval), 'PX', math.ceil(interval / 1000) + 1000)
redis.call('RPUSH', KEYS[2], string.format('%.0f', now))
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
return 0
"""


class RateLimiter(Protocol):
    def acquire(self, key: str, rate: float) -> float:
        """Block until a send is allowed; returns the seconds waited."""

    def grants(self, key: str) -> list[float]:
        """The last slots granted for ``key``, oldest first, in seconds on the limiter's
        own clock (only differences between them mean anything)."""


class LocalRateLimiter:
    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._granted: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, rate: float) -> float:
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                slot = self._next.get(key, 0.0)
                if slot <= now:
                    self._next[key] = now + 1.0 / rate
                    self._granted.setdefault(key, deque(maxlen=GRANTS_KEPT)).append(now)
                    return waited
                pause = slot - now
            time.sleep(pause)
            waited += pause

    def grants(self, key: str) -> list[float]:
        with self._lock:
            return list(self._granted.get(key, ()))


class RedisRateLimiter:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.script = self.client.register_script(PACE_SCRIPT)

    def acquire(self, key: str, rate: float) -> float:
        waited = 0.0
        # Rounded up: a truncated interval would let the rate be exceeded by a hair.
        interval = max(1, math.ceil(1_000_000 / rate))
        while True:
            wait_us = int(self.script(keys=[pace_key(key), grants_key(key)],
                                      args=[interval, GRANTS_KEPT, GRANTS_TTL_MS]))
            if wait_us <= 0:
                return waited
            time.sleep(wait_us / 1_000_000)
            waited += wait_us / 1_000_000

    def grants(self, key: str) -> list[float]:
        return [int(v) / 1_000_000 for v in self.client.lrange(grants_key(key), 0, -1)]


def pace_key(key: str) -> str:
    return f"switchboard:outreach:pace:{key}"


def grants_key(key: str) -> str:
    return f"switchboard:outreach:pace:{key}:grants"


_local = LocalRateLimiter()


@lru_cache(maxsize=8)
def _redis(url: str) -> RedisRateLimiter:
    return RedisRateLimiter(url)


def limiter_for(redis_url: str | None) -> RateLimiter:
    """The shared limiter: Redis when the deployment has it, else this process's."""
    return _redis(redis_url) if redis_url else _local
