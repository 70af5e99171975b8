"""GET /metrics: operations metrics in the Prometheus text format.

Two kinds of figures, collected two ways:

- request rates and latencies of the webhook endpoints are counted in the web process
  that served them (a Counter and a Histogram per app, labelled by URL rule, never by
  raw path, so a scanner cannot blow up the label set);
- everything that happens in workers (queue depth, task retries and failures, vendor
  errors and rate-limit waits) is read from the database at scrape time by a custom
  collector, so it is right whichever process did the work. Task retries and failures
  of every Celery task are written there by Celery's ``task_retry``/``task_failure``
  signals (connected in :func:`init_app`) as ``task.retry``/``task.failure`` metric
  events; vendor errors by the connectors (``vendor.*``). A scrape reads only indexed
  ranges: those event kinds, and the inbox rows still queued or parked, never every
  event the inbox ever processed.

Each app gets its own ``CollectorRegistry``: creating apps over and over (tests) never
hits "Duplicated timeseries". Under gunicorn with several workers,
``PROMETHEUS_MULTIPROC_DIR`` (set per run by switchboard/gunicorn_conf.py) names a
directory where every worker writes its request metrics, merged at scrape time
(prometheus-client's multiprocess mode); the database figures are added once.
"""
from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from celery import Task
from celery.signals import task_failure, task_retry
from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from switchboard.core.outcomes import metrics
from switchboard.core.outcomes.metrics import TASK_KINDS, VENDOR_KINDS
from switchboard.core.store.models import InboxEvent, MetricEvent, OutboxCall
from switchboard.intake.db import get_db

log = logging.getLogger(__name__)

#: Inbox statuses worth a gauge; "done" rows only ever grow and are not counted.
QUEUED_STATUSES = ("received", "processing")
INBOX_STATUSES = (*QUEUED_STATUSES, "failed")
#: Paths whose requests are measured: what vendors call.
MEASURED_PREFIXES = ("/webhooks/", "/slack/")
#: The methods a label may name; any other (HTTP lets a client send any token, and each
#: new label value is a new series kept for the life of the process) counts as "other".
LABELLED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)


class DatabaseCollector(Collector):
    """Figures that live in the database, read at each scrape (a few indexed counts)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        with get_db(self.app).session() as session:
            yield from self._inbox(session)
            yield self._outbox(session)
            yield from self._events(session)

    def _inbox(self, session: Any) -> Iterator[Any]:
        """Queued and parked inbox events: an index range on (status, received_at)."""
        counts = dict(session.execute(select(InboxEvent.status, func.count())
                                      .where(InboxEvent.status.in_(INBOX_STATUSES)).group_by(InboxEvent.status)).all())
        inbox = GaugeMetricFamily("switchboard_inbox_events", "Inbox events waiting (received, processing) or "
                                  "parked after their last attempt (failed), by status", labels=["status"])
        for status in INBOX_STATUSES:
            inbox.add_metric([status], counts.get(status, 0))
        yield inbox
        yield GaugeMetricFamily("switchboard_queue_depth", "Inbox events accepted and not yet processed",
                                value=sum(counts.get(status, 0) for status in QUEUED_STATUSES))

    def _outbox(self, session: Any) -> GaugeMetricFamily:
        outbox = GaugeMetricFamily("switchboard_outbox_calls", "Outbound vendor calls by vendor and status "
                                   "(pending and sending are waiting to go out)", labels=["vendor", "status"])
        for vendor, status, count in session.execute(
                select(OutboxCall.vendor, OutboxCall.status, func.count())
                .group_by(OutboxCall.vendor, OutboxCall.status)):
            outbox.add_metric([vendor, status], count)
        return outbox

    def _events(self, session: Any) -> Iterator[Any]:
        """Task retries and failures, vendor errors and waits: one grouped count over
        those event kinds (the (kind, occurred_at) index)."""
        retries = CounterMetricFamily("switchboard_task_retries", "Celery task retries by task", labels=["task"])
        failures = CounterMetricFamily("switchboard_task_failures", "Celery tasks that failed for good (raised, or "
                                       "ran out of retries) by task", labels=["task"])
        errors = CounterMetricFamily("switchboard_vendor_errors", "Vendor API failures by vendor and kind "
                                     "(error: permanent, unavailable: retried, rate_limited)",
                                     labels=["vendor", "kind"])
        waits = CounterMetricFamily("switchboard_vendor_rate_limit_wait_seconds", "Seconds vendors asked "
                                    "us to wait (Retry-After), summed", labels=["vendor"])
        for kind, label, count, waited in session.execute(
                select(MetricEvent.kind, MetricEvent.label, func.count(),
                       func.coalesce(func.sum(MetricEvent.value), 0.0))
                .where(MetricEvent.kind.in_((*VENDOR_KINDS, *TASK_KINDS)))
                .group_by(MetricEvent.kind, MetricEvent.label)):
            name = label or "unknown"
            if kind == "task.retry":
                retries.add_metric([name], count)
            elif kind == "task.failure":
                failures.add_metric([name], count)
            else:
                errors.add_metric([name, kind.removeprefix("vendor.")], count)
                if kind == "vendor.rate_limited":
                    waits.add_metric([name], float(waited))
        yield from (retries, failures, errors, waits)


def _record_task_event(app: Flask, sender: Any, kind: str, dedupe_key: str, error: BaseException | None) -> None:
    """Keep a task retry or failure as a metric event, so /metrics in the web process
    counts what the workers did. Only for tasks of this app's Celery (tests create
    many apps in one process). Never raises: a signal handler must not turn a retry
    into a crash, least of all when the database is what failed."""
    if not isinstance(sender, Task) or sender.app is not app.extensions.get("celery"):
        return
    try:
        with get_db(app).session() as session:
            # Operations events are the deployment's, kept under its default account.
            metrics.record(session, app.config["DEFAULT_ACCOUNT_ID"], kind, label=str(sender.name)[:64],
                           dedupe_key=dedupe_key[:200], error=type(error).__name__ if error else None)
            session.commit()
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("could not record %s of %s for /metrics: %s", kind, sender.name, type(exc).__name__)


def connect_task_signals(app: Flask) -> None:
    """Count every Celery task's retries and failures. The receivers are kept on the
    app (Celery holds them weakly), so they go away with it."""
    def on_retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
        task_id = getattr(request, "id", None) or "?"
        _record_task_event(app, sender, "task.retry", f"task.retry:{task_id}:{getattr(request, 'retries', 0)}",
                           getattr(reason, "exc", None) if reason is not None else None)

    def on_failure(sender: Any = None, task_id: str | None = None, exception: BaseException | None = None,
                   **_: Any) -> None:
        _record_task_event(app, sender, "task.failure", f"task.failure:{task_id or '?'}", exception)

    app.extensions["switchboard.prometheus_signals"] = (on_retry, on_failure)
    task_retry.connect(on_retry)
    task_failure.connect(on_failure)


def init_app(app: Flask) -> None:
    multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    registry = CollectorRegistry()
    # In multiprocess mode the values go to files shared by all workers; registering
    # them here too would report this worker's share twice.
    own = None if multiprocess_dir else registry
    requests_total = Counter("switchboard_webhook_requests", "Webhook requests by endpoint, method and status",
                             ["endpoint", "method", "status"], registry=own)
    latency = Histogram("switchboard_webhook_request_duration_seconds", "Webhook request latency by endpoint",
                        ["endpoint"], buckets=LATENCY_BUCKETS, registry=own)
    registry.register(DatabaseCollector(app))
    connect_task_signals(app)
    if multiprocess_dir:
        from prometheus_client import multiprocess  # only in multiprocess mode

        # gunicorn's --preload imports the app before its on_starting hook prepares the
        # directory (switchboard/gunicorn_conf.py).
        os.makedirs(multiprocess_dir, exist_ok=True)
        multiprocess.MultiProcessCollector(registry)
    app.extensions["switchboard.web.prometheus"] = registry

    # The labelled children, kept here as well: labels() checks and joins its values
    # under a lock on every call, a third of what measuring a webhook cost. Same keys as
    # the metrics' own children, so nothing grows that did not already.
    counters: dict[tuple[str, str, int], Any] = {}
    timers: dict[str, Any] = {}

    @app.before_request
    def _start_timer() -> None:
        if request.path.startswith(MEASURED_PREFIXES):
            g.prometheus_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("prometheus_started", None)
        if started is not None:
            rule = request.url_rule
            endpoint = rule.rule if rule is not None else "unmatched"
            method = request.method if request.method in LABELLED_METHODS else "other"
            key = (endpoint, method, response.status_code)
            counter = counters.get(key)
            if counter is None:
                counter = counters[key] = requests_total.labels(endpoint, key[1], str(key[2]))
            timer = timers.get(endpoint)
            if timer is None:
                timer = timers[endpoint] = latency.labels(endpoint)
            counter.inc()
            timer.observe(time.perf_counter() - started)
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        token = app.config["SETTINGS"].metrics_token
        if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
            # Prometheus: `authorization: {credentials: <SWITCHBOARD_METRICS_TOKEN>}` in the scrape config.
            return Response("send SWITCHBOARD_METRICS_TOKEN as 'Authorization: Bearer <token>'\n", status=401,
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Content-Type": "text/plain"})
        return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
