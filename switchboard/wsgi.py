"""Entry point for a WSGI server: ``gunicorn 'switchboard.wsgi:app'``.

In embedded mode (no Redis) the web processes also run the tasks, so each of them
starts the sweeper that retries events a crash or a failed handler left behind and
runs the outreach tick, as ``switchboard serve`` does. With Redis, Celery beat does
that and this is just the app.
"""
from switchboard.app import create_app

app = create_app()
_runner = app.extensions.get("switchboard.runner")
if _runner is not None:
    _runner.start_sweeper(every=float(app.config["SETTINGS"].sweep_interval_seconds))
