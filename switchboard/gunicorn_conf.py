"""gunicorn's settings for the web processes:

    gunicorn -c python:switchboard.gunicorn_conf 'switchboard.wsgi:app'

With Redis workers (``SWITCHBOARD_REDIS_URL`` set), a web process mostly waits: on
PostgreSQL for a webhook's commit, on Redis, on a web chat's stream. gthread workers
pay an OS thread switch and a GIL hand-off for every one of those waits, which cost a
request about as much CPU as bare Flask spends serving one; gevent workers wait on
their event loop instead (psycopg waits cooperatively once gevent has patched
``select``). Measured by ``bench/intake.py``: signed Twilio webhooks verified, committed
and enqueued at ×1.4 the throughput of gthread workers on the same two cores, p99 lower.

In embedded mode (no Redis) the web processes also run the models for every message:
CPU work that would hold a gevent worker's loop, and with it every other request of that
process, so they keep gthread's threads.

Every value can still be overridden on the command line (``-w``, ``-k``, ``--threads``).
"""
from __future__ import annotations

import os
from typing import Any

#: One process a core: a gevent worker serves its many connections on one core.
workers = int(os.environ.get("WEB_CONCURRENCY") or len(os.sched_getaffinity(0)))
worker_class = "gevent" if os.environ.get("SWITCHBOARD_REDIS_URL") else "gthread"
#: gevent: connections a worker holds at once; each open web chat stream holds one.
worker_connections = 1000
#: gthread (embedded mode): each open web chat stream holds a thread (up to a minute).
threads = 16
#: A worker silent this long is restarted. A gevent worker is silent while one request
#: holds its loop: a web process's first voice call loads the models (about 10 s).
timeout = 90
#: On a restart, requests in flight get this long; an open web chat stream is cut then
#: and the browser reconnects to another worker.
graceful_timeout = 30


def on_starting(server: Any) -> None:
    """--preload would import the app (its locks, its connection pools) in the master,
    before a gevent worker patches ``threading`` and ``socket``: a lock taken by one
    greenlet would then block the whole process. Refuse it with what to do instead."""
    cfg = server.cfg
    if cfg.preload_app and "gevent" in str(cfg.worker_class_str):
        raise SystemExit("switchboard: --preload cannot be used with gevent workers (the app would be "
                         "imported before gevent patches threads and sockets); drop --preload, or run "
                         "gthread workers with -k gthread")
