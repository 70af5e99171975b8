"""How long a caller waits for each answer: the voice webhooks answer in the request
(Twilio gives up after 15 s), so their latency is what the caller hears as silence.

Ours: a signed POST /webhooks/twilio/voice/gather (verify, record in the inbox, redact,
enrich, retrieve, draft, ground, TwiML), each from a new caller after their greeting.
Baseline, in the same run and process: a signed POST /webhooks/twilio/messages (verify,
record, enqueue, empty TwiML), the path that answers SMS later. Cold is the first call
and its first turn in a fresh process (a deploy under gunicorn): the first call starts
loading the models on a thread while the caller listens (--listen seconds);
--no-warm-up shows the first turn without that.

    python bench/voice_turn.py --turns 200
    python bench/voice_turn.py --turns 20 --no-warm-up

Sandboxed vendors, SQLite in a temporary directory, the sample knowledge base, the
Flask test client (no HTTP server: the figure is our code, not the network). The
background worker is drained between requests, outside the timings. Prints JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "12345678901234567890123456789012"
SID = "AC" + "1" * 32
PUBLIC = "https://bench.example.com"
QUESTIONS = ["How long does delivery usually take?", "How do I return an item?", "Can I change my delivery address?",
             "How much does express delivery cost?", "I forgot my password", "Where is my parcel?"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--listen", type=float, default=8.0,
                        help="seconds between the first greeting and the first turn: the caller hearing the "
                             "greeting and answering (~25 words of greeting, a sentence of question)")
    parser.add_argument("--no-warm-up", action="store_true", help="the first call does not start loading models")
    args = parser.parse_args()

    from switchboard.app import create_app
    from switchboard.core.knowledge.loaders import load_articles
    from switchboard.core.knowledge.service import KnowledgeBase
    from switchboard.core.settings import load_settings
    from switchboard.intake.db import get_db

    with tempfile.TemporaryDirectory() as tmp:
        env = {"SWITCHBOARD_DATA_DIR": tmp, "SWITCHBOARD_PUBLIC_URL": PUBLIC, "SWITCHBOARD_SANDBOX": "1",
               "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_PHONE_NUMBER": "+15005550006",
               "SWITCHBOARD_VOICE_SUPPORT_NUMBER": "+15005550010"}
        app = create_app(load_settings(env), config={"TESTING": True, "VOICE_WARM_UP": not args.no_warm_up})
        with get_db(app).session() as session:
            KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
                load_articles(ROOT / "switchboard" / "data" / "sample_kb.json"))
        client = app.test_client()
        runner = app.extensions["switchboard.runner"]

        def post(path: str, params: dict[str, str]) -> float:
            signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, params)
            started = time.perf_counter()
            response = client.post(path, data=urlencode(params), content_type="application/x-www-form-urlencoded",
                                   headers={"X-Twilio-Signature": signature})
            took = time.perf_counter() - started
            assert response.status_code == 200, response.get_data(as_text=True)
            runner.pool.submit(lambda: None).result()  # the worker's share, outside the timing
            return took

        def call(n: int, listen: float = 0.0) -> tuple[float, float]:
            base = {"AccountSid": SID, "CallSid": f"CA{n:032x}", "From": f"+1415555{n % 10000:04d}",
                    "To": "+15005550006", "Direction": "inbound", "ApiVersion": "2010-04-01"}
            greeting = post("/webhooks/twilio/voice", {**base, "CallStatus": "ringing"})
            time.sleep(listen)
            turn = post("/webhooks/twilio/voice/gather?turn=1", {
                **base, "CallStatus": "in-progress", "SpeechResult": QUESTIONS[n % len(QUESTIONS)],
                "Confidence": "0.92"})
            return greeting, turn

        cold_greeting, cold_turn = call(0, args.listen)
        greetings, turns, sms = [], [], []
        for n in range(1, args.turns + 1):
            greeting, turn = call(n)
            greetings.append(greeting)
            turns.append(turn)
            sms.append(post("/webhooks/twilio/messages", {
                "AccountSid": SID, "MessageSid": f"SM{n:032x}", "From": f"+1415666{n % 10000:04d}",
                "To": "+15005550006", "Body": QUESTIONS[n % len(QUESTIONS)], "NumMedia": "0"}))
        runner.shutdown()
        get_db(app).dispose()

    def summary(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
                "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 1),
                "max_ms": round(ordered[-1] * 1000, 1)}

    print(json.dumps({
        "turns": args.turns,
        "cold": {"greeting_ms": round(cold_greeting * 1000, 1), "first_turn_ms": round(cold_turn * 1000, 1),
                 "listened_s": args.listen, "warm_up_at_first_call": not args.no_warm_up},
        "ours": {"greeting": summary(greetings), "speech_turn": summary(turns)},
        "baseline": {"sms_accept": summary(sms)},
        "twilio_timeout_ms": 15000,
    }, indent=2))


if __name__ == "__main__":
    sys.exit(main())
