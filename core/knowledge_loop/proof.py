"""The proof a drafted article carries to its reviewer: what the live decision path
(`switchboard eval`'s, :mod:`..conversation.evaluation`) would do with the gap's own questions once
the draft is in the knowledge base, and whether it takes other articles' questions.

A reviewer approving an article should not have to trust it: each draft is tried, in
memory, on the questions that asked for it, against the live articles plus the draft
(never the draft alone: an article that answers its gap but steals "how long does
delivery take?" from the delivery article makes things worse). Nothing is stored and
the account's index is left as it is.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from switchboard.core.conversation import evaluation
from switchboard.core.knowledge import phrasings
from switchboard.core.knowledge.records import Article
from switchboard.core.knowledge.retrieval import build_index
from switchboard.core.knowledge.service import KnowledgeBase, without_tokens
from switchboard.core.knowledge_loop import gaps
from switchboard.core.settings import Settings
from switchboard.core.store import artifacts
from switchboard.core.store.models import Account, PhrasingStamp

#: Other articles' questions tried at most: their titles, and as many again of the
#: learned phrasings and the questions customers asked that they answered. The proof
#: runs once per draft version, in the worker, and must stay a few seconds.
MAX_OTHER_QUESTIONS = 150
#: Customers' questions answered by one article, at most (the newest): one popular
#: article must not take the whole budget.
ANSWERED_PER_ARTICLE = 3
#: How far back customers' answered questions are read.
ANSWERED_DAYS = 90
#: The live configuration's outcomes on the other articles' questions, per account and
#: published index: the same for every draft until the knowledge base changes.
_live_outcomes: dict[tuple[int, str, tuple[str, ...]], list[evaluation.Outcome]] = {}


def with_articles(live: Sequence[Article], added: Sequence[Article]) -> list[Article]:
    """The live articles with ``added`` in (an article of the same id replaced)."""
    ids = {article.id for article in added}
    return [article for article in live if article.id not in ids] + [without_tokens(a) for a in added]


def preview_configuration(session: Session, account: Account, settings: Settings,
                          added: Sequence[Article], *, base: evaluation.Configuration | None = None,
                          live: Sequence[Article] | None = None, label: str | None = None) -> evaluation.Configuration:
    """``base`` (by default the live configuration) with the account's live articles plus
    ``added`` (new, or replacing the article of the same id) indexed in memory: what the
    change would do, not what a knowledge base made of ``added`` alone would. ``live``
    stands for the account's articles when the change is made to another set."""
    base = base or evaluation.configuration(session, account, settings)
    if live is None:
        live = KnowledgeBase.of(session, account.id, settings).articles()
    articles = with_articles(live, added)
    retriever = build_index(articles, settings.embeddings)
    return replace(base, retriever=retriever,
                   learned=phrasings.learned(session, account.id, retriever.encoder_name, index=retriever),
                   description={**base.description, "kb": label or f"account's + {len(added)} drafted"})


def other_questions(session: Session, account_id: int, articles: Sequence[Article],
                    excluded: set[str]) -> list[evaluation.Question]:
    """Questions the live articles already stand for, each expecting its own article:
    their titles; the phrasings customers and agents taught; and the questions real
    customers asked that an article answered and they did not disown (a title is how the
    article's writer asked; a draft titled as customers ask can take their questions
    while leaving the title alone: on StackFAQ, "can I download YouTube's automatic
    subtitles?" went from its article to a draft about subtitles)."""
    live = {a.id for a in articles} - excluded
    questions = [evaluation.Question(a.title, a.id, "title") for a in articles
                 if a.id in live and a.title.strip()][:MAX_OTHER_QUESTIONS]
    asked: list[evaluation.Question] = []
    for phrasing in phrasings.list_phrasings(session, account_id, status="active"):
        if phrasing.article_id in live:
            asked.append(evaluation.Question(phrasing.text, phrasing.article_id, "phrasing"))
    now = datetime.now(UTC)
    per_article: Counter[str] = Counter()
    seen = {q.text.lower() for q in asked}
    for item in gaps.answered(session, account_id, now - timedelta(days=ANSWERED_DAYS), now):
        if item.article_id in live and per_article[item.article_id] < ANSWERED_PER_ARTICLE \
                and item.text.lower() not in seen:
            per_article[item.article_id] += 1
            seen.add(item.text.lower())
            asked.append(evaluation.Question(item.text, item.article_id, "answered"))
    return questions + asked[:MAX_OTHER_QUESTIONS]


def outcome_counts(outcomes: Sequence[evaluation.Outcome]) -> dict[str, int]:
    """Answered outright (citing the expected article), by menu (holding it), or still not."""
    outright = sum(1 for o in outcomes if o.verdict == "answered_right")
    menu = sum(1 for o in outcomes if o.verdict == "choices_with_right")
    return {"questions": len(outcomes), "answered": outright, "menu": menu,
            "not_answered": len(outcomes) - outright - menu}


def _live(session: Session, account_id: int, questions: Sequence[evaluation.Question],
          config: evaluation.Configuration) -> list[evaluation.Outcome]:
    """The live outcomes, kept while the account's index and learned phrasings stand."""
    published = artifacts.latest(session, account_id, artifacts.KB_INDEX)
    stamped = session.get(PhrasingStamp, account_id)
    stamp = stamped.stamp if stamped is not None else ""
    key = (account_id, f"{published.version if published else '-'}:{stamp}", tuple(q.text for q in questions))
    if key not in _live_outcomes:
        if len(_live_outcomes) > 16:
            _live_outcomes.clear()
        _live_outcomes[key] = evaluation.evaluate(questions, config)
    return _live_outcomes[key]


def prove(session: Session, account: Account, settings: Settings, article: Article,
          questions: Sequence[str]) -> dict[str, Any]:
    """Before and after on the gap's questions (expecting ``article``), and the other
    articles' questions the draft would now answer wrongly (``stolen``). A knowledge base
    that cannot be evaluated (none imported yet) gives a proof that says why, rather than
    failing the solved ticket's processing."""
    try:
        before = evaluation.configuration(session, account, settings)
    except evaluation.EvaluationError as exc:
        return {"kb": "live articles + this draft", "error": str(exc), "steals": False}
    after = preview_configuration(session, account, settings, [article])
    asked = [evaluation.Question(q, article.id, "gap") for q in questions]
    live = KnowledgeBase.of(session, account.id, settings).articles()
    others = other_questions(session, account.id, live, {article.id})
    others_before = _live(session, account.id, others, before)
    others_after = evaluation.evaluate(others, after)
    stolen = [{"question": b.question, "expected": b.expected, "now": list(a.shown)}
              for b, a in zip(others_before, others_after, strict=True) if b.right and not a.right]
    return {
        "kb": "live articles + this draft",
        "before": outcome_counts(evaluation.evaluate(asked, before)),
        "after": outcome_counts(evaluation.evaluate(asked, after)),
        "others": {"questions": len(others), "right_before": sum(o.right for o in others_before),
                   "right_after": sum(o.right for o in others_after)},
        "stolen": stolen[:20],
        "steals": bool(stolen),
    }
