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

Every worker's request counters reach ``/metrics``: Prometheus's multiprocess mode is set
up here, so a scrape answered by one worker counts what all of them served. Each run of
gunicorn gets its own directory, ``<SWITCHBOARD_DATA_DIR>/prometheus/<master pid>/``
(or your ``PROMETHEUS_MULTIPROC_DIR``, emptied of its files at start): a new run starts
from zero, and the directories of runs that are over are removed when the next starts.

gunicorn's control socket (``gunicornc``) is off: by default it would be written to
``~/.gunicorn/`` (or ``$XDG_RUNTIME_DIR``), shared by every gunicorn of that user. To use
it, write your own settings file that starts with ``from switchboard.gunicorn_conf import *``
and sets ``control_socket_disable = False`` and ``control_socket`` to a path of yours.

Every value can still be overridden on the command line (``-w``, ``-k``, ``--threads``;
an ``-e`` replaces ``raw_env`` below, and then /metrics counts only the worker it asks).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

from switchboard.core.settings import data_dir_from
from switchboard.web.access_log import redact_query, redact_request_line

#: One process a core: a gevent worker serves its many connections on one core.
workers = int(os.environ.get("WEB_CONCURRENCY") or len(os.sched_getaffinity(0)))
worker_class = "gevent" if os.environ.get("SWITCHBOARD_REDIS_URL") else "gthread"
#: gevent: connections a worker holds at once; each open web chat stream holds one.
worker_connections = 1000
#: gthread (embedded mode): each open web chat stream holds a thread (up to a minute).
#: 32, of which streams may take 28: measured by ``bench/streams.py`` (one worker, 16
#: streams open, 20 signed webhooks each answered by the models in the process): 16
#: threads with no share kept (as before) timed out 11 of 20 webhooks and 11 health
#: checks (5 s); 16 threads lending streams 12 refused 4 streams and answered every
#: webhook (p95 36 ms); 32 threads lending 28 held all 16 streams and answered every
#: webhook (p95 47 ms, health max 23 ms) for +1 MB. A gevent worker in embedded mode
#: answered as well (p95 32 ms), but the models' CPU work (a first voice call loads
#: them for about 10 s) would then hold every request of the process.
threads = 32
#: Threads (gthread) or connections (gevent) of a worker that web chat streams may not
#: take: kept for webhooks, the health check and the API whatever the streams do.
#: Streams past the rest are refused (503, the widget polls); see ``post_worker_init``.
reserved_for_requests = 4
#: A worker silent this long is restarted. A gevent worker is silent while one request
#: holds its loop: a web process's first voice call loads the models (about 10 s).
timeout = 90
#: On a restart, requests in flight get this long; an open web chat stream is cut then
#: and the browser reconnects to another worker.
graceful_timeout = 30
#: See above: no socket in the home directory.
control_socket_disable = True


class RedactingLogger(Logger):
    """gunicorn's logger, with the credentials a URL may carry (the web chat stream's
    visitor token) redacted from the access log (``--access-logfile``)."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        atoms["r"] = redact_request_line(str(atoms["r"]))
        atoms["q"] = redact_query(str(atoms["q"] or ""))
        return atoms


logger_class = RedactingLogger

#: Where the workers write their metrics (the master's pid names the run). Set through
#: ``raw_env``, which gunicorn applies before it imports the app (``--preload``
#: included): prometheus_client chooses its multiprocess values when first imported.
metrics_dir = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR")
                   or data_dir_from(os.environ) / "prometheus" / str(os.getpid()))
raw_env = [f"PROMETHEUS_MULTIPROC_DIR={metrics_dir}"]


def prepare_metrics_dir(directory: Path) -> None:
    """An empty ``directory`` for this run's metric files, and no directory left by a run
    that is over beside it (the per-run ones are named by their master's pid)."""
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob("*.db"):
        leftover.unlink()
    if directory.name.isdigit():
        for sibling in directory.parent.iterdir():
            if sibling != directory and sibling.name.isdigit() and not _running(int(sibling.name)):
                shutil.rmtree(sibling, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # another user's process
    return True


def on_starting(server: Any) -> None:
    """--preload would import the app (its locks, its connection pools) in the master,
    before a gevent worker patches ``threading`` and ``socket``: a lock taken by one
    greenlet would then block the whole process. Refuse it with what to do instead."""
    cfg = server.cfg
    if cfg.preload_app and "gevent" in str(cfg.worker_class_str):
        raise SystemExit("switchboard: --preload cannot be used with gevent workers (the app would be "
                         "imported before gevent patches threads and sockets); drop --preload, or run "
                         "gthread workers with -k gthread")
    # Set unless an -e on the command line replaced raw_env (then the workers, forked
    # after this, still get it).
    directory = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir)))
    prepare_metrics_dir(directory)


def streams_per_process(cfg: Any) -> int:
    """How many web chat streams a worker of these settings may hold at once: its
    threads (gthread) or connections (gevent) but ``reserved_for_requests``; none on a
    sync worker, where one stream would hold the whole worker."""
    kind = str(cfg.worker_class_str)
    if "gevent" in kind:
        return max(0, int(cfg.worker_connections) - reserved_for_requests)
    if int(cfg.threads) > 1 or "gthread" in kind:
        return max(0, int(cfg.threads) - reserved_for_requests)
    return 0


def post_worker_init(worker: Any) -> None:
    """Tell the app (``worker.wsgi``, loaded by now) how many streams this worker lends
    (``-k``, ``--threads`` and ``--worker-connections`` on the command line included)."""
    config = getattr(worker.wsgi, "config", None)
    if config is not None:
        config.setdefault("WEBCHAT_STREAMS_PER_PROCESS", streams_per_process(worker.cfg))


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone (restarted, killed): its counters stay counted, its live gauges
    are dropped (prometheus_client's multiprocess mode asks for this call)."""
    from prometheus_client import multiprocess  # only in multiprocess mode (the hook is gunicorn's)

    multiprocess.mark_process_dead(worker.pid)
