"""The improvement loop on StackFAQ (issue 38): does an article drafted from agents'
answers to questions the knowledge base lacked answer the next customers?

StackFAQ's 125 threads become articles (bench/retrieval.py). ``--hidden`` of them (20,
chosen with ``--seed``) are left out of the knowledge base. The help center is in use:
the other threads' customers first ask the first ``--traffic`` of their tuning
questions by signed SMS (what its articles answer for real customers, which a draft's
proof checks it does not take). Then customers ask the hidden threads' questions by
signed Twilio SMS (the FIRST group of each hidden thread's paraphrases, the
tuning half, ``--asked`` per thread) and reply AGENT; a simulated agent answers each
ticket with the hidden article's text (a signed Zendesk public comment) and solves it
(a signed status change). The loop drafts, proves, and the drafts are approved (those
whose proof says they take other articles' questions are rejected, as a reviewer
would), then the held-out half is asked, through `switchboard eval`'s decision path:

* ``hidden``: the SECOND group of paraphrases of the hidden threads (never seen by the
  loop): share answered outright with the right article, before and after the loop;
  after, "right" is the first draft drafted from that thread's tickets (``after``), or
  any draft drafted mostly from them (``after_any_draft_of_the_thread``: a thread whose
  tickets became two drafts has two right answers);
* ``elsewhere``: the SECOND group of the 105 other threads: right and wrong answers
  before and after (a draft must not take their questions), each wrong answer added
  listed; and the same with the hidden articles imported as written instead of the
  drafts (``oracle_articles_as_written``: some StackFAQ threads ask nearly the same
  thing, and a question of one is then answered from the other whoever wrote it);
* ``oracle``: the same with the hidden articles imported as written (the ceiling).

    python bench/knowledge_loop.py --stackfaq /work/shared/data/stackfaq/stackExchange-FAQ.json \
        [--hidden 20] [--asked 2] [--seed 38]

Runs in-process on a throwaway SQLite database, sandboxed (nothing leaves the machine).
Prints one JSON object.
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import hmac
import json
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from switchboard.app import create_app
from switchboard.core.conversation import evaluation
from switchboard.core.knowledge.records import Article
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.knowledge_loop import drafts as kb_drafts
from switchboard.core.knowledge_loop import proof as kb_proof
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Account, Conversation, KbDraft
from switchboard.intake.db import get_db

sys.path.insert(0, str(Path(__file__).parent))
from retrieval import load_stackfaq  # noqa: E402

TOKEN = "12345678901234567890123456789012"
ACCOUNT_SID = "AC" + "1" * 32
ZENDESK_SECRET = "bench-zendesk-secret"
PUBLIC_URL = "https://switchboard.example.com"
OUR_NUMBER = "+15005550006"


class Loop:
    """The app in-process, and the three people of the loop talking to it signed."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.numbers = iter(range(1_000_000))

    def sms(self, body: str, phone: str) -> None:
        params = {"MessageSid": f"SM{uuid.uuid4().hex}", "AccountSid": ACCOUNT_SID, "NumMedia": "0",
                  "Body": body, "From": phone, "To": OUR_NUMBER}
        signature = RequestValidator(TOKEN).compute_signature(PUBLIC_URL + "/webhooks/twilio/messages", params)
        response = self.client.post("/webhooks/twilio/messages", data=urlencode(params),
                                    content_type="application/x-www-form-urlencoded",
                                    headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200, response.get_data(as_text=True)

    def zendesk(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        signature = base64.b64encode(hmac.new(ZENDESK_SECRET.encode(), stamp.encode() + body,
                                              hashlib.sha256).digest()).decode()
        response = self.client.post("/webhooks/zendesk", data=body, content_type="application/json", headers={
            "X-Zendesk-Webhook-Signature": signature, "X-Zendesk-Webhook-Signature-Timestamp": stamp})
        assert response.status_code == 200, response.get_data(as_text=True)

    def agent_answers_and_solves(self, ticket_id: int, answer: str) -> None:
        detail = {"actor_id": "9001", "id": str(ticket_id), "requester_id": "8001", "status": "OPEN",
                  "subject": "Question", "via": {"channel": "web_service"}}
        self.zendesk({"account_id": 1, "detail": detail, "id": f"evt-{uuid.uuid4().hex}",
                      "subject": f"zen:ticket:{ticket_id}", "time": datetime.now(UTC).isoformat(),
                      "type": "zen:event-type:ticket.comment_added", "zendesk_event_version": "2022-11-06",
                      "event": {"comment": {"author": {"id": "9001", "is_staff": True, "name": "Agent"},
                                            "body": answer, "id": str(next(self.numbers)), "is_public": True}}})
        self.zendesk({"account_id": 1, "detail": {**detail, "status": "SOLVED"}, "id": f"evt-{uuid.uuid4().hex}",
                      "subject": f"zen:ticket:{ticket_id}", "time": datetime.now(UTC).isoformat(),
                      "type": "zen:event-type:ticket.status_changed", "zendesk_event_version": "2022-11-06",
                      "event": {"current": "SOLVED", "previous": "OPEN"}})

    def latest_ticket(self) -> int | None:
        with get_db(self.app).session() as session:
            conversation = session.scalars(select(Conversation).order_by(Conversation.id.desc())).first()
            return conversation.zendesk_ticket_id if conversation else None


def evaluate(app: Flask, questions: Sequence[evaluation.Question]) -> list[evaluation.Outcome]:
    with app.app_context(), get_db(app).session() as session:
        account = session.get(Account, app.config["DEFAULT_ACCOUNT_ID"])
        assert account is not None
        config = evaluation.configuration(session, account, app.config["SETTINGS"])
        return evaluation.evaluate(questions, config)


def judged_against(outcome: evaluation.Outcome, right: set[str]) -> evaluation.Outcome:
    """The outcome judged right when it cites (or offers) any of ``right``: a thread whose
    tickets were drafted as two articles has two right answers. ``after`` counts only
    its first draft; ``after_any_draft_of_the_thread`` counts each draft drafted mostly
    from the thread's own tickets (a draft that mixed threads counts for its majority)."""
    verdicts = {evaluation.verdict(outcome.action, article, outcome.articles, outcome.choices) for article in right}
    for better in ("answered_right", "choices_with_right"):
        if better in verdicts:
            return dataclasses.replace(outcome, verdict=better)
    return outcome


def added_wrong(questions: Sequence[evaluation.Question], before: Sequence[evaluation.Outcome],
                after: Sequence[evaluation.Outcome]) -> list[dict[str, Any]]:
    """The questions answered wrongly after and not before, with the article cited."""
    return [{"question": q.text, "article": q.expected, "cited": a.article}
            for q, b, a in zip(questions, before, after, strict=True)
            if a.verdict == "answered_wrong" and b.verdict != "answered_wrong"]


def figures(outcomes: Sequence[evaluation.Outcome]) -> dict[str, Any]:
    tally = Counter(o.verdict for o in outcomes)
    n = len(outcomes) or 1
    return {"questions": len(outcomes), "answered_right": tally["answered_right"],
            "answered_right_share": round(tally["answered_right"] / n, 3),
            "reached_share": round((tally["answered_right"] + tally["choices_with_right"]) / n, 3),
            "answered_wrong": tally["answered_wrong"], "answered_wrong_share": round(tally["answered_wrong"] / n, 3)}


def make_app(directory: Path) -> Flask:
    env = {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{directory / 'bench.db'}", "SWITCHBOARD_DATA_DIR": str(directory),
           "SWITCHBOARD_PUBLIC_URL": PUBLIC_URL, "SWITCHBOARD_SANDBOX": "1", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
           "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_PHONE_NUMBER": OUR_NUMBER, "ZENDESK_SUBDOMAIN": "bench",
           "ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET, "SWITCHBOARD_HELP_CENTER_SECTION_ID": "1",
           "SWITCHBOARD_COMPANY_NAME": "Bench"}
    return create_app(load_settings(env), config={"TASKS_INLINE": True, "TESTING": True})


def import_articles(app: Flask, articles: Sequence[Article]) -> None:
    with get_db(app).session() as session:
        KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
            articles)


def say(started: float, what: str) -> None:
    """Progress on stderr (the JSON alone goes to stdout)."""
    print(f"[{time.monotonic() - started:7.1f}s] {what}", file=sys.stderr, flush=True)


def run(path: Path, *, hidden_count: int, asked: int, seed: int, traffic: int) -> dict[str, Any]:
    articles, tune, test = load_stackfaq(path)
    hidden = set(random.Random(seed).sample([a.id for a in articles], hidden_count))
    live = [a for a in articles if a.id not in hidden]
    by_id = {a.id: a for a in articles}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp))
        import_articles(app, live)
        say(started, f"imported {len(live)} articles")
        hidden_test = [q for q in test if q[1] in hidden]
        elsewhere = [evaluation.Question(text, article) for text, article in test if article not in hidden]
        before_hidden = evaluate(app, [evaluation.Question(t, a) for t, a in hidden_test])
        before_elsewhere = evaluate(app, elsewhere)
        # The other threads' questions with the hidden articles back as written (in memory):
        # what the original help center got wrong of them, the floor for "no rise".
        with app.app_context(), get_db(app).session() as session:
            account = session.get(Account, app.config["DEFAULT_ACCOUNT_ID"])
            assert account is not None
            oracle_elsewhere = evaluation.evaluate(elsewhere, kb_proof.preview_configuration(
                session, account, app.config["SETTINGS"], [by_id[a] for a in sorted(hidden)],
                label="live + the hidden articles as written"))
        say(started, "evaluated before the loop")

        loop = Loop(app)
        ticket_article: dict[int, str] = {}
        phone = iter(range(10_000))
        # The help center in use before the gaps: the other threads' customers ask (the
        # first of their tuning questions), so the proofs see what the live articles
        # answer for real customers. Their held-out questions stay unseen.
        for article_id in sorted({a.id for a in live}):
            for text in [t for t, a in tune if a == article_id][:traffic]:
                loop.sms(text, f"+1650{next(phone):07d}")
        say(started, f"{traffic} question(s) a live thread asked by SMS")
        for article_id in sorted(hidden):
            for text in [t for t, a in tune if a == article_id][:asked]:
                number = f"+1415{next(phone):07d}"
                loop.sms(text, number)
                loop.sms("AGENT", number)
                ticket = loop.latest_ticket()
                if ticket is None:
                    continue
                ticket_article[ticket] = article_id
                loop.agent_answers_and_solves(ticket, by_id[article_id].body)
            say(started, f"asked, answered and solved the questions of {article_id}")
        asked_at = time.monotonic()

        draft_for: dict[str, str] = {}  # hidden article -> its first published draft's article
        drafts_of: dict[str, set[str]] = {}  # hidden article -> every published draft drafted mostly from it
        decided = Counter[str]()
        with app.app_context(), get_db(app).session() as session:
            account = session.get(Account, app.config["DEFAULT_ACCOUNT_ID"])
            assert account is not None
            pending = list(session.scalars(select(KbDraft).where(KbDraft.status == "pending").order_by(KbDraft.id)))
            for draft in pending:
                verdict = "reject" if draft.proof.get("steals") else "approve"
                decision = kb_drafts.decide(session, account, app.config["SETTINGS"], draft.id, verdict,
                                            actor="bench")
                decided[decision.outcome] += 1
                sources = Counter(ticket_article.get(int(s["ticket_id"]), "?") for s in draft.sources)
                if decision.outcome == "approved" and decision.draft.article_id:
                    draft_for.setdefault(sources.most_common(1)[0][0], decision.draft.article_id)
                    drafts_of.setdefault(sources.most_common(1)[0][0], set()).add(decision.draft.article_id)
            drafts_total = len(pending)
            kinds = Counter(draft.kind for draft in pending)
            # Where each draft came from: the hidden threads of its tickets (two threads in
            # one draft is a wrong merge; a thread in no draft lost its article).
            profile = [{"id": d.id, "kind": d.kind, "target": d.target_article_id, "status": d.status,
                        "threads": sorted(Counter(ticket_article.get(int(s["ticket_id"]), "?")
                                                  for s in d.sources).items()),
                        "proof_after": {k: (d.proof.get("after") or {}).get(k) for k in ("answered", "menu")},
                        "steals": d.proof.get("steals")} for d in pending]
            proof_after = Counter[str]()
            for draft in pending:
                after = draft.proof.get("after") or {}
                proof_after.update({k: int(after.get(k, 0)) for k in ("questions", "answered", "menu")})
        after_hidden = evaluate(app, [evaluation.Question(t, draft_for.get(a, a)) for t, a in hidden_test])
        after_hidden_any = [judged_against(o, drafts_of.get(a, {a})) for o, (_t, a) in zip(after_hidden, hidden_test,
                                                                                          strict=True)]
        after_elsewhere = evaluate(app, elsewhere)
        say(started, "evaluated after the loop")

        import_articles(app, [by_id[a] for a in sorted(hidden)])  # the ceiling: the articles as written
        oracle_hidden = evaluate(app, [evaluation.Question(t, a) for t, a in hidden_test])
    return {
        "data": "StackFAQ", "articles": len(articles), "hidden": hidden_count, "seed": seed,
        "split": "loop fed the FIRST paraphrase group (tuning half) of hidden threads; reported on the SECOND "
                 "(held-out) group",
        "asked_per_hidden_article": asked, "asked_per_live_article": traffic,
        "tickets": len(ticket_article), "drafts": drafts_total,
        "decisions": dict(decided), "draft_kinds": dict(kinds),
        "hidden_articles_with_a_published_draft": len(draft_for),
        "hidden_articles_without_a_ticket": sorted(hidden - set(ticket_article.values())),
        "drafts_profile": profile,
        "proof_on_gap_questions": dict(proof_after),
        "hidden_later_questions": {"before": figures(before_hidden), "after": figures(after_hidden),
                                   "after_any_draft_of_the_thread": figures(after_hidden_any),
                                   "oracle_articles_as_written": figures(oracle_hidden)},
        "elsewhere": {"before": figures(before_elsewhere), "after": figures(after_elsewhere),
                      "oracle_articles_as_written": figures(oracle_elsewhere),
                      "oracle_wrong_answers_added": added_wrong(elsewhere, before_elsewhere, oracle_elsewhere),
                      "wrong_answers_added": added_wrong(elsewhere, before_elsewhere, after_elsewhere)},
        "seconds": {"loop": round(asked_at - started, 1), "total": round(time.monotonic() - started, 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stackfaq", type=Path, required=True)
    parser.add_argument("--hidden", type=int, default=20)
    parser.add_argument("--asked", type=int, default=2, help="Questions sent per hidden article (tuning half).")
    parser.add_argument("--seed", type=int, default=38)
    parser.add_argument("--traffic", type=int, default=1,
                        help="Questions each live thread's customers ask first (tuning half).")
    args = parser.parse_args()
    print(json.dumps(run(args.stackfaq, hidden_count=args.hidden, asked=args.asked, seed=args.seed,
                         traffic=args.traffic), indent=2))


if __name__ == "__main__":
    main()
