"""The weekly digest supervisors get in Slack: how agent assist did, and what the
knowledge base is missing.

Supervisors do not open dashboards; a short message in their own channel once a week
gets read. It answers three questions: are agents using the suggestions (inserted,
sent, how much they rewrote them, thumbs), which articles make bad suggestions, and
what customers asked that no article answered. From those it proposes knowledge-base
changes, and only proposes them: the digest writes nothing but its own outbox record
and audit entry, because an article rewritten by a statistic would be worse than one
reviewed by a person.

Figures follow the suggestions made in the period (a cohort), with the agents'
feedback on them up to the period's end. A rate therefore never exceeds 100 %, and a
digest computed again later for the same week shows what supervisors saw that week.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import ScalarResult, func, select
from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.accounts import company_name
from switchboard.core.knowledge.analysis import content_words, stem
from switchboard.core.knowledge_loop import conflicts as kb_conflicts
from switchboard.core.knowledge_loop import impact as kb_impact
from switchboard.core.outcomes.figures import Filters, headline
from switchboard.core.pii.redaction import PLACEHOLDERS
from switchboard.core.pii.vault import TOKEN as VAULT_TOKEN
from switchboard.core.ports import CallResult
from switchboard.core.quality.report import grouped, names_for, scores_since, summary
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import (
    Account,
    KbArticle,
    Message,
    Suggestion,
    SuggestionFeedback,
)
from switchboard.core.understanding import setbacks
from switchboard.core.understanding.setbacks import asks_for_person

DEFAULT_DAYS = 7
#: Handoffs that mean "no article answered this", as opposed to a customer asking for a
#: person, anger or a model outage, which say nothing about the knowledge base.
GAP_HANDOFF_REASONS = frozenset({"low_confidence", "out_of_scope", "ungrounded_draft"})
#: How many articles, gap groups and proposals of each kind a digest lists.
TOP = 5
#: An article is proposed for review from this many down-votes, and only when they
#: outnumber its up-votes: one unhappy agent is an opinion, not a pattern.
REVIEW_MIN_DOWNVOTES = 3
#: Questions are grouped on this many of their most widely shared content words.
GROUP_KEY_WORDS = 2
#: Agents' reasons quoted per article proposal.
MAX_REASONS = 3

# Single items are cut well below the block limits so one long customer message or
# article title cannot crowd out the rest of a section.
QUESTION_CHARS = 200
TITLE_CHARS = 150
REASON_CHARS = 150
ELLIPSIS = "…"

_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()) + "|" + VAULT_TOKEN.pattern)
_SPACES = re.compile(r"\s+")


class DigestPeriodError(ValueError):
    """The period asked for cannot be measured (naive datetimes, or end before start)."""


@dataclass(frozen=True)
class AssistFigures:
    """Agent assist in one period; rates are None, not zero, when nothing was measured,
    so "no suggestions" never reads as "agents rejected every suggestion"."""

    shown: int
    inserted: int
    sent_after_insert: int
    avg_edit_distance: float | None
    thumbs_up: int
    thumbs_down: int

    @property
    def insert_rate(self) -> float | None:
        return self.inserted / self.shown if self.shown else None

    @property
    def thumbs_up_rate(self) -> float | None:
        rated = self.thumbs_up + self.thumbs_down
        return self.thumbs_up / rated if rated else None


@dataclass(frozen=True)
class ArticleVotes:
    """Thumbs on suggestions that cited one article; ``reasons`` are the agents' own
    words on the down-votes, newest first."""

    title: str
    downs: int
    ups: int
    reasons: tuple[str, ...] = ()

    def as_tuple(self) -> tuple[str, int, int]:
        return self.title, self.downs, self.ups


@dataclass(frozen=True)
class GapGroup:
    """Customer questions the bot could not answer, grouped by shared topic words."""

    words: tuple[str, ...]
    count: int
    example: str


@dataclass(frozen=True)
class Proposal:
    """A knowledge-base change for a person to review; nothing applies it."""

    kind: Literal["new_article", "review_article"]
    text: str
    evidence: int


@dataclass(frozen=True)
class Digest:
    account_id: int
    start: datetime
    end: datetime
    current: AssistFigures
    previous: AssistFigures
    downvoted_articles: tuple[ArticleVotes, ...]
    gaps: tuple[GapGroup, ...]
    gap_questions: int
    gap_group_count: int
    proposals: tuple[Proposal, ...]
    #: Headline outcome figures (metrics_figures.headline): {name: {current, previous, change}}.
    outcomes: dict[str, dict[str, Any]] | None = None
    #: QA scores of conversations that ended in the period (quality.report.summary), with
    #: the period before's mean score; None when none was scored.
    quality: dict[str, Any] | None = None
    #: Each knowledge draft published in the last weeks, measured (kb_impact.Impact.as_json).
    knowledge: tuple[dict[str, Any], ...] = ()
    #: Articles to review (kb_conflicts.review): duplicates and contradictions.
    article_conflicts: dict[str, Any] | None = None

    @property
    def suggestions_shown(self) -> int:
        return self.current.shown

    @property
    def inserted(self) -> int:
        return self.current.inserted

    @property
    def insert_rate(self) -> float | None:
        return self.current.insert_rate

    @property
    def sent_after_insert(self) -> int:
        return self.current.sent_after_insert

    @property
    def avg_edit_distance(self) -> float | None:
        return self.current.avg_edit_distance

    @property
    def thumbs_up(self) -> int:
        return self.current.thumbs_up

    @property
    def thumbs_down(self) -> int:
        return self.current.thumbs_down

    @property
    def thumbs_up_rate(self) -> float | None:
        return self.current.thumbs_up_rate

    @property
    def insert_rate_change(self) -> float | None:
        """Current minus previous insertion rate (0.05 = five points up); None when
        either period had no suggestions."""
        return _difference(self.current.insert_rate, self.previous.insert_rate)

    @property
    def thumbs_up_rate_change(self) -> float | None:
        return _difference(self.current.thumbs_up_rate, self.previous.thumbs_up_rate)

    @property
    def is_empty(self) -> bool:
        """Nothing happened that the digest reports on."""
        figures = self.current
        return not (figures.shown or figures.thumbs_up or figures.thumbs_down or self.gap_questions
                    or self.outcomes or self.quality or self.knowledge)


def _difference(current: float | None, previous: float | None) -> float | None:
    return None if current is None or previous is None else current - previous


# -- computing -----------------------------------------------------------------------


def digest_period(end: datetime | None = None, *, days: int = DEFAULT_DAYS) -> tuple[datetime, datetime]:
    """(start, end) of the digest ending at ``end``; by default at today's midnight UTC,
    so two firings of the same schedule on one day cover exactly the same days."""
    if days < 1:
        raise DigestPeriodError(f"a digest covers at least one day, not {days}")
    if end is None:
        end = datetime.combine(datetime.now(UTC).date(), time(), tzinfo=UTC)
    _require_aware(end)
    return end - timedelta(days=days), end


def recent_period(now: datetime | None = None, *, days: int = DEFAULT_DAYS) -> tuple[datetime, datetime]:
    """(start, end) of the last ``days`` days counting today, up to ``now``: a preview
    asked for right after trying Switchboard shows what was just done. Sending keeps
    :func:`digest_period`'s whole days, on which the digest's idempotency key rests."""
    if days < 1:
        raise DigestPeriodError(f"a digest covers at least one day, not {days}")
    if now is None:
        now = datetime.now(UTC)
    _require_aware(now)
    today = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    return today - timedelta(days=days - 1), now


def compute_digest(session: Session, account_id: int, *, start: datetime, end: datetime,
                   settings: Settings | None = None) -> Digest:
    """Figures of ``[start, end)`` for one account, with the period of the same length
    before it for the change in rates; with ``settings``, the published knowledge
    drafts measured too (their topic read with the account's index)."""
    _require_aware(start)
    _require_aware(end)
    if end <= start:
        raise DigestPeriodError(f"the digest period ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    current, ratings = _assist_activity(session, account_id, start, end)
    previous, _ = _assist_activity(session, account_id, start - (end - start), start)
    articles = _article_votes(session, account_id, ratings)
    downvoted = [votes for votes in articles if votes.downs > 0]
    groups, questions = _gap_groups(session, account_id, start, end)
    return Digest(
        account_id=account_id, start=start, end=end, current=current, previous=previous,
        downvoted_articles=tuple(downvoted[:TOP]), gaps=tuple(groups[:TOP]), gap_questions=questions,
        gap_group_count=len(groups), proposals=_proposals(groups[:TOP], downvoted),
        outcomes=_outcomes(session, account_id, start, end),
        quality=_quality(session, account_id, start, end),
        knowledge=_knowledge(session, account_id, settings, end) if settings is not None else (),
        article_conflicts=kb_conflicts.review(session, account_id, settings) if settings is not None else None,
    )


def _knowledge(session: Session, account_id: int, settings: Settings, end: datetime) -> tuple[dict[str, Any], ...]:
    """The drafts published in the two measuring windows before ``end``, each measured."""
    account = session.get(Account, account_id)
    if account is None:
        return ()
    since = end - timedelta(days=2 * kb_impact.WINDOW_DAYS)
    return tuple(i.as_json() for i in kb_impact.measure(session, account, settings, until=end, since=since))


def _quality(session: Session, account_id: int, start: datetime, end: datetime) -> dict[str, Any] | None:
    """The period's QA scores (core/quality), the mean beside the period before's, and
    the agents by name, lowest mean first (``agents``: name, conversations, mean_score)."""
    rows = scores_since(session, account_id, start, end)
    current = summary(rows)
    if not current["conversations"]:
        return None
    previous = summary(scores_since(session, account_id, start - (end - start), start))
    names = names_for(session, account_id, rows)
    agents = [{"name": name, **figures} for name, figures in grouped(rows, "agent", names).items()
              if name != "unknown"]
    return {**current, "previous_mean_score": previous["mean_score"],
            "agents": sorted(agents, key=lambda a: (a["mean_score"], a["name"]))}


def _outcomes(session: Session, account_id: int, start: datetime, end: datetime) -> dict[str, dict[str, Any]] | None:
    """Headline outcome figures of whole UTC days, with the change from the period
    before; None when neither period had a conversation (nothing measured yet)."""
    first, last = start.astimezone(UTC).date(), (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    figures = headline(session, account_id, Filters(first, last))
    return figures if figures["conversations"]["current"] or figures["conversations"]["previous"] else None


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise DigestPeriodError(f"naive datetime {moment.isoformat()}: give the period in UTC, e.g. datetime.now(UTC)")


@dataclass(frozen=True)
class _Rating:
    suggestion_id: int
    rating: str
    reason: str | None


def _assist_activity(session: Session, account_id: int, start: datetime,
                     end: datetime) -> tuple[AssistFigures, list[_Rating]]:
    """Figures for the suggestions made in ``[start, end)`` and each agent's latest
    thumb on them (an agent who changes their mind counts once, as they ended up)."""
    cohort = select(Suggestion.id).where(
        Suggestion.account_id == account_id, Suggestion.created_at >= start, Suggestion.created_at < end)
    shown = session.scalar(select(func.count()).select_from(cohort.subquery())) or 0
    rows = session.execute(
        select(SuggestionFeedback.suggestion_id, SuggestionFeedback.agent, SuggestionFeedback.kind,
               SuggestionFeedback.rating, SuggestionFeedback.reason, SuggestionFeedback.edit_distance)
        .where(SuggestionFeedback.account_id == account_id, SuggestionFeedback.suggestion_id.in_(cohort),
               SuggestionFeedback.created_at < end)
        .order_by(SuggestionFeedback.created_at, SuggestionFeedback.id))
    inserted: set[int] = set()
    sent: dict[int, float | None] = {}
    ratings: dict[tuple[int, str], _Rating] = {}
    for suggestion_id, agent, kind, rating, reason, distance in rows:
        if kind == "inserted":
            inserted.add(suggestion_id)
        elif kind == "sent":
            sent[suggestion_id] = distance  # the last reply sent from it is what the customer got
        elif kind == "rating" and rating in ("up", "down"):
            ratings.pop((suggestion_id, agent), None)  # re-inserted last: the dict stays in time order
            ratings[(suggestion_id, agent)] = _Rating(suggestion_id, rating, (reason or "").strip() or None)
    # A reply counts as sent from a suggestion only if the agent inserted it first.
    distances = [d for sid, d in sent.items() if sid in inserted and d is not None]
    votes = list(ratings.values())
    figures = AssistFigures(
        shown=shown, inserted=len(inserted), sent_after_insert=sum(1 for sid in sent if sid in inserted),
        avg_edit_distance=sum(distances) / len(distances) if distances else None,
        thumbs_up=sum(1 for v in votes if v.rating == "up"), thumbs_down=sum(1 for v in votes if v.rating == "down"),
    )
    return figures, votes


def _article_votes(session: Session, account_id: int, ratings: Sequence[_Rating]) -> list[ArticleVotes]:
    """Each thumb counted once for every article its suggestion cited, most down-voted
    first (fewer up-votes first among equals)."""
    if not ratings:
        return []
    ids = sorted({r.suggestion_id for r in ratings})
    sources: dict[int, list[Any]] = dict(session.execute(select(Suggestion.id, Suggestion.sources).where(
        Suggestion.account_id == account_id, Suggestion.id.in_(ids))).all())
    downs: Counter[str] = Counter()
    ups: Counter[str] = Counter()
    reasons: dict[str, list[str]] = defaultdict(list)
    names: dict[str, str] = {}
    for rating in reversed(ratings):  # newest first, so reasons are too
        for key, name in _cited_articles(sources.get(rating.suggestion_id) or []):
            names.setdefault(key, name)
            if rating.rating == "up":
                ups[key] += 1
                continue
            downs[key] += 1
            if rating.reason and rating.reason not in reasons[key]:
                reasons[key].append(rating.reason)
    titles = _current_titles(session, account_id, names)
    tallies = [ArticleVotes(titles.get(key) or names[key], downs[key], ups[key], tuple(reasons[key]))
               for key in names]
    return sorted(tallies, key=lambda v: (-v.downs, v.ups, v.title))


def _cited_articles(sources: Iterable[Any]) -> Iterator[tuple[str, str]]:
    """(article key, title or citation) of each distinct article among a suggestion's
    sources; two passages of one article are one article."""
    seen: set[str] = set()
    for source in sources:
        if not isinstance(source, dict):
            continue
        passage = str(source.get("passage") or "")
        name = source.get("title") or source.get("citation") or source.get("url") or passage
        key = str(source.get("article_id") or passage.rpartition("#")[0] or name or "")
        if key and key not in seen:
            seen.add(key)
            yield key, str(name or key)


def _current_titles(session: Session, account_id: int, names: dict[str, str]) -> dict[str, str]:
    """Titles as the knowledge base has them now: what a supervisor will search for."""
    rows = session.execute(select(KbArticle.external_id, KbArticle.title).where(
        KbArticle.account_id == account_id, KbArticle.external_id.in_(list(names))))
    return {external_id: title for external_id, title in rows}


def _gap_groups(session: Session, account_id: int, start: datetime, end: datetime) -> tuple[list[GapGroup], int]:
    """Groups of unanswered customer questions, largest first, and how many questions
    they hold in all."""
    # Spelled out: a dict[str, Any] column sends select() to its untyped overload.
    replies: ScalarResult[dict[str, Any]] = session.scalars(select(Message.meta).where(
        Message.account_id == account_id, Message.author == "bot",
        Message.created_at >= start, Message.created_at < end,
        Message.meta["action"].as_string().in_(("clarify", "handoff"))))
    asked: set[int] = set()
    for meta in replies:
        if _is_gap(meta) and isinstance(meta.get("in_reply_to"), int):
            asked.add(meta["in_reply_to"])
    # "That didn't help", "none of these", "AGENT": what the customer said of the bot, not a question it lacked.
    questions = [body for _, body in _customer_messages(session, account_id, sorted(asked))
                 if not only_setback(body) and not asks_for_person(body)]
    groups = group_questions(questions)
    return groups, sum(group.count for group in groups)


def only_setback(text: str) -> bool:
    """Whether ``text`` only says an answer did not help: no question a knowledge gap could list."""
    return setbacks.only_setback(text, content_words)


def _is_gap(meta: dict[str, Any]) -> bool:
    """A bot reply that says no article answered: a clarifying question asked because
    retrieval failed (it then carries a reason; a greeting does not), or a handoff for
    one of the knowledge reasons."""
    reason = meta.get("reason")
    if meta.get("action") == "clarify":
        return bool(reason)
    return meta.get("action") == "handoff" and reason in GAP_HANDOFF_REASONS


def _customer_messages(session: Session, account_id: int, ids: Sequence[int]) -> Iterator[tuple[int, str]]:
    for offset in range(0, len(ids), 500):  # stays under every driver's parameter limit
        rows = session.execute(select(Message.id, Message.body).where(
            Message.account_id == account_id, Message.author == "customer",
            Message.id.in_(ids[offset:offset + 500])).order_by(Message.id))
        yield from ((message_id, body) for message_id, body in rows)


def group_questions(questions: Sequence[str]) -> list[GapGroup]:
    """Questions grouped on their ``GROUP_KEY_WORDS`` content words that the most
    questions share, largest group first.

    Ranking words by how many questions use them makes the shared topic ("parcel",
    "refund") the key and the incidental words ("yesterday", "blue") the tie-breaker,
    so "where is my parcel" and "my parcel hasn't arrived" land together. Questions
    without a single content word ("hello??") name no topic and are left out.
    """
    topics = [_topic(question) for question in questions]
    spread = Counter(word for topic in topics for word in topic)
    surface: dict[str, Counter[str]] = defaultdict(Counter)
    members: dict[tuple[str, ...], list[str]] = {}
    for question, topic in zip(questions, topics, strict=True):
        if not topic:
            continue
        for word, form in topic.items():
            surface[word][form] += 1
        key = tuple(sorted(sorted(topic, key=lambda w: (-spread[w], w))[:GROUP_KEY_WORDS]))
        members.setdefault(key, []).append(question)
    groups = [GapGroup(words=tuple(surface[w].most_common(1)[0][0] for w in key), count=len(asked),
                       example=_representative(asked))
              for key, asked in members.items()]
    # dicts keep insertion order: equal groups stay in the order they were first asked.
    return sorted(groups, key=lambda g: -g.count)


def _topic(question: str) -> dict[str, str]:
    """Stem -> first surface form of the question's content words; redaction
    placeholders are not topics ("[EMAIL]" would otherwise group on "email")."""
    topic: dict[str, str] = {}
    for word in content_words(_PLACEHOLDER.sub(" ", question)):
        topic.setdefault(stem(word), word)
    return topic


def _representative(questions: Sequence[str]) -> str:
    """The wording customers used most, the earliest among equals."""
    tidy = [_SPACES.sub(" ", q).strip() for q in questions]
    counts = Counter(q.lower() for q in tidy)
    return max(tidy, key=lambda q: counts[q.lower()])  # max keeps the first of equals


def _proposals(gaps: Sequence[GapGroup], downvoted: Sequence[ArticleVotes]) -> tuple[Proposal, ...]:
    new = [Proposal("new_article", f"New article suggested: {clip(gap.example, QUESTION_CHARS)}", gap.count)
           for gap in gaps]
    heavy = [votes for votes in downvoted if votes.downs >= REVIEW_MIN_DOWNVOTES and votes.downs > votes.ups]
    review = [Proposal("review_article", f"Review article {clip(votes.title, TITLE_CHARS)}: {votes.downs} "
                       f"down-votes, reasons: {_reasons(votes.reasons)}", votes.downs)
              for votes in heavy[:TOP]]
    return tuple(new + review)


def _reasons(reasons: Sequence[str]) -> str:
    if not reasons:
        return "none given"
    return "; ".join(clip(_SPACES.sub(" ", r), REASON_CHARS) for r in reasons[:MAX_REASONS])


def clip(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, ending in "…" when shortened, and never
    in half an escape ("&am…")."""
    if len(text) <= limit:
        return text
    head = text[:limit - len(ELLIPSIS)]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head + ELLIPSIS



# -- sending -------------------------------------------------------------------------


def digest_key(account_id: int, start: datetime) -> str:
    """The outbox idempotency key: one digest per account and period start, however
    often the schedule fires."""
    return f"digest:{account_id}:{start.date()}"


def account_display_name(account: Account, settings: Settings) -> str:
    """The company name supervisors know; the default account's row is only called
    "Default account"."""
    return company_name(account, settings) or account.name


def send_digest(session: Session, account: Account, settings: Settings, *, channel: str,
                end: datetime | None = None, days: int = DEFAULT_DAYS) -> CallResult:
    """Compute the digest of the ``days`` before ``end`` and post it to ``channel``.

    Sent under :func:`digest_key`, so a second firing for the same week returns the
    first call (``repeated=True``) and posts nothing; the audit entry is written once,
    with the send. Vendor errors propagate for the caller's retry.
    """

    start, end = digest_period(end, days=days)
    digest = compute_digest(session, account.id, start=start, end=end, settings=settings)
    result = ports.current().supervisor_flows.post_digest(
        session, account, settings, digest, account_name=account_display_name(account, settings),
        channel=channel, idempotency_key=digest_key(account.id, start))
    if not result.repeated:
        audit(session, account_id=account.id, actor="digest", action="digest.sent", subject_type="account",
              subject_id=account.id, detail={
                  "channel": channel, "start": start.isoformat(), "end": end.isoformat(),
                  "outbox_call_id": result.call.id, "status": result.call.status, "empty": digest.is_empty,
                  **as_json(digest)["figures"], "proposals": len(digest.proposals)})
        session.commit()
    return result


def as_json(digest: Digest) -> dict[str, Any]:
    """The digest as plain JSON, for a CLI preview or the audit log."""
    now = digest.current
    return {
        "account_id": digest.account_id, "start": digest.start.isoformat(), "end": digest.end.isoformat(),
        "figures": {
            "suggestions_shown": now.shown, "inserted": now.inserted, "insert_rate": now.insert_rate,
            "insert_rate_change": digest.insert_rate_change, "sent_after_insert": now.sent_after_insert,
            "avg_edit_distance": now.avg_edit_distance, "thumbs_up": now.thumbs_up, "thumbs_down": now.thumbs_down,
            "thumbs_up_rate": now.thumbs_up_rate, "thumbs_up_rate_change": digest.thumbs_up_rate_change,
            "gap_questions": digest.gap_questions,
        },
        "outcomes": digest.outcomes,
        "quality": digest.quality,
        "knowledge": list(digest.knowledge),
        "article_conflicts": digest.article_conflicts,
        "downvoted_articles": [{"title": v.title, "downs": v.downs, "ups": v.ups, "reasons": list(v.reasons)}
                               for v in digest.downvoted_articles],
        "gaps": [{"words": list(g.words), "count": g.count, "example": g.example} for g in digest.gaps],
        "proposals": [{"kind": p.kind, "text": p.text, "evidence": p.evidence, "status": "for_review"}
                      for p in digest.proposals],
    }
