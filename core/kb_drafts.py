"""Articles drafted from how agents solved what the knowledge base could not answer,
reviewed by a person, then published (issue 38).

When a ticket is solved whose conversation holds an unanswered question
(:mod:`.gaps`), the agents' public replies on it become a draft: a title phrased as the
customer asked, a body made of the agents' own sentences, the tickets listed as
sources. The local engine is extractive on purpose: a draft states nothing no agent
wrote. A later ticket on the same topic (the same gap, by the retrieval encoder) is
merged into the pending draft as a new version instead of a second draft.

Personal data never reaches a draft: a sentence in which redaction finds anything (a
phone number, an email, a card) or that holds a vault token or placeholder is left out
whole, since "call me on [PHONE_1]" is no article text. Each version carries its proof
(:mod:`.kb_proof`); approving publishes it to the knowledge base index at once (every
host answers from it on its next message) and, when a Help Center section is set, to
Zendesk through the outbox, once per version; rejecting changes nothing else.
"""
from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.config import Settings, outreach_approvers
from switchboard.models import Account, Conversation, KbDraft, Message

from . import gaps, ports
from .accounts import secret_variable, setting
from .audit import audit
from .digest import clip
from .handoff import conversation_for_ticket
from .knowledge.service import KnowledgeBase
from .records import Article
from .redaction import PLACEHOLDERS, redact
from .vault import TOKEN as VAULT_TOKEN

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
TITLE_CHARS = 200
#: Greetings and sign-offs are about the customer and the agent, not the answer.
_SMALL_TALK = re.compile(r"^(hi|hello|hey|dear|good (morning|afternoon|evening)|thanks|thank you|many thanks|"
                         r"kind regards|regards|best|cheers|let me know|hope (this|that) helps|"
                         r"have a (great|nice|good))\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))


class DraftNotFound(LookupError):
    """No draft of that id in this account."""


@dataclass(frozen=True)
class Decision:
    """What a decision on a draft did: ``outcome`` is approved, rejected or
    ``already:<status>`` (nothing changed)."""

    draft: KbDraft
    outcome: str


# -- drafting ------------------------------------------------------------------------


def answer_sentences(text: str, *, region: str | None = None) -> list[str]:
    """The agent's reply as article sentences: no greeting, no sign-off, and no sentence
    that holds personal data or a token (dropped whole, never masked)."""
    kept = []
    for sentence in _SENTENCE.split(text.strip()):
        sentence = " ".join(sentence.split())
        if not sentence or _SMALL_TALK.match(sentence):
            continue
        if VAULT_TOKEN.search(sentence) or _PLACEHOLDER.search(sentence) or redact(
                sentence, default_region=region).findings:
            continue
        kept.append(sentence)
    return kept


def title_from(question: str) -> str:
    """The customer's own question, tidied: what the next customer will type."""
    text = " ".join(_PLACEHOLDER.sub(" ", VAULT_TOKEN.sub(" ", question)).split()).strip(" .,!")
    text = text[:1].upper() + text[1:]
    return clip(text if text.endswith("?") else f"{text}?", TITLE_CHARS)


def body_from(sentences: Sequence[str]) -> str:
    return "\n\n".join(dict.fromkeys(sentences))


def article_of(draft: KbDraft) -> Article:
    return Article(id=draft.article_id or f"kb-draft-{draft.id}", title=draft.title, body=draft.body,
                   tags=("switchboard-draft",))


def on_solved(session: Session, account: Account, settings: Settings, *, ticket_id: int) -> KbDraft | None:
    """A solved ticket whose conversation asked something no article answered, and on
    which agents replied publicly: a new draft, or a new version of the pending draft
    of the same gap. None when there is nothing to draft from."""
    conversation = conversation_for_ticket(session, account.id, ticket_id)
    if conversation is None:
        return None
    questions = [u.text for u in gaps.unanswered(session, account.id, conversation.started_at,
                                                  datetime.now(UTC), conversation_id=conversation.id)]
    replies = _agent_replies(session, conversation)
    sentences = [s for reply in replies for s in answer_sentences(reply.body, region=settings.country)]
    if not questions or not sentences:
        return None
    if any(ticket_id == source.get("ticket_id") for d in _drafts(session, account.id) for source in d.sources):
        return None  # this ticket's answers are already drafted
    source = {"ticket_id": ticket_id, "conversation_id": conversation.id,
              "comments": [str(r.meta.get("zendesk_comment_id") or r.id) for r in replies]}
    retriever = gaps.live_retriever(session, account.id, settings)
    draft = _same_gap(session, account.id, retriever, questions)
    if draft is None:
        draft = KbDraft(account_id=account.id, status=PENDING, version=1, title=title_from(questions[0]),
                        body=body_from(sentences), questions=list(questions), sources=[source], proof={})
        session.add(draft)
        session.flush()
        action = "kb.draft_created"
    else:
        draft.version += 1
        draft.questions = list(dict.fromkeys([*draft.questions, *questions]))[:gaps.KEPT_QUESTIONS]
        draft.body = body_from([*draft.body.split("\n\n"), *sentences])
        draft.sources = [*draft.sources, source]
        draft.updated_at = datetime.now(UTC)
        action = "kb.draft_merged"
    # Here, not at the top: the proof runs the eval path, whose intent model loads
    # scikit-learn, and a web process that only takes in webhooks imports this module.
    from . import kb_proof

    draft.proof = kb_proof.prove(session, account, settings, article_of(draft), draft.questions)
    audit(session, account_id=account.id, actor="bot", action=action, subject_type="kb_draft",
          subject_id=draft.id, detail={"version": draft.version, "ticket_id": ticket_id,
                                       "questions": len(draft.questions), "steals": draft.proof.get("steals")})
    session.commit()
    ports.current().supervisor_flows.request_draft_review(session, account, settings, draft)
    return draft


def _agent_replies(session: Session, conversation: Conversation) -> list[Message]:
    """Agents' public replies that reached the customer (internal notes never do)."""
    return list(session.scalars(select(Message).where(
        Message.conversation_id == conversation.id, Message.author == "agent").order_by(Message.id)))


def _drafts(session: Session, account_id: int, status: str | None = None) -> list[KbDraft]:
    query = select(KbDraft).where(KbDraft.account_id == account_id)
    if status is not None:
        query = query.where(KbDraft.status == status)
    return list(session.scalars(query.order_by(KbDraft.id)))


def _same_gap(session: Session, account_id: int, retriever: Any, questions: Sequence[str]) -> KbDraft | None:
    """The pending draft one of whose questions means what one of these asks, if any.

    Nearest question, not the draft's centre: a draft's centre drifts towards whatever
    it has merged and then attracts every question (bench/knowledge_loop.py: 40 tickets
    on 20 topics became 8 drafts that way)."""
    pending = _drafts(session, account_id, PENDING)
    if not pending:
        return None
    asked = gaps.vectors(retriever, questions)
    best: tuple[float, KbDraft | None] = (gaps.join_cosine(retriever), None)
    for draft in pending:
        theirs = gaps.vectors(retriever, draft.questions)
        if asked is None or theirs is None:
            if {q.lower() for q in questions} & {q.lower() for q in draft.questions}:
                return draft
            continue
        cosine = float((asked @ theirs.T).max())
        if cosine >= best[0]:
            best = (cosine, draft)
    return best[1]


# -- listing and deciding --------------------------------------------------------------


def drafts(session: Session, account_id: int, status: str | None = None) -> list[KbDraft]:
    """The account's drafts, oldest first (``status`` to only see pending ones, say)."""
    return _drafts(session, account_id, status)


def get(session: Session, account_id: int, draft_id: int) -> KbDraft:
    draft = session.get(KbDraft, draft_id)
    if draft is None or draft.account_id != account_id:
        raise DraftNotFound(f"no knowledge draft {draft_id} in this account: see `switchboard kb drafts list`")
    return draft


def approvers(account: Account, settings: Settings) -> frozenset[str]:
    """Who may approve: SWITCHBOARD_KB_APPROVERS, else the outreach approvers (another
    account: its kb_approvers secret, else its outreach_approvers)."""
    def names(name: str, *, inherit: bool) -> tuple[str, ...]:
        return setting(account, name, settings, lambda raw: outreach_approvers(raw, secret_variable(account, name)),
                       inherit=inherit) or ()
    # As outreach: a further account without approvers of its own falls back the same way.
    return frozenset(names("kb_approvers", inherit=False) or names("outreach_approvers", inherit=True))


def as_json(draft: KbDraft) -> dict[str, Any]:
    return {"id": draft.id, "status": draft.status, "version": draft.version, "title": draft.title,
            "body": draft.body, "questions": list(draft.questions), "sources": list(draft.sources),
            "proof": dict(draft.proof), "article_id": draft.article_id, "decided_by": draft.decided_by,
            "decided_at": draft.decided_at.isoformat() if draft.decided_at else None,
            "created_at": draft.created_at.isoformat()}


def decide(session: Session, account: Account, settings: Settings, draft_id: int, verdict: str, *,
           actor: str) -> Decision:
    """Approve (publish) or reject a pending draft, once: a second click, or a click on
    a draft already decided, changes nothing and says so."""
    if verdict not in ("approve", "reject"):
        raise ValueError(f"a draft is approved or rejected, not {verdict!r}")
    draft = session.scalar(select(KbDraft).where(KbDraft.id == draft_id, KbDraft.account_id == account.id)
                           .with_for_update())
    if draft is None:
        raise DraftNotFound(f"no knowledge draft {draft_id} in this account: see `switchboard kb drafts list`")
    if draft.status != PENDING:
        return Decision(draft, f"already:{draft.status}")
    draft.decided_by, draft.decided_at = actor, datetime.now(UTC)
    detail: dict[str, Any] = {"version": draft.version, "title": draft.title}
    if verdict == "reject":
        draft.status = REJECTED
    else:
        draft.status = APPROVED
        draft.article_id = draft.article_id or f"kb-draft-{draft.id}"
        detail.update(_publish(session, account, settings, draft))
    audit(session, account_id=account.id, actor=actor, action=f"kb.draft_{draft.status}", subject_type="kb_draft",
          subject_id=draft.id, detail=detail)
    session.commit()
    ports.current().supervisor_flows.show_draft_decision(session, account, settings, draft)
    return Decision(draft, draft.status)


def _publish(session: Session, account: Account, settings: Settings, draft: KbDraft) -> dict[str, Any]:
    """Into the knowledge base (a new index version every host loads on its next
    message), then to the Help Center under a key of draft and version: a retried
    approval sends nothing twice."""
    article = article_of(draft)
    KnowledgeBase.of(session, account.id, settings).import_articles([article], source="kb_draft")
    published: dict[str, Any] = {"article_id": article.id}
    section = setting(account, "help_center_section_id", settings, str)
    if not section:
        published["help_center"] = f"not configured ({secret_variable(account, 'help_center_section_id')})"
        return published
    result = ports.current().helpdesk(session, account, settings).call(
        "help_center.articles.create", help_center_payload(draft, settings, section),
        idempotency_key=f"kb-draft:{draft.id}:v{draft.version}")
    published.update(help_center=result.call.status, outbox_call_id=result.call.id)
    return published


def help_center_payload(draft: KbDraft, settings: Settings, section: str) -> dict[str, Any]:
    """``POST /api/v2/help_center/sections/{section}/articles.json``'s body: the article
    as HTML, in the configured locale, a draft unless SWITCHBOARD_HELP_CENTER_DRAFT=0."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in draft.body.split("\n\n") if p.strip())
    article: dict[str, Any] = {"title": draft.title, "body": body, "locale": settings.help_center_locale,
                               "draft": settings.help_center_draft, "user_segment_id": None}
    if settings.help_center_permission_group_id:
        article["permission_group_id"] = int(settings.help_center_permission_group_id)
    return {"section_id": str(section), "article": article}
