"""GET /metrics: operations metrics in the Prometheus text format.

Two kinds of figures, collected two ways:

- request rates and latencies of the webhook endpoints are counted in the web process
  that served them (a Counter and a Histogram per app, labelled by URL rule, never by
  raw path, so a scanner cannot blow up the label set);
- everything that happens in workers (queue depth, task retries and failures, vendor
  errors and rate-limit waits) is read from the database at scrape time by a custom
  collector, so it is right whichever process did the work.

Each app gets its own ``CollectorRegistry``: creating apps over and over (tests) never
hits "Duplicated timeseries". Under gunicorn with several workers, set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory: request metrics are then written
there by every worker and merged at scrape time (prometheus-client's multiprocess
mode), and the database figures are added once.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from switchboard.core.metrics import VENDOR_KINDS
from switchboard.db import get_db
from switchboard.models import InboxEvent, MetricEvent, OutboxCall

#: Paths whose requests are measured: what vendors call.
MEASURED_PREFIXES = ("/webhooks/", "/slack/")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)


class DatabaseCollector(Collector):
    """Figures that live in the database, read at each scrape (a few indexed counts)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        with get_db(self.app).session() as session:
            inbox = GaugeMetricFamily("switchboard_inbox_events", "Inbox events by status (received and "
                                      "processing are the queue depth; failed are parked)", labels=["status"])
            for status, count in session.execute(select(InboxEvent.status, func.count())
                                                 .group_by(InboxEvent.status)):
                inbox.add_metric([status], count)
            yield inbox
            retries = session.scalar(select(func.coalesce(func.sum(
                case((InboxEvent.attempts > 1, InboxEvent.attempts - 1), else_=0)), 0))) or 0
            pending = session.scalar(select(func.count()).where(InboxEvent.status.in_(("received", "processing"))))
            yield GaugeMetricFamily("switchboard_queue_depth", "Inbox events accepted and not yet processed",
                                    value=pending or 0)
            yield CounterMetricFamily("switchboard_task_retries", "Inbox event processing attempts beyond the "
                                      "first (task retries)", value=retries)
            failed = session.scalar(select(func.count()).where(InboxEvent.status == "failed")) or 0
            yield CounterMetricFamily("switchboard_task_failures", "Inbox events parked as failed after their "
                                      "last attempt", value=failed)
            outbox = GaugeMetricFamily("switchboard_outbox_calls", "Outbound vendor calls by vendor and status "
                                       "(pending and sending are waiting to go out)", labels=["vendor", "status"])
            for vendor, status, count in session.execute(
                    select(OutboxCall.vendor, OutboxCall.status, func.count())
                    .group_by(OutboxCall.vendor, OutboxCall.status)):
                outbox.add_metric([vendor, status], count)
            yield outbox
            errors = CounterMetricFamily("switchboard_vendor_errors", "Vendor API failures by vendor and kind "
                                         "(error: permanent, unavailable: retried, rate_limited)",
                                         labels=["vendor", "kind"])
            waits = CounterMetricFamily("switchboard_vendor_rate_limit_wait_seconds", "Seconds vendors asked "
                                        "us to wait (Retry-After), summed", labels=["vendor"])
            for kind, vendor, count, waited in session.execute(
                    select(MetricEvent.kind, MetricEvent.label, func.count(),
                           func.coalesce(func.sum(MetricEvent.value), 0.0))
                    .where(MetricEvent.kind.in_(VENDOR_KINDS)).group_by(MetricEvent.kind, MetricEvent.label)):
                errors.add_metric([vendor or "unknown", kind.removeprefix("vendor.")], count)
                if kind == "vendor.rate_limited":
                    waits.add_metric([vendor or "unknown"], float(waited))
            yield errors
            yield waits


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
    if multiprocess_dir:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    app.extensions["switchboard.prometheus"] = registry

    @app.before_request
    def _start_timer() -> None:
        if request.path.startswith(MEASURED_PREFIXES):
            g.prometheus_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("prometheus_started", None)
        if started is not None:
            endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
            requests_total.labels(endpoint, request.method, str(response.status_code)).inc()
            latency.labels(endpoint).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
