"""The ceiling for bench/intake.py: a Flask endpoint that does nothing, served the same way."""
from flask import Flask

app = Flask("bare")


@app.post("/webhooks/twilio/messages")
def nothing() -> tuple[str, int]:
    return '<?xml version="1.0" encoding="UTF-8"?><Response/>', 200


@app.get("/healthz")
def healthz() -> tuple[str, int]:
    """What the harness polls to know a worker has imported the app."""
    return "ok", 200
