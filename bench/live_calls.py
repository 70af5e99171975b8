"""From a live transcription callback's arrival to the answer in the agent's sidebar.

A caller put through to an agent asks a question; Twilio posts the utterance to
/webhooks/twilio/voice/transcription. Measured per question: the POST's answer
(verify, check, redact, record: Twilio's side), the line on the live call card, and a
fresh suggestion for it on the card (the worker's enrichment, retrieval, drafting and
grounding), as the sidebar reads them from GET /api/sidebar/tickets/<id>/call.

Ours: --calls concurrent calls (default 20), each caller asking --rounds questions
--every seconds apart (staggered: callers do not all speak at once); burst: the same
calls asking each question as soon as the last one's suggestion showed (the worst
case, far faster than people talk). Baseline, in the same run and process: one call at
a time, the same questions.
The app runs as `switchboard serve` runs it (embedded: one background worker thread,
SQLite unless --database-url), served over HTTP on loopback by werkzeug's threaded
server; signed with twilio's RequestValidator; each call's card is polled every --poll
seconds (the sidebar polls once a second: the figure is when it could first have shown,
and the polling of 20 sidebars is part of the load).

    python bench/live_calls.py --calls 20 --rounds 3
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "12345678901234567890123456789012"
SID = "AC" + "1" * 32
PUBLIC = "https://bench.example.com"
OUR_NUMBER = "+15005550006"
QUESTIONS = ["How long does delivery usually take to arrive?", "How do I return an item I bought?",
             "Can I change my delivery address after ordering?", "How much does express delivery cost?",
             "I forgot my password, how do I reset it?", "Where is my parcel, it has not arrived?"]
TIMEOUT_S = 60.0


class Switchboard:
    """The app over HTTP, and the signed posts Twilio would make to it."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.http = base, requests.Session()
        self.auth = {"Authorization": f"Bearer {key}"}
        self.validator = RequestValidator(TOKEN)

    def twilio(self, path: str, params: dict[str, str]) -> float:
        signature = self.validator.compute_signature(PUBLIC + path, params)
        started = time.perf_counter()
        answer = self.http.post(self.base + path, data=urlencode(params), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}, timeout=30)
        assert answer.status_code in (200, 204), answer.text
        return time.perf_counter() - started

    def card(self, ticket: int) -> dict[str, Any] | None:
        answer = self.http.get(f"{self.base}/api/sidebar/tickets/{ticket}/call", headers=self.auth, timeout=30)
        return answer.json() if answer.status_code == 200 else None

    def ticket(self, call_sid: str, app: Any) -> int:
        from switchboard.core.calls.transcript import call_conversation
        from switchboard.intake.db import get_db

        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            with get_db(app).session() as session:
                conversation = call_conversation(session, app.config["DEFAULT_ACCOUNT_ID"], call_sid)
                if conversation is not None and conversation.zendesk_ticket_id is not None:
                    return conversation.zendesk_ticket_id
            time.sleep(0.05)
        raise TimeoutError(f"call {call_sid} got no ticket")


def put_through(board: Switchboard, app: Any, n: int) -> tuple[dict[str, str], int]:
    call = {"AccountSid": SID, "CallSid": f"CA{n:032x}", "From": f"+1415555{n % 10000:04d}", "To": OUR_NUMBER,
            "Direction": "inbound"}
    board.twilio("/webhooks/twilio/voice", {**call, "CallStatus": "ringing"})
    board.twilio("/webhooks/twilio/voice/gather?turn=1", {**call, "CallStatus": "in-progress",
                                                         "SpeechResult": "I want to speak to an agent",
                                                         "Confidence": "0.9"})
    ticket = board.ticket(call["CallSid"], app)
    transcription = {"AccountSid": SID, "CallSid": call["CallSid"], "TranscriptionSid": f"GT{n:032x}"}
    board.twilio("/webhooks/twilio/voice/transcription", {**transcription, "SequenceId": "1",
                                                          "TranscriptionEvent": "transcription-started",
                                                          "Track": "both_tracks"})
    return transcription, ticket


def ask(board: Switchboard, transcription: dict[str, str], ticket: int, sequence: int, question: str,
        poll: float) -> dict[str, float]:
    """One question: the callback's answer, the line on the card, a fresh suggestion on it."""
    before = {s["id"] for s in (board.card(ticket) or {}).get("suggestions", [])}
    started = time.perf_counter()
    intake = board.twilio("/webhooks/twilio/voice/transcription", {
        **transcription, "SequenceId": str(sequence), "TranscriptionEvent": "transcription-content",
        "Track": "inbound_track", "Final": "true",
        "TranscriptionData": json.dumps({"transcript": question, "confidence": 0.93})})
    line = None
    while time.perf_counter() - started < TIMEOUT_S:
        card = board.card(ticket) or {}
        now = time.perf_counter() - started
        if line is None and any(entry["text"] == question for entry in card.get("transcript", [])):
            line = now
        if line is not None and {s["id"] for s in card.get("suggestions", [])} - before:
            return {"intake": intake, "line": line, "suggestion": now}
        time.sleep(poll)
    raise TimeoutError(f"no suggestion for {question!r} on ticket {ticket} within {TIMEOUT_S} s")


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


def measured(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {what: summary([s[what] for s in samples]) for what in ("intake", "line", "suggestion")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="concurrent calls")
    parser.add_argument("--rounds", type=int, default=3, help="questions each caller asks, one after another")
    parser.add_argument("--every", type=float, default=4.0,
                        help="seconds between one caller's questions (a turn of the caller and one of the agent)")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between one sidebar's reads of the card")
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder (as `switchboard serve`)")
    args = parser.parse_args()

    from switchboard.app import create_app
    from switchboard.core import accounts
    from switchboard.core.knowledge.loaders import load_articles
    from switchboard.core.knowledge.service import KnowledgeBase
    from switchboard.core.settings import load_settings
    from switchboard.core.warmup import warm_up
    from switchboard.intake.db import get_db

    with tempfile.TemporaryDirectory() as tmp:
        env = {"SWITCHBOARD_DATA_DIR": tmp, "SWITCHBOARD_PUBLIC_URL": PUBLIC, "SWITCHBOARD_SANDBOX": "1",
               "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_PHONE_NUMBER": OUR_NUMBER,
               "SWITCHBOARD_VOICE_SUPPORT_NUMBER": "+15005550010",
               **({"SWITCHBOARD_DATABASE_URL": args.database_url} if args.database_url else {})}
        app = create_app(load_settings(env), config={"VOICE_WARM_UP": False})
        settings = app.config["SETTINGS"]
        with get_db(app).session() as session:
            KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], settings.data_dir).import_articles(
                load_articles(ROOT / "switchboard" / "data" / "sample_kb.json"))
            default = accounts.by_slug(session, accounts.DEFAULT_SLUG)
            assert default is not None
            key = accounts.create_api_key(session, default, "bench")
            list(warm_up(session, default.id, settings))  # as `switchboard serve` does before it listens
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        board = Switchboard(f"http://127.0.0.1:{server.server_port}", key)

        # Baseline: one call at a time (after one untimed question loads what is lazy).
        transcription, ticket = put_through(board, app, 0)
        ask(board, transcription, ticket, 2, QUESTIONS[-1], args.poll)
        alone = [ask(board, transcription, ticket, 3 + r, QUESTIONS[r % len(QUESTIONS)], args.poll)
                 for r in range(args.rounds * 2)]

        def concurrently(first: int, every: float) -> tuple[list[dict[str, float]], list[str], float]:
            """--calls calls at once, each caller asking --rounds questions ``every``
            seconds apart (0: each as soon as the last one's suggestion showed)."""
            calls = [put_through(board, app, n) for n in range(first, first + args.calls)]
            samples: list[dict[str, float]] = []
            failures: list[str] = []
            start = threading.Barrier(args.calls)

            def caller(n: int) -> None:
                transcription, ticket = calls[n]
                start.wait()
                time.sleep(every * n / args.calls)  # callers do not all speak at the same instant
                for r in range(args.rounds):
                    began = time.perf_counter()
                    try:
                        samples.append(ask(board, transcription, ticket, 2 + r,
                                           QUESTIONS[(n + r) % len(QUESTIONS)], args.poll))
                    except (TimeoutError, AssertionError) as exc:
                        failures.append(str(exc))
                    time.sleep(max(0.0, every - (time.perf_counter() - began)))

            threads = [threading.Thread(target=caller, args=(n,)) for n in range(args.calls)]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return samples, failures, time.perf_counter() - began

        paced, paced_failures, paced_wall = concurrently(1, args.every)
        burst, burst_failures, burst_wall = concurrently(1 + args.calls, 0.0)
        server.shutdown()
        app.extensions["switchboard.runner"].shutdown()
        get_db(app).dispose()

    print(json.dumps({
        "what": "transcription callback's arrival → the caller's line, then a fresh suggestion for it, on the "
                "sidebar's live call card (GET /api/sidebar/tickets/<id>/call)",
        "database": "given" if args.database_url else "sqlite (temporary)",
        "mode": "embedded (`switchboard serve`: one background worker thread), werkzeug threaded HTTP on loopback",
        "poll_s": args.poll,
        "ours": {"concurrent_calls": args.calls, "each_caller_every_s": args.every, "questions": len(paced),
                 "wall_s": round(paced_wall, 1), **measured(paced), "failures": paced_failures},
        "burst": {"concurrent_calls": args.calls, "each_caller_every_s": 0, "questions": len(burst),
                  "wall_s": round(burst_wall, 1), **measured(burst), "failures": burst_failures},
        "baseline": {"concurrent_calls": 1, "questions": len(alone), **measured(alone)},
        "goal_p95_ms": 1000,
    }, indent=2))


if __name__ == "__main__":
    sys.exit(main())
