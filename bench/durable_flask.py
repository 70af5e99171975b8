"""The floors for bench/intake.py: the least a webhook that answers 2xx only once the
delivery is committed can do in Flask, served the same way as bare_flask.py.

Both read the form and INSERT it as one JSONB row through plain psycopg (no
SQLAlchemy). No signature, no schema check, no deduplication, no queue: whatever intake
does beyond this costs more, so their throughput against bare Flask's bounds what any
such intake can reach on the same server and database.

- ``app``: a connection per thread, autocommit, one INSERT and so one commit a request.
- ``shared_app``: the requests a process has in flight share one multi-row INSERT and
  one commit (switchboard's own ``GroupCommit``, as our intake does): the database's
  cost a request falls, so an intake that shares commits is bounded by this one.

``BENCH_FLOOR_CONNINFO`` names the database (libpq conninfo, a schema of the
benchmark's own in its search_path) holding ``floor_events``.
"""
import json
import os
import threading
from collections.abc import Sequence
from typing import Any

import psycopg
from flask import Flask, request
from psycopg.types.json import Jsonb

from switchboard.core.store.group_commit import GroupCommit

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
INSERT = "INSERT INTO floor_events (payload) VALUES (%s) RETURNING id"

app = Flask("floor")
_local = threading.local()


def _connection() -> psycopg.Connection:
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = psycopg.connect(os.environ["BENCH_FLOOR_CONNINFO"], autocommit=True)
    return connection


@app.post("/webhooks/twilio/messages")
def record() -> tuple[str, int]:
    _connection().execute(INSERT, (Jsonb(request.form.to_dict(flat=True)),)).fetchone()
    return TWIML, 200


shared_app = Flask("floor_shared")
_shared: dict[str, Any] = {}  # this process's writer and its connection, made on first use
_shared_lock = threading.Lock()


def _insert_together(forms: Sequence[dict[str, str]]) -> list[int]:
    """One INSERT and one commit for every form waiting (GroupCommit runs one at a time)."""
    connection = _shared.get("connection")
    if connection is None:
        connection = _shared["connection"] = psycopg.connect(os.environ["BENCH_FLOOR_CONNINFO"], autocommit=True)
    values = ",".join(["(%s::jsonb)"] * len(forms))
    rows = connection.execute(f"INSERT INTO floor_events (payload) VALUES {values} RETURNING id",
                              [json.dumps(form) for form in forms], prepare=True).fetchall()
    return [row[0] for row in rows]


def _writer() -> GroupCommit[dict[str, str], int]:
    writer = _shared.get("writer")
    if writer is None:
        with _shared_lock:
            writer = _shared.setdefault("writer", GroupCommit(_insert_together, max_batch=32))
    return writer


@shared_app.post("/webhooks/twilio/messages")
def record_shared() -> tuple[str, int]:
    _writer().submit(request.form.to_dict(flat=True))
    return TWIML, 200


@app.get("/healthz")
@shared_app.get("/healthz")
def healthz() -> tuple[str, int]:
    """What the harness polls to know a worker has imported the app."""
    return "ok", 200
