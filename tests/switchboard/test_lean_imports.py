"""A web process that only takes in webhooks does not load what answering needs:
scikit-learn (the intent model), SciPy's statistics and the OpenAI SDK come with their
first use. Each gunicorn worker imported them at start-up, about 120 MB and a second
of its own, though with a Celery worker it never answers. Checked in a fresh
interpreter, since the test session has long imported everything."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from ..conftest import REDIS_URL, base_env

pytestmark = pytest.mark.slow  # starts a web process

LAZY = ("sklearn", "scipy.stats", "openai", "skops")

SCRIPT = """
import json, sys
from twilio.request_validator import RequestValidator
from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.intake.db import get_db

env, lazy = json.loads(sys.argv[1]), json.loads(sys.argv[2])
loaded = lambda: sorted(name for name in lazy if name in sys.modules)
app = create_app(load_settings(env), config={"TESTING": True})
form = {"MessageSid": "SM" + "7" * 32, "AccountSid": env["TWILIO_ACCOUNT_SID"], "NumMedia": "0",
        "Body": "where is my parcel?", "From": "+14155550100", "To": env["TWILIO_PHONE_NUMBER"]}
url = env["SWITCHBOARD_PUBLIC_URL"] + "/webhooks/twilio/messages"
signature = RequestValidator(env["TWILIO_AUTH_TOKEN"]).compute_signature(url, form)
status = app.test_client().post("/webhooks/twilio/messages", data=form,
                                headers={"X-Twilio-Signature": signature}).status_code
after_webhook = loaded()

from switchboard.core.understanding.enrichment import enrich, sentiment_trend
from switchboard.core.intents.store import intent_model
with get_db(app).session() as session:
    model = intent_model(session, app.config["SETTINGS"].data_dir, app.config["DEFAULT_ACCOUNT_ID"])
enrichment = enrich("my parcel never arrived and I want a refund", intent_model=model)
trend = sentiment_trend([0.5, 0.1, -0.6])
print(json.dumps({"status": status, "after_webhook": after_webhook, "after_answering": loaded(),
                  "intent": enrichment.intent, "trend": trend}))
"""


def test_a_web_process_takes_in_webhooks_without_loading_the_answering_stack(tmp_path: Path) -> None:
    env = {**base_env(tmp_path, f"sqlite:///{tmp_path / 'sb.db'}"), "SWITCHBOARD_REDIS_URL": REDIS_URL,
           "SWITCHBOARD_QUEUE": f"lean-{uuid.uuid4().hex[:8]}"}
    try:
        done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(env), json.dumps(LAZY)],
                              env={**os.environ, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    finally:
        redis.Redis.from_url(REDIS_URL).delete(env["SWITCHBOARD_QUEUE"])
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["status"] == 200
    assert seen["after_webhook"] == []
    # The lazy imports happen where they are needed, and the parts work. skops reads and
    # writes model files only: routing with the shipped model never imports it (0.7 s of
    # every worker's start).
    assert {"sklearn", "scipy.stats"} <= set(seen["after_answering"])
    assert "skops" not in seen["after_answering"]
    assert seen["intent"] and seen["trend"] == "falling"
