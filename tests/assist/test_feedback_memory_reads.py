"""The agents' votes are read once per process and then only what was recorded since,
yet re-rank exactly as a memory built from every verdict would."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from switchboard.core.helpdesk.assist import FEEDBACK_LOOKBACK_IDS, feedback_memory
from switchboard.core.knowledge.feedback import FeedbackMemory, Vote
from switchboard.core.store.models import Suggestion, SuggestionFeedback
from switchboard.intake.db import get_db

from ..conftest import _truncate_postgres

QUESTIONS = ["when do I get my refund", "my parcel has not arrived", "how do I reset my password",
             "can I change the delivery address", "the kettle stopped working"]
ARTICLES = ["card-refunds", "missing-parcel", "password-reset", "change-address", "warranty"]


@pytest.fixture
def database_url(pg_url: str) -> str:
    """PostgreSQL only: the rows a read returns are what is measured here."""
    _truncate_postgres(pg_url)
    return pg_url


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with get_db(app).session() as session:
        yield session


def suggest(session: Session, account_id: int, n: int) -> Suggestion:
    suggestion = Suggestion(account_id=account_id, zendesk_ticket_id=1000 + n, query=QUESTIONS[n % 5], text="...",
                            sources=[{"article_id": ARTICLES[n % 5]}], engine="local")
    session.add(suggestion)
    session.flush()
    return suggestion


def verdict(session: Session, suggestion: Suggestion, kind: str, **values: Any) -> None:
    session.add(SuggestionFeedback(account_id=suggestion.account_id, suggestion_id=suggestion.id, agent="ava",
                                   kind=kind, **values))
    session.commit()


def same_votes(memory: FeedbackMemory, expected: list[Vote]) -> None:
    fresh = FeedbackMemory(expected)
    assert len(memory) == len(fresh)
    assert {a: s for a, s in memory.article_stats().items() if s != (0, 0)} == fresh.article_stats()
    for question in QUESTIONS:
        got, want = memory.shifts(question, ARTICLES), fresh.shifts(question, ARTICLES)
        assert got == pytest.approx(want), question


def rows_read(app: Flask, session: Session, account_id: int) -> tuple[FeedbackMemory, int]:
    rows = 0

    def seen(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        nonlocal rows
        rows += max(cursor.rowcount, 0)

    engine = get_db(app).engine
    event.listen(engine, "after_cursor_execute", seen)
    try:
        return feedback_memory(session, account_id), rows
    finally:
        event.remove(engine, "after_cursor_execute", seen)


def test_changed_verdicts_replace_their_old_votes(app: Flask, session: Session) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    first, second = suggest(session, account_id, 0), suggest(session, account_id, 1)
    verdict(session, first, "inserted")
    same_votes(feedback_memory(session, account_id), [Vote(QUESTIONS[0], ARTICLES[0], 0.5)])
    verdict(session, first, "sent", edit_distance=0.0)  # sent unchanged: now worth a thumbs-up
    verdict(session, second, "rating", rating="down")
    same_votes(feedback_memory(session, account_id),
               [Vote(QUESTIONS[0], ARTICLES[0], 1.0), Vote(QUESTIONS[1], ARTICLES[1], -1.0)])
    verdict(session, first, "rating", rating="down")  # an explicit rating wins over the rest
    same_votes(feedback_memory(session, account_id),
               [Vote(QUESTIONS[0], ARTICLES[0], -1.0), Vote(QUESTIONS[1], ARTICLES[1], -1.0)])


def test_after_many_verdicts_only_the_recent_ones_are_read_again(app: Flask, session: Session) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    expected = []
    for n in range(3 * FEEDBACK_LOOKBACK_IDS):
        suggestion = suggest(session, account_id, n)
        verdict(session, suggestion, "rating", rating="up" if n % 3 else "down")
        expected.append(Vote(QUESTIONS[n % 5], ARTICLES[n % 5], 1.0 if n % 3 else -1.0))
    memory, first_read = rows_read(app, session, account_id)
    same_votes(memory, expected)
    assert first_read > 3 * FEEDBACK_LOOKBACK_IDS  # the first read takes everything
    late = suggest(session, account_id, 7)
    verdict(session, late, "rating", rating="down")
    expected.append(Vote(QUESTIONS[2], ARTICLES[2], -1.0))
    memory, next_read = rows_read(app, session, account_id)
    same_votes(memory, expected)
    assert next_read <= FEEDBACK_LOOKBACK_IDS + 3  # the look-back and the new verdict, not the history


def test_a_verdict_committed_late_with_a_lower_id_is_still_counted(app: Flask, session: Session) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    early, later = suggest(session, account_id, 0), suggest(session, account_id, 1)
    verdict(session, later, "rating", rating="up", id=10)
    feedback_memory(session, account_id)
    # A verdict whose id was taken before the one just read, committed only now.
    session.add(SuggestionFeedback(id=5, account_id=account_id, suggestion_id=early.id, agent="ava", kind="rating",
                                   rating="down"))
    session.commit()
    same_votes(feedback_memory(session, account_id),
               [Vote(QUESTIONS[0], ARTICLES[0], -1.0), Vote(QUESTIONS[1], ARTICLES[1], 1.0)])
