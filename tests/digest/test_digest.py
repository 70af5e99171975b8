"""The weekly digest, computed from a seeded history whose figures are worked out by
hand in the comments, on SQLite and PostgreSQL (the ``app`` fixture)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.app import create_app
from switchboard.apps.slack.digest_view import MAX_BLOCKS, digest_blocks
from switchboard.core.knowledge_loop.digest import (
    ArticleVotes,
    Digest,
    DigestPeriodError,
    GapGroup,
    Proposal,
    compute_digest,
    digest_period,
    group_questions,
    recent_period,
    send_digest,
)
from switchboard.core.settings import load_settings
from switchboard.core.store.models import (
    Account,
    AuditEntry,
    Conversation,
    ConversationScore,
    Customer,
    KbArticle,
    Message,
    OutboxCall,
    Suggestion,
    SuggestionFeedback,
)
from switchboard.intake.db import get_db

from ..conftest import base_env
from ..connectors.conftest import FakeSlackApi

END = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday, midnight UTC
START = END - timedelta(days=7)
PREVIOUS = START - timedelta(days=7)
CHANNEL = "C0SUPERVISORS"

RETURNS = {"article_id": "returns", "passage": "returns#1", "title": "Returns and refunds",
           "url": "https://help.example.com/returns"}
SHIPPING_1 = {"article_id": "shipping", "passage": "shipping#1", "title": "Shipping times", "url": None}
SHIPPING_2 = {**SHIPPING_1, "passage": "shipping#2"}
WARRANTY = {"article_id": "warranty", "passage": "warranty#1", "title": "Warranty", "url": None}
GIFT_CARDS = {"article_id": "gift-cards", "passage": "gift-cards#1", "title": "Gift cards", "url": None}


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with get_db(app).session() as db_session:
        yield db_session


@pytest.fixture
def account(app: Flask, session: Session) -> Account:
    found = session.get(Account, app.config["DEFAULT_ACCOUNT_ID"])
    assert found is not None
    return found


@pytest.fixture
def other_account(session: Session) -> Account:
    other = Account(slug="other", name="Other shop", secrets={})
    session.add(other)
    session.commit()
    return other


# -- seeding -------------------------------------------------------------------------


def at(day: int, hour: int = 12) -> datetime:
    """A moment ``day`` days after the current period's start (negative: before it)."""
    return START + timedelta(days=day, hours=hour)


def suggestion(session: Session, account: Account, when: datetime, *sources: dict[str, Any]) -> Suggestion:
    row = Suggestion(account_id=account.id, zendesk_ticket_id=100, query="customer question",
                     text="Suggested reply.", sources=list(sources), engine="local", status="ready",
                     created_at=when)
    session.add(row)
    session.flush()
    return row


def feedback(session: Session, s: Suggestion, kind: str, when: datetime, *, agent: str = "ana",
             rating: str | None = None, reason: str | None = None, edit_distance: float | None = None) -> None:
    session.add(SuggestionFeedback(account_id=s.account_id, suggestion_id=s.id, agent=agent, kind=kind,
                                   rating=rating, reason=reason, edit_distance=edit_distance, created_at=when))


@dataclass
class Timeline:
    session: Session
    account: Account

    def exchange(self, question: str, *, action: str, reason: str | None, when: datetime) -> None:
        """A customer's question and the bot's reply to it, in a conversation of their own."""
        customer = Customer(account_id=self.account.id)
        self.session.add(customer)
        self.session.flush()
        conversation = Conversation(account_id=self.account.id, customer_id=customer.id, channel="sms",
                                    started_at=when, last_message_at=when)
        self.session.add(conversation)
        self.session.flush()
        asked = Message(account_id=self.account.id, conversation_id=conversation.id, direction="inbound",
                        channel="sms", author="customer", body=question, meta={}, created_at=when)
        self.session.add(asked)
        self.session.flush()
        self.session.add(Message(
            account_id=self.account.id, conversation_id=conversation.id, direction="outbound", channel="sms",
            author="bot", body="…", created_at=when + timedelta(seconds=2),
            meta={"action": action, "reason": reason, "sources": [], "in_reply_to": asked.id}))
        self.session.flush()


def seed_assist(session: Session, account: Account, other: Account) -> None:
    """Current week: 8 suggestions, 4 inserted (50 %); sent after insert s0, s1, s2 with
    distances 0, 0.5, 0.25 (average 0.25); thumbs: up s0, s1, s2, s7 and down s4, s5,
    s6 twice = 4 up / 4 down (50 %). Previous week: 4 suggestions, 3 inserted (75 %),
    1 up / 3 down (25 %). So insertion moved -25 points, thumbs-up +25 points."""
    s = [suggestion(session, account, at(0, hour), *sources) for hour, sources in enumerate([
        (RETURNS,), (SHIPPING_1,), (GIFT_CARDS,), (WARRANTY,), (RETURNS,), (SHIPPING_1, SHIPPING_2),
        (RETURNS, WARRANTY), (GIFT_CARDS,)])]
    for n in range(4):
        feedback(session, s[n], "inserted", at(n, 13))
    feedback(session, s[0], "sent", at(0, 14), edit_distance=0.0)
    feedback(session, s[1], "sent", at(1, 14), edit_distance=0.5)
    feedback(session, s[2], "sent", at(2, 14), edit_distance=0.25)
    feedback(session, s[5], "sent", at(5, 14), edit_distance=1.0)  # never inserted: not "sent after insert"
    feedback(session, s[0], "rating", at(0, 15), rating="up")
    feedback(session, s[1], "rating", at(1, 15), rating="up")
    feedback(session, s[2], "rating", at(2, 15), agent="ben", rating="up")
    feedback(session, s[4], "rating", at(4, 15), rating="down", reason="wrong return window")
    feedback(session, s[5], "rating", at(5, 15), agent="ben", rating="down", reason="outdated")
    feedback(session, s[6], "rating", at(6, 9), rating="down", reason="wrong return window")
    feedback(session, s[6], "rating", at(6, 10), agent="ben", rating="down", reason="too long")
    feedback(session, s[7], "rating", at(6, 11), rating="down", reason="misread")
    feedback(session, s[7], "rating", at(6, 12), rating="up")  # changed their mind: one up-vote
    # Outside the cohort or the period: none of these may count.
    feedback(session, s[3], "rating", END + timedelta(hours=1), rating="down", reason="after the digest")
    late = suggestion(session, account, END + timedelta(hours=2), RETURNS)
    feedback(session, late, "inserted", END + timedelta(hours=3))
    foreign = suggestion(session, other, at(1), RETURNS)
    feedback(session, foreign, "rating", at(1, 13), rating="down", reason="other account")

    before = [suggestion(session, account, at(-7 + day), GIFT_CARDS) for day in range(4)]
    for n in range(3):
        feedback(session, before[n], "inserted", at(-7 + n, 13))
    feedback(session, before[0], "rating", at(-7, 14), rating="up")
    for n in (1, 2, 3):
        feedback(session, before[n], "rating", at(-7 + n, 14), rating="down")
    session.add(KbArticle(account_id=account.id, external_id="returns", source="file",
                          title="Returns & refunds (2026)", body="…", content_hash="x"))
    session.commit()


def seed_gaps(session: Session, account: Account, other: Account) -> None:
    """Gaps: 4 questions on parcel/arrived, 2 on gift wrapping, 1 on changing an email;
    7 in 3 groups. Everything else is not a knowledge gap or not in the period."""
    mine = Timeline(session, account)
    mine.exchange("Where is my parcel? It has not arrived", action="clarify", reason="low_confidence", when=at(0))
    mine.exchange("my parcel hasn't arrived", action="handoff", reason="low_confidence", when=at(1))
    mine.exchange("Do you sell gift wrapping?", action="clarify", reason="too_vague", when=at(1, 14))
    mine.exchange("My parcel hasn't arrived", action="handoff", reason="out_of_scope", when=at(2))
    mine.exchange("gift wrapping for christmas?", action="handoff", reason="ungrounded_draft", when=at(3))
    mine.exchange("parcel still not arrived, ordered last week", action="clarify", reason="low_confidence",
                  when=at(4))
    mine.exchange("<!channel> change the email on my account [EMAIL]", action="handoff",
                  reason="low_confidence", when=at(5))
    # Not gaps: a person asked for, small talk (clarify without a reason), an answer, a question with no topic word…
    mine.exchange("can I pay with crypto, I want a human", action="handoff", reason="explicit_request", when=at(2))
    mine.exchange("hi there, thanks for the quick delivery", action="clarify", reason=None, when=at(2))
    # … nor the customer saying an answer or a menu did not help (the bot's reply is a clarification with a reason)
    mine.exchange("that didn't help at all", action="clarify", reason="did_not_help", when=at(2, 1))
    mine.exchange("none of these", action="clarify", reason="did_not_help", when=at(2, 2))
    mine.exchange("where is my parcel", action="answer", reason=None, when=at(3))
    mine.exchange("??", action="clarify", reason="too_vague", when=at(3))
    # Gaps outside the period or the account.
    mine.exchange("parcel arrived damaged", action="clarify", reason="low_confidence", when=at(-1))
    mine.exchange("parcel arrived damaged", action="clarify", reason="low_confidence", when=END)
    Timeline(session, other).exchange("parcel arrived damaged", action="handoff", reason="low_confidence",
                                      when=at(1))
    session.commit()


@pytest.fixture
def seeded(session: Session, account: Account, other_account: Account) -> Digest:
    seed_assist(session, account, other_account)
    seed_gaps(session, account, other_account)
    return compute_digest(session, account.id, start=START, end=END)


# -- figures -------------------------------------------------------------------------


def test_headline_figures_match_the_hand_computed_history(seeded: Digest) -> None:
    d = seeded
    assert (d.suggestions_shown, d.inserted, d.sent_after_insert) == (8, 4, 3)
    assert d.insert_rate == pytest.approx(0.5)
    assert d.avg_edit_distance == pytest.approx(0.25)
    assert (d.thumbs_up, d.thumbs_down) == (4, 4)
    assert d.thumbs_up_rate == pytest.approx(0.5)
    assert (d.previous.shown, d.previous.inserted, d.previous.thumbs_up, d.previous.thumbs_down) == (4, 3, 1, 3)
    assert d.insert_rate_change == pytest.approx(0.5 - 0.75)
    assert d.thumbs_up_rate_change == pytest.approx(0.5 - 0.25)
    assert not d.is_empty


def test_down_voted_articles_are_ranked_with_current_titles_and_reasons(seeded: Digest) -> None:
    # returns: down from s4 and twice from s6, up from s0; warranty: down twice (s6);
    # shipping: down from s5 (two passages, one article), up from s1. Gift cards only up.
    assert [v.as_tuple() for v in seeded.downvoted_articles] == [
        ("Returns & refunds (2026)", 3, 1), ("Warranty", 2, 0), ("Shipping times", 1, 1)]
    assert seeded.downvoted_articles[0].reasons == ("too long", "wrong return window")


def test_unanswered_questions_are_grouped_by_topic_with_counts(seeded: Digest) -> None:
    assert seeded.gaps == (
        GapGroup(words=("arrived", "parcel"), count=4, example="my parcel hasn't arrived"),
        GapGroup(words=("gift", "wrapping"), count=2, example="Do you sell gift wrapping?"),
        GapGroup(words=("account", "change"), count=1,
                 example="<!channel> change the email on my account [EMAIL]"),
    )
    assert (seeded.gap_questions, seeded.gap_group_count) == (7, 3)


def test_grouping_ignores_redaction_placeholders_and_wordless_questions() -> None:
    groups = group_questions(["[EMAIL] voucher expired", "my voucher expired [EMAIL]!", "???", "[PHONE]"])

    assert groups == [GapGroup(words=("expired", "voucher"), count=2, example="[EMAIL] voucher expired")]


def test_proposals_are_one_per_gap_group_and_per_heavily_down_voted_article(seeded: Digest) -> None:
    # Warranty's 2 down-votes are under the review threshold of 3.
    assert seeded.proposals == (
        Proposal("new_article", "New article suggested: my parcel hasn't arrived", 4),
        Proposal("new_article", "New article suggested: Do you sell gift wrapping?", 2),
        Proposal("new_article", "New article suggested: <!channel> change the email on my account [EMAIL]", 1),
        Proposal("review_article", "Review article Returns & refunds (2026): 3 down-votes, reasons: too long; "
                 "wrong return window", 3),
    )


def test_an_article_liked_as_often_as_disliked_is_not_proposed_for_review(session: Session, account: Account) -> None:
    for n, rating in enumerate(["down", "up"] * 3 + ["down"] * 2):
        feedback(session, suggestion(session, account, at(1, n), WARRANTY), "rating", at(2, n), agent=f"agent{n}",
                 rating=rating, reason="unclear" if rating == "down" else None)
    session.commit()
    # warranty: 5 down, 3 up -> review; with 3 down, 3 up it would not be (next digest).
    digest = compute_digest(session, account.id, start=START, end=END)
    assert [p.kind for p in digest.proposals] == ["review_article"]
    assert digest.proposals[0].text == "Review article Warranty: 5 down-votes, reasons: unclear"

    balanced = compute_digest(session, account.id, start=START, end=at(2, 6))  # first 6 votes only
    assert [v.as_tuple() for v in balanced.downvoted_articles] == [("Warranty", 3, 3)]
    assert balanced.proposals == ()


def test_the_other_account_sees_only_its_own_rows(seeded: Digest, session: Session, other_account: Account) -> None:
    theirs = compute_digest(session, other_account.id, start=START, end=END)
    assert (theirs.suggestions_shown, theirs.thumbs_down, theirs.gap_questions) == (1, 1, 1)
    assert [v.as_tuple() for v in theirs.downvoted_articles] == [("Returns and refunds", 1, 0)]


def test_an_empty_period_says_so_instead_of_dividing_by_zero(session: Session, account: Account) -> None:
    digest = compute_digest(session, account.id, start=START, end=END)

    assert digest.is_empty
    assert (digest.insert_rate, digest.thumbs_up_rate, digest.avg_edit_distance) == (None, None, None)
    assert (digest.insert_rate_change, digest.thumbs_up_rate_change) == (None, None)
    assert digest.downvoted_articles == digest.gaps == digest.proposals == ()
    text, blocks = digest_blocks(digest, account_name="Acme")
    assert "nothing to report" in text.lower()
    assert any("Nothing to report" in block.get("text", {}).get("text", "") for block in blocks)
    assert_valid_blocks(blocks)


def test_without_a_previous_period_the_change_is_unknown_not_zero(session: Session, account: Account) -> None:
    s = suggestion(session, account, at(1), RETURNS)
    feedback(session, s, "inserted", at(1, 13))
    session.commit()

    digest = compute_digest(session, account.id, start=START, end=END)

    assert digest.insert_rate == pytest.approx(1.0)
    assert digest.insert_rate_change is None
    assert "no earlier figure" in json.dumps(digest_blocks(digest, account_name="Acme")[1], ensure_ascii=False)


def test_a_naive_or_backwards_period_is_refused(session: Session, account: Account) -> None:
    with pytest.raises(DigestPeriodError, match="naive"):
        compute_digest(session, account.id, start=START.replace(tzinfo=None), end=END)
    with pytest.raises(DigestPeriodError, match="before it starts"):
        compute_digest(session, account.id, start=END, end=START)
    with pytest.raises(DigestPeriodError, match="at least one day"):
        digest_period(END, days=0)


def test_the_recent_period_counts_today_up_to_now() -> None:
    now = END + timedelta(hours=15, minutes=30)  # Monday afternoon
    assert recent_period(now, days=7) == (END - timedelta(days=6), now)  # Tuesday to now
    assert recent_period(now, days=1) == (END, now)
    with pytest.raises(DigestPeriodError, match="naive"):
        recent_period(now.replace(tzinfo=None))


def test_the_default_period_ends_at_midnight_utc() -> None:
    before = datetime.now(UTC)
    start, end = digest_period()
    after = datetime.now(UTC)

    midnights = {datetime.combine(moment.date(), time(), tzinfo=UTC) for moment in (before, after)}
    assert end in midnights
    assert end - start == timedelta(days=7)


# -- Block Kit -----------------------------------------------------------------------

BLOCK_TYPES = {"header", "section", "divider", "context"}


def assert_valid_blocks(blocks: list[dict[str, Any]]) -> None:
    """Block Kit's shape and limits for the block types the digest uses."""
    assert 0 < len(blocks) <= MAX_BLOCKS
    for block in blocks:
        assert block["type"] in BLOCK_TYPES
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < len(block["text"]["text"]) <= 150
        elif block["type"] == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert block["text"]["type"] == "mrkdwn"
                assert 0 < len(block["text"]["text"]) <= 3000
            for field in block.get("fields", []):
                assert field["type"] == "mrkdwn"
                assert 0 < len(field["text"]) <= 2000
            assert len(block.get("fields", [])) <= 10
        elif block["type"] == "context":
            assert 0 < len(block["elements"]) <= 10
            for element in block["elements"]:
                assert element["type"] == "mrkdwn" and 0 < len(element["text"]) <= 3000


def test_blocks_have_valid_shapes_and_carry_the_figures(seeded: Digest) -> None:
    text, blocks = digest_blocks(seeded, account_name="Acme <Shop>")

    assert_valid_blocks(blocks)
    assert blocks[0]["type"] == "header" and "Acme <Shop>" in blocks[0]["text"]["text"]
    fields = " | ".join(field["text"] for field in blocks[2]["fields"])
    assert "*Suggestions shown*\n8" in fields
    assert "4 (50%) ▼ −25.0 pts" in fields
    assert "3 · avg edit distance 0.25" in fields
    assert "4 / 4 (50% up) ▲ +25.0 pts" in fields
    assert "7 in 3 topics" in fields
    body = "\n".join(block.get("text", {}).get("text", "") for block in blocks)
    assert "1. Returns &amp; refunds (2026) — 3 down-votes, 1 up-vote" in body
    assert "4 questions on _arrived, parcel_, e.g. “my parcel hasn't arrived”" in body
    proposals = [b["text"]["text"] for b in blocks if b.get("text", {}).get("text", "").startswith("*For review*")]
    assert len(proposals) == len(seeded.proposals) == 4
    assert "Review article Returns &amp; refunds (2026): 3 down-votes" in proposals[-1]
    assert "50%" in text and "▼ −25.0 pts" in text and "4 proposals for review" in text


def test_customer_text_cannot_ping_the_channel(seeded: Digest) -> None:
    text, blocks = digest_blocks(seeded, account_name="Acme")
    everything = text + json.dumps(blocks, ensure_ascii=False)

    assert "&lt;!channel&gt; change the email" in everything
    assert "<!channel>" not in everything


def test_long_content_is_cut_to_block_kit_limits_with_an_ellipsis(seeded: Digest) -> None:
    long = "x" * 5000
    digest = replace(
        seeded,
        downvoted_articles=tuple(ArticleVotes(f"{n} {long}", 9, 0, (long,)) for n in range(5)),
        gaps=tuple(GapGroup(("word",) * 400, 3, f"{n} & {long}") for n in range(5)),
        proposals=tuple(Proposal("review_article", f"Review article {long}", 9) for _ in range(60)),
    )

    _, blocks = digest_blocks(digest, account_name="A" * 400)

    assert_valid_blocks(blocks)
    assert len(blocks) == MAX_BLOCKS
    assert blocks[0]["text"]["text"].endswith("…")
    cut = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    assert any(t.endswith("…") for t in cut)
    assert all(not t.endswith("&am…") for t in cut)


# -- sending -------------------------------------------------------------------------


def digest_calls(session: Session) -> list[OutboxCall]:
    session.expire_all()
    return list(session.scalars(select(OutboxCall).where(OutboxCall.operation == "chat.postMessage")
                                .order_by(OutboxCall.id)))


def test_send_digest_posts_once_however_often_the_schedule_fires(
    app: Flask, seeded: Digest, session: Session, account: Account
) -> None:
    settings = app.config["SETTINGS"]
    first = send_digest(session, account, settings, channel=CHANNEL, end=END)
    again = send_digest(session, account, settings, channel=CHANNEL, end=END + timedelta(hours=3))

    [call] = digest_calls(session)
    assert (call.vendor, call.operation, call.status) == ("slack", "chat.postMessage", "sandboxed")
    assert call.idempotency_key == f"digest:{account.id}:{START.date()}"
    text, blocks = digest_blocks(seeded, account_name=account.name)
    assert call.payload == {"channel": CHANNEL, "text": text, "blocks": blocks}
    assert (first.repeated, again.repeated) == (False, True)
    assert again.call.id == first.call.id
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "digest.sent")).all()
    assert (entry.account_id, entry.actor, entry.subject_id) == (account.id, "digest", str(account.id))
    assert entry.detail["outbox_call_id"] == call.id
    assert entry.detail["suggestions_shown"] == 8 and entry.detail["proposals"] == 4


def test_the_next_week_is_a_new_digest(app: Flask, session: Session, account: Account) -> None:
    settings = app.config["SETTINGS"]
    send_digest(session, account, settings, channel=CHANNEL, end=END)
    send_digest(session, account, settings, channel=CHANNEL, end=END + timedelta(days=7))

    calls = digest_calls(session)
    assert [c.idempotency_key for c in calls] == [f"digest:{account.id}:{START.date()}",
                                                  f"digest:{account.id}:{END.date()}"]
    assert "nothing to report" in calls[0].payload["text"].lower()


def test_live_send_reaches_slack_once(tmp_path: Path, database_url: str) -> None:
    env = {**base_env(tmp_path, database_url), "SWITCHBOARD_SANDBOX": "0", "SLACK_BOT_TOKEN": "xoxb-digest"}
    with FakeSlackApi() as slack_api:
        app = create_app(load_settings({**env, "SLACK_API_URL": slack_api.url}),
                         config={"TASKS_INLINE": True, "TESTING": True})
        try:
            with app.app_context(), get_db(app).session() as session:
                account = session.get(Account, app.config["DEFAULT_ACCOUNT_ID"])
                assert account is not None
                for _ in range(2):
                    result = send_digest(session, account, app.config["SETTINGS"], channel=CHANNEL, end=END)
                [call] = digest_calls(session)
        finally:
            get_db(app).dispose()

    [request] = slack_api.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["Authorization"] == "Bearer xoxb-digest"
    assert request.json == call.payload
    assert request.json["channel"] == CHANNEL and request.json["blocks"][0]["type"] == "header"
    assert call.status == "sent" and result.repeated


def test_the_digest_command_previews_then_sends_once(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from switchboard.cli import main

    env = {"SWITCHBOARD_DATA_DIR": str(tmp_path), "SWITCHBOARD_SANDBOX": "1",
           "SWITCHBOARD_SLACK_DIGEST_CHANNEL": "#support-leads"}
    preview = CliRunner().invoke(main, ["digest"], env=env)
    assert preview.exit_code == 0, preview.output
    assert isinstance(json.loads(preview.output), dict)
    first = CliRunner().invoke(main, ["digest", "--send"], env=env)
    second = CliRunner().invoke(main, ["digest", "--send"], env=env)
    assert "digest sent to #support-leads" in first.output
    assert "already sent" in second.output
    missing = CliRunner().invoke(main, ["digest", "--send"], env={**env, "SWITCHBOARD_SLACK_DIGEST_CHANNEL": ""})
    assert missing.exit_code != 0 and "SWITCHBOARD_SLACK_DIGEST_CHANNEL" in missing.output


def test_the_digest_preview_right_after_trying_switchboard_shows_today(tmp_path: Path) -> None:
    """A newcomer chats, then asks for the digest: today's conversation is in it."""
    from click.testing import CliRunner

    from switchboard.cli import main

    env = {"SWITCHBOARD_DATA_DIR": str(tmp_path), "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
           "SWITCHBOARD_SANDBOX": "1"}
    chat = CliRunner().invoke(main, ["chat"], env=env, input="how long does delivery take?\nAGENT\n\n")
    assert chat.exit_code == 0, chat.output
    before = datetime.now(UTC)
    week = json.loads(CliRunner().invoke(main, ["digest"], env=env).output)
    today = json.loads(CliRunner().invoke(main, ["digest", "--days", "1"], env=env).output)
    after = datetime.now(UTC)

    midnight = datetime.combine(before.date(), time(), tzinfo=UTC)
    assert datetime.fromisoformat(week["start"]) == midnight - timedelta(days=6)
    assert datetime.fromisoformat(today["start"]) == midnight
    assert before <= datetime.fromisoformat(week["end"]) <= datetime.fromisoformat(today["end"]) <= after
    assert week["outcomes"]["conversations"]["current"] == today["outcomes"]["conversations"]["current"] == 1
    assert week["outcomes"]["escalation_rate"]["current"] == 1.0  # the customer asked for a person


def test_the_digest_carries_the_periods_qa_scores_beside_the_period_before(session: Session, account: Account) -> None:
    """Scores of conversations that ended (core/quality): the mean, the earlier mean, and
    the criteria met least often, in the digest and its Slack message."""
    Timeline(session, account).exchange("where is my parcel", action="answer", reason=None, when=at(1))
    conversation = session.scalars(select(Conversation.id)).one()
    for when, score, grounded in ((at(2), 80.0, "met"), (at(3), 40.0, "missed"), (at(-2), 90.0, "met")):
        session.add(ConversationScore(
            account_id=account.id, conversation_id=conversation, last_message_id=int(when.timestamp()),
            created_at=when, ended_by="solved", automation="bot", channel="sms", score=score, rubric="default v1",
            criteria=[{"criterion": "grounded", "verdict": grounded},
                      {"criterion": "ai_disclosure", "verdict": "met"}]))
    session.commit()

    digest = compute_digest(session, account.id, start=START, end=END)

    assert digest.quality is not None
    assert (digest.quality["conversations"], digest.quality["mean_score"]) == (2, 60.0)
    assert digest.quality["previous_mean_score"] == 90.0
    assert digest.quality["criteria"]["grounded"]["met_rate"] == 0.5
    text = json.dumps(digest_blocks(digest, account_name="Acme")[1], ensure_ascii=False)
    assert "mean 60.0 / 100 (was 90.0)" in text and "grounded 50%" in text
