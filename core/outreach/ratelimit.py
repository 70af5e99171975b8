"""Messages per second per account, never exceeded, across every worker.

A pacing bucket without burst: each send takes the next free slot, ``1/rate`` seconds
after the previous one. With Redis the slot is kept in Redis and stamped with Redis's
own clock (one clock for all workers); in embedded mode an in-process lock does it.
The limiter sleeps for its slot: at outreach rates that is milliseconds, and holding
the worker is what keeps the rate.
"""
from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Protocol

#: Atomically: if the next slot is in the future, say how long to wait (µs); else take
#: the slot now and move the next one an interval later.
PACE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if nxt > now then return nxt - now end
redis.call('SET', KEYS[1], tostring(now + interval), 'PX', math.ceil(interval / 1000) + 1000)
return 0
"""


class RateLimiter(Protocol):
    def acquire(self, key: str, rate: float) -> float:
        """Block until a send is allowed; returns the seconds waited."""


class LocalRateLimiter:
    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, rate: float) -> float:
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                slot = self._next.get(key, 0.0)
                if slot <= now:
                    self._next[key] = now + 1.0 / rate
                    return waited
                pause = slot - now
            time.sleep(pause)
            waited += pause


class RedisRateLimiter:
    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.script = self.client.register_script(PACE_SCRIPT)

    def acquire(self, key: str, rate: float) -> float:
        waited = 0.0
        interval = max(1, int(1_000_000 / rate))
        while True:
            wait_us = int(self.script(keys=[f"switchboard:outreach:pace:{key}"], args=[interval]))
            if wait_us <= 0:
                return waited
            time.sleep(wait_us / 1_000_000)
            waited += wait_us / 1_000_000


_local = LocalRateLimiter()


@lru_cache(maxsize=8)
def _redis(url: str) -> RedisRateLimiter:
    return RedisRateLimiter(url)


def limiter_for(redis_url: str | None) -> RateLimiter:
    """The shared limiter: Redis when the deployment has it, else this process's."""
    return _redis(redis_url) if redis_url else _local
