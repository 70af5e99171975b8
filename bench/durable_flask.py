"""The floor for bench/intake.py: the least a webhook that answers 2xx only once the
delivery is committed can do in Flask, served the same way as bare_flask.py.

It reads the form and INSERTs it as one JSONB row through plain psycopg (a connection
per thread, autocommit: one round trip, no SQLAlchemy). No signature, no schema check,
no deduplication, no queue: whatever intake does beyond this costs more, so this
endpoint's throughput against bare Flask's bounds what any such intake can reach on
the same server and database. ``BENCH_FLOOR_CONNINFO`` names the database (libpq
conninfo, a schema of the benchmark's own in its search_path) holding ``floor_events``.
"""
import os
import threading

import psycopg
from flask import Flask, request
from psycopg.types.json import Jsonb

app = Flask("floor")
_local = threading.local()
INSERT = "INSERT INTO floor_events (payload) VALUES (%s) RETURNING id"


def _connection() -> psycopg.Connection:
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = psycopg.connect(os.environ["BENCH_FLOOR_CONNINFO"], autocommit=True)
    return connection


@app.post("/webhooks/twilio/messages")
def record() -> tuple[str, int]:
    _connection().execute(INSERT, (Jsonb(request.form.to_dict(flat=True)),)).fetchone()
    return '<?xml version="1.0" encoding="UTF-8"?><Response/>', 200


@app.get("/healthz")
def healthz() -> tuple[str, int]:
    """What the harness polls to know a worker has imported the app."""
    return "ok", 200
