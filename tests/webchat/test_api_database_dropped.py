"""The web chat API when PostgreSQL drops the request's connection (a restart, a
failover; found by bench/soak.py's outage): the widget is answered the JSON 503 the
database handler chose, not a bare 500 from the CORS hook's second look-up."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.intake import db

from ..conftest import PUBLIC_URL, base_env


def test_a_dropped_connection_is_answered_503_with_the_cors_headers_the_widget_reads(
        pg_url: str, tmp_path: Path) -> None:
    app = create_app(load_settings(base_env(tmp_path, pg_url)), config={"TESTING": True})
    admin = db.make_engine(pg_url)
    client = app.test_client()
    try:
        assert client.post("/chat/default/session", json={"token": None}).status_code == 200
        with app.app_context():  # the one connection the pool lends the next request, used a moment ago
            pid = int(db.session().execute(text("SELECT pg_backend_pid()")).scalar_one())
        with admin.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True

        answer = client.post("/chat/default/session", json={"token": None}, headers={"Origin": PUBLIC_URL})

        assert answer.status_code == 503, answer.get_data(as_text=True)
        assert "database is unavailable" in answer.get_json()["error"]
        assert answer.headers["Access-Control-Allow-Origin"] == PUBLIC_URL  # our own page's widget can read it
        assert client.post("/chat/default/session", json={"token": None}).status_code == 200  # and then it is back
    finally:
        db.get_db(app).dispose()
        admin.dispose()


def test_a_stream_whose_connection_is_dropped_ends_and_the_next_one_reads_again(
        pg_url: str, tmp_path: Path) -> None:
    """An open stream reading when the database drops its connection ends, as a stream
    that ran its minute does (the browser reconnects after its ``retry``), instead of
    raising out of the response mid-body (a cut connection and an error in the log)."""
    app = create_app(load_settings(base_env(tmp_path, pg_url)),
                     config={"TESTING": True, "WEBCHAT_RECHECK_SECONDS": 0.05})
    admin = db.make_engine(pg_url)
    client = app.test_client()
    try:
        token = client.post("/chat/default/session", json={"token": None}).get_json()["token"]
        stream = client.get(f"/chat/default/stream?token={token}", buffered=False)
        assert stream.status_code == 200
        chunks = iter(stream.response)
        assert next(chunks).startswith(b"retry:")  # the first read comes next
        with app.app_context():  # the connection the pool lends that read, used a moment ago
            pid = int(db.session().execute(text("SELECT pg_backend_pid()")).scalar_one())
        with admin.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True

        assert list(chunks) == []  # ended, not raised
        stream.close()
        again = client.get(f"/chat/default/stream?token={token}", buffered=False)
        assert again.status_code == 200
        again.close()
    finally:
        db.get_db(app).dispose()
        admin.dispose()
