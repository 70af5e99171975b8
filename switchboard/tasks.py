"""Background work: Celery with Redis in production, a thread in embedded mode.

Tasks take ids, never ORM objects, and run inside a Flask app context so they share
the app's database session handling. Every task is safe to run twice: the inbox claim
and the outbox idempotency keys make the second run a no-op.
"""
from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from celery import Celery, Task, shared_task
from celery.schedules import crontab
from celery.signals import worker_init
from flask import Flask, current_app

from switchboard.apps.slack.action_approvals import expire_overdue
from switchboard.core.accounts import all_accounts, secret
from switchboard.core.customer_data.subject_requests import purge_all
from switchboard.core.dispatch import MAX_BATCH, Dispatcher
from switchboard.core.knowledge_loop.digest import send_digest
from switchboard.core.outreach import campaigns, sending
from switchboard.core.pii.redaction import redact
from switchboard.core.quality.scoring import score_idle
from switchboard.core.settings import Settings
from switchboard.core.store import inbox
from switchboard.core.store.models import Account
from switchboard.core.use_cases import Bound, EventHandlers
from switchboard.core.warmup import preload_for_fork
from switchboard.intake import db, enqueue
from switchboard.vendors.outbound import VendorOutcomeUnknown, VendorRateLimited

log = logging.getLogger(__name__)
RETRY_BACKOFF_MAX = 600


def celery_init_app(app: Flask) -> Celery:
    settings = app.config["SETTINGS"]

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=settings.redis_url or "memory://",
        task_ignore_result=True,
        task_default_queue=settings.queue_name,
        # At-least-once delivery: a task is acknowledged only after it ran, a worker
        # lost mid-task gets its task redelivered (bounded by max_retries).
        task_acks_late=True,
        task_retry_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=300,
        broker_transport_options={"visibility_timeout": 3600},
        # A webhook must not hang on a Redis outage: the event is already in the inbox
        # and the sweep enqueues it later.
        task_publish_retry=False,
        broker_connection_timeout=2,
        broker_connection_retry_on_startup=True,
        beat_schedule={
            "weekly-digest": {"task": "switchboard.weekly_digest",
                              "schedule": crontab(hour=8, minute=0, day_of_week="mon")},
            "sweep-inbox": {"task": "switchboard.sweep_inbox", "schedule": float(settings.sweep_interval_seconds),
                            "options": {"expires": settings.sweep_interval_seconds}},
            "outreach-tick": {"task": "switchboard.outreach_tick", "schedule": float(settings.sweep_interval_seconds),
                              "options": {"expires": settings.sweep_interval_seconds}},
            "actions-tick": {"task": "switchboard.actions_tick", "schedule": float(settings.sweep_interval_seconds),
                             "options": {"expires": settings.sweep_interval_seconds}},
            "retention-purge": {"task": "switchboard.retention_purge", "schedule": crontab(hour=3, minute=17)},
            "qa-score-idle": {"task": "switchboard.qa_score_idle", "schedule": crontab(minute=41)},
        },
    )
    celery.set_default()
    app.extensions["celery"] = celery
    _flask_apps[celery] = app
    return celery


#: The Flask app of each Celery app, for the worker's start-up signal.
_flask_apps: weakref.WeakKeyDictionary[Celery, Flask] = weakref.WeakKeyDictionary()


@worker_init.connect
def preload_before_fork(sender: Any, **_: Any) -> None:
    """In the Celery main process, before it forks the pool: load the models and the
    knowledge indexes once, so the pool children share them instead of each loading its
    own copy (issue 18: 490 MB per child at 10,000 articles). The database connection
    used is closed before the fork; children open their own."""
    app = _flask_apps.get(getattr(sender, "app", None))
    if app is None or not app.config["SETTINGS"].worker_preload:
        return

    started = time.perf_counter()
    database = db.get_db(app)
    try:
        with app.app_context(), database.session() as session:
            loaded = preload_for_fork(session, app.config["SETTINGS"])
    except Exception as exc:  # e.g. the database is not up yet: each child loads on first use, as before
        log.warning("nothing loaded before forking the pool (each child loads its own copy): %s: %s",
                    type(exc).__name__, redact(str(exc)).text)
        return
    finally:
        database.engine.dispose()
    log.info("loaded before forking the pool, shared by its children: %s (%.1f s)",
             ", ".join(f"{item.what} {item.seconds:.1f} s" for item in loaded), time.perf_counter() - started)


@shared_task(name="switchboard.process_inbox_event", bind=True, max_retries=inbox.MAX_ATTEMPTS)
def process_inbox_event(self: Task, event_id: int) -> str:
    try:
        return inbox.process(db.session(), event_id, handlers())
    except Exception as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(exc, self.request.retries)) from exc


@shared_task(name="switchboard.process_inbox_events")
def process_inbox_events(event_ids: list[int]) -> dict[str, int]:
    """Several events from one publish (see switchboard.core.dispatch), in the order they
    were accepted. One that fails goes on alone as ``process_inbox_event`` with that
    task's backoff and retries, and the rest of the batch goes on; if even that
    cannot be queued, the event is back in the inbox as "received" for the sweep."""
    tally: dict[str, int] = {}
    session, bound = db.session(), handlers()
    for event_id in event_ids:
        try:
            status = inbox.process(session, event_id, bound)
        except Exception as exc:
            if inbox.status(session, event_id) == "failed":  # parked for good (no handler, or out of attempts)
                status = "failed"
            else:
                status = "retrying"
                try:
                    process_inbox_event.apply_async((event_id,), countdown=retry_countdown(exc, 0), retry=False)
                except Exception as queue_error:  # the broker went away meanwhile: the sweep retries it
                    log.warning("inbox event %s waits for the sweep: %s", event_id, type(queue_error).__name__)
        tally[status] = tally.get(status, 0) + 1
    return tally


def publish_events(event_ids: Sequence[int]) -> None:
    """One queue message for ``event_ids`` (raises when the broker is unreachable)."""
    _publish_with(current_app.extensions["celery"], event_ids)


def _publish_with(celery: Celery, event_ids: Sequence[int]) -> None:
    if len(event_ids) == 1:
        celery.send_task(process_inbox_event.name, (event_ids[0],), retry=False)
    else:
        celery.send_task(process_inbox_events.name, (list(event_ids),), retry=False)


def retry_countdown(exc: BaseException, retries: int) -> float:
    """The vendor's Retry-After when it gave one, otherwise exponential backoff. The
    worker is free meanwhile: the retry is a new message with an ETA, not a sleep."""
    if isinstance(exc, VendorRateLimited):
        return max(1.0, exc.retry_after)
    if isinstance(exc, VendorOutcomeUnknown):
        # The attempt stays in flight until its lease runs out; only then is the vendor
        # asked whether it went through. Retrying sooner would just find it in flight.
        return exc.retry_after + 1.0
    return float(min(RETRY_BACKOFF_MAX, 2 ** retries * 5))


@shared_task(name="switchboard.sweep_inbox")
def sweep_inbox() -> int:
    settings = current_app.config["SETTINGS"]
    due = inbox.due_for_sweep(db.session(), older_than=timedelta(seconds=settings.sweep_after_seconds))
    runner: EmbeddedRunner | None = current_app.extensions.get("switchboard.runner")
    if runner is not None:
        for event_id in due:
            runner.submit(event_id)
        return len(due)
    for start in range(0, len(due), MAX_BATCH):
        try:
            publish_events(due[start:start + MAX_BATCH])
        except Exception as exc:  # still unreachable: the next sweep tries again
            log.warning("queue unreachable, %d inbox event(s) wait for the next sweep: %s", len(due) - start,
                        type(exc).__name__)
            break
    return len(due)


@shared_task(name="switchboard.weekly_digest", bind=True, max_retries=5)
def weekly_digest(self: Task) -> int:
    """Monday's digest to every account with a digest channel; the idempotency key
    makes a second firing in the same week a no-op."""
    settings = current_app.config["SETTINGS"]
    session = db.session()
    sent = 0
    for account in all_accounts(session):
        channel = digest_channel(account, settings)
        if channel:
            try:
                send_digest(session, account, settings, channel=channel)
            except Exception as exc:
                raise self.retry(exc=exc, countdown=retry_countdown(exc, self.request.retries)) from exc
            sent += 1
    return sent


#: Seconds one outreach_send run sends for before handing the rest to a fresh task:
#: far below task_time_limit (300 s), so a long campaign is never killed mid-chunk.
#: The Flask config key OUTREACH_SEND_BUDGET_SECONDS overrides it (tests, tuning).
OUTREACH_SEND_BUDGET_SECONDS = 60.0


def send_outreach_chunk(campaign_id: int) -> tuple[dict[str, int], bool]:
    """One bounded chunk of a campaign; returns its tally and whether recipients are
    still due (the caller then runs the next chunk)."""
    settings = current_app.config["SETTINGS"]
    budget = float(current_app.config.get("OUTREACH_SEND_BUDGET_SECONDS", OUTREACH_SEND_BUDGET_SECONDS))
    session = db.session()
    tally = sending.run(session, settings, campaign_id, budget_seconds=budget)
    return tally, sending.more_to_send(session, settings, campaign_id, now=datetime.now(UTC))


@shared_task(name="switchboard.outreach_send", bind=True, max_retries=8)
def outreach_send(self: Task, campaign_id: int) -> dict[str, int]:
    """Send an approved campaign's due recipients (issue 6), one chunk per task; safe
    to run twice. A chunk that leaves due work re-enqueues the campaign; if that fails,
    beat's tick resumes it once the claims' lease runs out."""
    try:
        tally, more = send_outreach_chunk(campaign_id)
    except Exception as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(exc, self.request.retries)) from exc
    if more:
        enqueue_outreach_send(campaign_id)
    return tally


@shared_task(name="switchboard.outreach_tick")
def outreach_tick() -> dict[str, list[int]]:
    """Beat's outreach dispatcher: due schedules, expiries, resumed sends."""
    return campaigns.tick(db.session(), current_app.config["SETTINGS"], enqueue=enqueue_outreach_send)


@shared_task(name="switchboard.actions_tick")
def actions_tick() -> list[int]:
    """Beat's expiry of governed actions nobody approved or confirmed in time: the
    Slack message is closed and the customer or agent told (issue 7)."""
    return expire_overdue(db.session(), current_app.config["SETTINGS"])


@shared_task(name="switchboard.retention_purge")
def retention_purge() -> dict[str, dict[str, int]]:
    """Beat's daily purge of vaulted originals and transcripts older than each
    account's retention period (issue 20); the audit keeps that it happened."""
    session = db.session()
    return purge_all(session, all_accounts(session), current_app.config["SETTINGS"])


@shared_task(name="switchboard.qa_score_idle")
def qa_score_idle() -> dict[str, int]:
    """Beat's hourly QA scoring of conversations silent past the rubric's idle time
    (issue 39), with their wrap-up; each is scored once since its last message."""
    session, settings = db.session(), current_app.config["SETTINGS"]
    scored = {}
    for account in all_accounts(session):
        scored[account.slug] = len(score_idle(session, account, settings))
        session.commit()
    return scored


#: How often the embedded sweeper runs the retention purge (beat runs it daily).
EMBEDDED_PURGE_SECONDS = 3600.0


def enqueue_outreach_send(campaign_id: int) -> bool:
    """Hand a campaign to the senders; when the queue is unreachable, beat's tick
    resumes it later (its recipients are already recorded)."""
    runner: EmbeddedRunner | None = current_app.extensions.get("switchboard.runner")
    if runner is not None:
        runner.run_outreach(campaign_id)
        return True
    try:
        outreach_send.apply_async((campaign_id,), retry=False)
        return True
    except Exception as exc:  # kombu/redis raise several types for "broker unreachable"
        log.warning("queue unreachable, outreach campaign %s waits for beat: %s", campaign_id, type(exc).__name__)
        return False


def digest_channel(account: Account, settings: Settings) -> str | None:
    return secret(account, "slack_digest_channel", settings)


class EmbeddedRunner:
    """Runs inbox events on one background thread of the web process.

    One thread keeps SQLite writes serial; a periodic sweep retries failures, just as
    beat does in production. ``inline`` runs each event before the request returns,
    for tests that want determinism.
    """

    def __init__(self, app: Flask, *, inline: bool = False) -> None:
        self.app = app
        self.inline = inline
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="switchboard-task")
        self._stop = threading.Event()

    def submit(self, event_id: int) -> None:
        if self.inline:
            self._run(event_id)
        else:
            self.pool.submit(self._run, event_id)

    def _run(self, event_id: int) -> None:
        with self.app.app_context():
            try:
                inbox.process(db.session(), event_id, handlers())
            except Exception as exc:
                # No traceback: a vendor exception chained below ours quotes the request
                # (phone numbers); the event row keeps the error for inspection.
                log.warning("inbox event %s failed; the sweep will retry it: %s: %s", event_id,
                            type(exc).__name__, redact(str(exc)).text)

    def run_outreach(self, campaign_id: int) -> None:
        """Send a campaign off the request path, chunk after chunk as the Celery task
        does (a loop here, not a re-enqueue, so chunks do not nest). ``inline`` runs it
        on a thread of its own (its own session) and waits, so tests see the result
        deterministically."""
        def send() -> None:
            with self.app.app_context():
                try:
                    while send_outreach_chunk(campaign_id)[1]:
                        pass
                except Exception:
                    log.exception("outreach campaign %s failed; the tick will resume it", campaign_id)

        if self.inline:
            thread = threading.Thread(target=send, name="switchboard-outreach")
            thread.start()
            thread.join()
        else:
            self.pool.submit(send)

    def start_sweeper(self, every: float = 30.0) -> None:
        def loop() -> None:
            purged_at = 0.0
            while not self._stop.wait(every):
                with self.app.app_context():
                    if time.monotonic() - purged_at >= EMBEDDED_PURGE_SECONDS:
                        purged_at = time.monotonic()
                        try:
                            retention_purge.run()
                        except Exception:
                            log.exception("retention purge failed")
                        try:
                            qa_score_idle.run()
                        except Exception:
                            log.exception("QA scoring of idle conversations failed")
                    try:
                        sweep_inbox.run()
                    except Exception:
                        log.exception("inbox sweep failed")
                    try:
                        outreach_tick.run()
                    except Exception:
                        log.exception("outreach tick failed")
                    try:
                        actions_tick.run()
                    except Exception:
                        log.exception("governed actions tick failed")

        threading.Thread(target=loop, name="switchboard-sweeper", daemon=True).start()

    def shutdown(self) -> None:
        self._stop.set()
        self.pool.shutdown(wait=True)


#: Where create_app keeps the vendors' event tables.
EVENT_HANDLERS = "switchboard.event_handlers"


def handlers() -> Bound:
    """The running app's event handlers, bound to its settings."""
    registry: EventHandlers = current_app.extensions[EVENT_HANDLERS]
    return registry.bound(current_app.config["SETTINGS"])


def enqueue_event(event_id: int) -> None:
    """Hand a committed inbox event to the workers: in embedded mode to the runner,
    otherwise to this process's dispatcher, which publishes it off the request thread
    (several per message under load). An event whose publish fails stays in the inbox
    and the sweep enqueues it once the queue is back."""
    runner: EmbeddedRunner | None = current_app.extensions.get("switchboard.runner")
    if runner is not None:
        runner.submit(event_id)
        return
    current_app.extensions[DISPATCHER].submit(event_id)


#: Where create_app keeps this app's dispatcher (switchboard.core.dispatch).
DISPATCHER = "switchboard.dispatcher"


def init_app(app: Flask) -> None:
    celery = celery_init_app(app)
    settings = app.config["SETTINGS"]
    app.extensions[DISPATCHER] = Dispatcher(partial(_publish_with, celery), max_batch=settings.dispatch_batch,
                                            linger=settings.dispatch_linger_ms / 1000)
    enqueue.install(app, enqueue.HandOffs(event=enqueue_event, outreach_send=enqueue_outreach_send))
    if app.config["SETTINGS"].embedded:
        runner = EmbeddedRunner(app, inline=app.config.get("TASKS_INLINE", False))
        app.extensions["switchboard.runner"] = runner
