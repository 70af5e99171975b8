"""Entry point for `celery -A switchboard.worker worker`: the Celery app of a Flask app."""
from switchboard.app import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
