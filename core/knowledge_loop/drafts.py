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
(:mod:`.proof`); approving publishes it to the knowledge base index at once (every
host answers from it on its next message) and, when a Help Center section is set, to
Zendesk through the outbox, once per version (:mod:`.publish`); rejecting changes
nothing else. When the agents answered from an existing article and their answer adds
to or contradicts it, the draft is an edit of that article (:mod:`.edits`). A
reviewer may edit a pending draft: each edit is a new version (who, when), proven again.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.accounts import secret_variable, setting
from switchboard.core.helpdesk.handoff import conversation_for_ticket
from switchboard.core.knowledge import phrasings, topics
from switchboard.core.knowledge.join_calibration import shipped as shipped_join
from switchboard.core.knowledge.records import Article
from switchboard.core.knowledge.retrieval import Retriever
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.knowledge_loop import edits as kb_edits
from switchboard.core.knowledge_loop import gaps
from switchboard.core.knowledge_loop import publish as kb_publish
from switchboard.core.knowledge_loop import writer as kb_writer
from switchboard.core.knowledge_loop.digest import clip
from switchboard.core.pii.redaction import PLACEHOLDERS
from switchboard.core.pii.vault import TOKEN as VAULT_TOKEN
from switchboard.core.settings import Settings, outreach_approvers
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Conversation, KbDraft, Message

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
NEW, EDIT = "new", "edit"
TITLE_CHARS = 200
#: A reviewer's body at most (Slack's multi-line input holds 3,000 characters).
BODY_CHARS = 20_000
#: Greetings and sign-offs are about the customer and the agent, not the answer.
_SMALL_TALK = re.compile(r"^(hi|hello|hey|dear|good (morning|afternoon|evening)|thanks|thank you|many thanks|"
                         r"kind regards|regards|best|cheers|let me know|hope (this|that) helps|"
                         r"have a (great|nice|good))\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))
#: How a version the local engine wrote is recorded (kb_writer: the LLM's when it writes).
LOCAL: dict[str, Any] = {"engine": "local"}
#: The existing articles an LLM writes a new draft with, besides the agents' replies.
CLOSEST_ARTICLES = 2


class DraftNotFound(LookupError):
    """No draft of that id in this account."""


class InvalidEdit(ValueError):
    """A reviewer's edit that cannot be saved (empty, too long, personal data): the
    message says what to change."""


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
        if kb_writer.personal_data(sentence, region=region):
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


def article_of(session: Session, account_id: int, settings: Settings, draft: KbDraft) -> Article:
    """The article as the draft would publish it (an edit keeps its article's URL and tags)."""
    live = kb_publish.live_article(session, account_id, settings, draft.target_article_id) \
        if draft.kind == EDIT else None
    return kb_publish.article_of(draft, live)


def record_version(draft: KbDraft, *, by: str, how: str, written: dict[str, Any] | None = None) -> None:
    """Keep the draft's current version as it is, with who made it, when and how (and,
    for a version the bot wrote, ``written``: by the local engine or the LLM, with which
    prompt, and why an LLM's article was not kept)."""
    draft.versions = [*draft.versions, {"version": draft.version, "title": draft.title, "body": draft.body,
                                        "by": by, "at": datetime.now(UTC).isoformat(timespec="seconds"),
                                        "how": how, **({"written": written} if written is not None else {})}]


def written(draft: KbDraft) -> dict[str, Any] | None:
    """How the bot last wrote the draft (see :func:`record_version`)."""
    return next((v["written"] for v in reversed(draft.versions) if "written" in v), None)


def reprove(session: Session, account: Account, settings: Settings, draft: KbDraft) -> None:
    # Here, not at the top: the proof runs the eval path, whose intent model loads
    # scikit-learn, and a web process that only takes in webhooks imports this module.
    from switchboard.core.knowledge_loop import proof as kb_proof

    draft.proof = kb_proof.prove(session, account, settings, article_of(session, account.id, settings, draft),
                                 draft.questions)


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
    retriever = topics.live_retriever(session, account.id, settings)
    known = {a.id: a for a in KnowledgeBase.of(session, account.id, settings).articles()}
    bodies = {article_id: a.body for article_id, a in known.items()}
    target = edit_target(session, account.id, retriever, question=questions[0], replies=[r.body for r in replies],
                             agent_sentences=sentences, bodies=bodies)
    draft = _pending_edit(session, account.id, target) if target else _same_gap(session, settings, account.id,
                                                                                  retriever, questions, sentences)
    how = LOCAL
    if draft is None and target:
        revision = kb_edits.revise(bodies[target], sentences)
        if revision is None:
            return None  # the agents answered from the article as it stands: nothing to change
        draft = KbDraft(account_id=account.id, status=PENDING, version=1, kind=EDIT, target_article_id=target,
                        title=_title_of(session, account.id, settings, target), body=revision.body,
                        base_body=bodies[target], questions=list(questions), sources=[source], proof={}, versions=[])
        draft.body, how = _written_edit(session, account, settings, draft, known[target], sentences,
                                        key=f"kb-draft:{account.id}:{ticket_id}")
    elif draft is None:
        draft, how = _new(session, account, settings, questions=questions, sentences=sentences, source=source,
                          retriever=retriever, known=known)
    if draft.id is None:
        session.add(draft)
        session.flush()
        action = "kb.draft_created"
    else:
        draft.version += 1
        draft.questions = list(dict.fromkeys([*draft.questions, *questions]))[:gaps.KEPT_QUESTIONS]
        draft.sources = [*draft.sources, source]
        draft.updated_at = datetime.now(UTC)
        how = _merged(session, account, settings, draft, sentences, retriever=retriever, known=known,
                      key=f"kb-draft:{account.id}:{ticket_id}")
        action = "kb.draft_merged"
    record_version(draft, by="bot", how="drafted" if action == "kb.draft_created" else f"merged ticket #{ticket_id}",
                   written=how)
    reprove(session, account, settings, draft)
    audit(session, account_id=account.id, actor="bot", action=action, subject_type="kb_draft",
          subject_id=draft.id, detail={"version": draft.version, "ticket_id": ticket_id, "kind": draft.kind,
                                       "target_article_id": draft.target_article_id,
                                       "questions": len(draft.questions), "steals": draft.proof.get("steals")})
    session.commit()
    ports.current().supervisor_flows.request_draft_review(session, account, settings, draft)
    return draft


def _new(session: Session, account: Account, settings: Settings, *, questions: Sequence[str],
         sentences: Sequence[str], source: dict[str, Any], retriever: Retriever | None,
         known: dict[str, Article]) -> tuple[KbDraft, dict[str, Any]]:
    """A new article's draft: the LLM's when one is configured and its article is
    grounded (:mod:`.writer`), else the extractive one; and how it was written."""
    local = kb_writer.Written(title_from(questions[0]), body_from(sentences), LOCAL)
    wrote = kb_writer.write(session, account, settings, questions=questions, sentences=sentences,
                            articles=_near(settings, retriever, known, questions[0]), local=local,
                            key=f"kb-draft:{account.id}:{source['ticket_id']}")
    draft = KbDraft(account_id=account.id, status=PENDING, version=1, kind=NEW, title=clip(wrote.title, TITLE_CHARS),
                    body=wrote.body, questions=list(questions), sources=[source], proof={}, versions=[])
    return draft, wrote.how


def _merged(session: Session, account: Account, settings: Settings, draft: KbDraft, sentences: Sequence[str], *,
            retriever: Retriever | None, known: dict[str, Article], key: str) -> dict[str, Any]:
    """Fold a later ticket's agent sentences into a pending draft (its questions and
    sources already updated), and say how it was written.

    The local engine appends the new sentences (an edit: folds them into the article).
    With a model configured, the whole draft is written again from every source
    ticket's replies, so the article reads as one answer rather than answers stacked;
    but never over a reviewer's words: once a person has edited the draft, later
    tickets are only appended, for them to review."""
    if draft.kind == EDIT:
        revision = kb_edits.revise(draft.body, sentences)
        draft.body = revision.body if revision is not None else draft.body
    else:
        draft.body = body_from([*draft.body.split("\n\n"), *sentences])
    if not ports.current().chat_model_configured(settings) or any(v.get("by") != "bot" for v in draft.versions):
        return LOCAL  # nothing to write again, so the source tickets' replies are not read
    every = _source_sentences(session, settings, draft)
    if draft.kind == EDIT:
        target = known.get(draft.target_article_id or "")
        if target is None:
            return LOCAL
        draft.body, how = _written_edit(session, account, settings, draft, target, every, key=key)
        return how
    local = kb_writer.Written(draft.title, draft.body, LOCAL)
    wrote = kb_writer.write(session, account, settings, questions=draft.questions, sentences=every,
                            articles=_near(settings, retriever, known, draft.questions[0]), local=local, key=key)
    draft.title, draft.body = clip(wrote.title, TITLE_CHARS), wrote.body
    return wrote.how


def _written_edit(session: Session, account: Account, settings: Settings, draft: KbDraft, article: Article,
                  sentences: Sequence[str], *, key: str) -> tuple[str, dict[str, Any]]:
    """An edit's body as the LLM revises the article (when configured and grounded, and it
    no longer states what the agents corrected), else the draft's extractive body."""
    if not ports.current().chat_model_configured(settings):
        return draft.body, LOCAL  # the corrections are read for the model only
    base = dataclasses.replace(article, body=draft.base_body or article.body)
    corrected = [old for old, _ in (kb_edits.revise(base.body, sentences) or kb_edits.Revision("")).replaced]
    wrote = kb_writer.write_edit(session, account, settings, article=base, questions=draft.questions,
                                 sentences=sentences, corrected=corrected,
                                 local=kb_writer.Written(draft.title, draft.body, LOCAL), key=key)
    return wrote.body, wrote.how


def _near(settings: Settings, retriever: Retriever | None, known: dict[str, Article], question: str) -> list[Article]:
    """The closest existing articles, which the LLM writes with (none looked up when no
    model is configured: the local engine does not use them)."""
    if not ports.current().chat_model_configured(settings):
        return []
    return [known[c.article_id] for c in gaps.closest(retriever, question)[:CLOSEST_ARTICLES] if c.article_id in known]


def _source_sentences(session: Session, settings: Settings, draft: KbDraft) -> list[str]:
    """Every source ticket's agent sentences, as a draft keeps them, in ticket order."""
    found: list[str] = []
    for source in draft.sources:
        conversation = session.get(Conversation, source.get("conversation_id"))
        if conversation is None or conversation.account_id != draft.account_id:
            continue
        found += [s for reply in _agent_replies(session, conversation)
                  for s in answer_sentences(reply.body, region=settings.country)]
    return list(dict.fromkeys(found))


def _agent_replies(session: Session, conversation: Conversation) -> list[Message]:
    """Agents' public replies that reached the customer (internal notes never do)."""
    return list(session.scalars(select(Message).where(
        Message.conversation_id == conversation.id, Message.author == "agent").order_by(Message.id)))


def _drafts(session: Session, account_id: int, status: str | None = None) -> list[KbDraft]:
    query = select(KbDraft).where(KbDraft.account_id == account_id)
    if status is not None:
        query = query.where(KbDraft.status == status)
    return list(session.scalars(query.order_by(KbDraft.id)))


def edit_target(session: Session, account_id: int, retriever: Retriever | None, *, question: str,
                replies: Sequence[str], agent_sentences: Sequence[str], bodies: dict[str, str]) -> str | None:
    """The article the agents' answer edits: one their replies link, else the gap's
    closest article when they answer from it. ``bodies`` maps article ids to bodies."""
    for reply in replies:
        for article_id in phrasings.linked_articles(session, account_id, reply):
            if article_id in bodies:
                return article_id
    for near in gaps.closest(retriever, question)[:1]:
        if near.article_id in bodies and kb_edits.answers_from(bodies[near.article_id], agent_sentences):
            return near.article_id
    return None


def _title_of(session: Session, account_id: int, settings: Settings, article_id: str) -> str:
    live = kb_publish.live_article(session, account_id, settings, article_id)
    return clip(live.title, TITLE_CHARS) if live is not None else article_id


def _pending_edit(session: Session, account_id: int, article_id: str) -> KbDraft | None:
    """The pending edit of this article, which a later answer merges into."""
    return next((d for d in _drafts(session, account_id, PENDING) if d.kind == EDIT
                 and d.target_article_id == article_id), None)


def _same_gap(session: Session, settings: Settings, account_id: int, retriever: Retriever | None,
              questions: Sequence[str], sentences: Sequence[str]) -> KbDraft | None:
    """The pending draft whose questions mean what one of these asks, if any.

    Close enough is the join cosine fitted on the account's own articles
    (:mod:`..knowledge.join_calibration`), reached by the question's mean cosine to the
    draft's questions, not its nearest one: with the nearest, every question a draft
    merges lets it reach further, and one draft chained five of StackFAQ's topics
    together (bench/knowledge_loop.py, seed 7). Nor the draft's centre, which drifts
    the same way.

    The agents' answer counts too: a ticket answered with the same text as a pending
    draft's tickets (most of its sentences already there: a macro, a pasted article)
    is the same topic when its question is merely close, down to the shipped join
    cosine (the fitted one's floor), which customers asking one thing in other words
    often fall below."""
    pending = [d for d in _drafts(session, account_id, PENDING) if d.kind == NEW]
    if not pending:
        return None
    asked = topics.vectors(retriever, questions)
    joined = topics.join_cosine(retriever)
    floor = min(joined, shipped_join(retriever.encoder_name if retriever is not None else None))
    best: tuple[float, KbDraft | None] = (joined, None)
    for draft in pending:
        theirs = topics.vectors(retriever, draft.questions)
        if asked is None or theirs is None:
            if {q.lower() for q in questions} & {q.lower() for q in draft.questions}:
                return draft
            continue
        cosine = float((asked @ theirs.T).mean(axis=1).max())
        if cosine >= floor and cosine < joined and _same_answer(sentences, _source_sentences(session, settings,
                                                                                               draft)):
            cosine = joined
        if cosine >= best[0]:
            best = (cosine, draft)
    return best[1]


def _same_answer(sentences: Sequence[str], drafted: Sequence[str]) -> bool:
    """Whether most of an agent's answer is already in a draft's tickets' answers."""
    mine = {" ".join(s.lower().split()) for s in sentences}
    theirs = {" ".join(s.lower().split()) for s in drafted}
    return bool(mine) and len(mine & theirs) * 2 >= len(mine)


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


def diff(draft: KbDraft) -> list[str]:
    """An edit's change to its article, a sentence a line (``- `` old, ``+ `` new)."""
    return kb_edits.diff(draft.base_body or "", draft.body) if draft.kind == EDIT else []


def as_json(draft: KbDraft) -> dict[str, Any]:
    return {"id": draft.id, "status": draft.status, "kind": draft.kind, "version": draft.version,
            "target_article_id": draft.target_article_id, "title": draft.title, "body": draft.body,
            "diff": diff(draft), "questions": list(draft.questions), "sources": list(draft.sources),
            "proof": dict(draft.proof), "article_id": draft.article_id, "decided_by": draft.decided_by,
            "decided_at": draft.decided_at.isoformat() if draft.decided_at else None,
            "approved_version": draft.approved_version, "versions": list(draft.versions), "written": written(draft),
            "created_at": draft.created_at.isoformat()}


def edit(session: Session, account: Account, settings: Settings, draft_id: int, *, title: str, body: str,
         actor: str) -> Decision:
    """A reviewer's title and body as the draft's next version, proven again and shown
    on its card. ``outcome`` is edited, unchanged, or ``already:<status>`` for a draft
    decided meanwhile (nothing saved). Raises :class:`InvalidEdit` naming what to fix."""
    title = " ".join(title.split())
    body = "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", body.strip()) if p.strip())
    _check_edit(title, body, settings)
    draft = _locked(session, account.id, draft_id)
    if draft.status != PENDING:
        return Decision(draft, f"already:{draft.status}")
    if (title, body) == (draft.title, draft.body):
        return Decision(draft, "unchanged")
    if not draft.versions:  # a draft from before versions were kept: its first one as drafted
        record_version(draft, by="bot", how="drafted")
    draft.version += 1
    draft.title, draft.body, draft.updated_at = title, body, datetime.now(UTC)
    record_version(draft, by=actor, how="edited")
    reprove(session, account, settings, draft)
    audit(session, account_id=account.id, actor=actor, action="kb.draft_edited", subject_type="kb_draft",
          subject_id=draft.id, detail={"version": draft.version, "title": title, "chars": len(body),
                                       "steals": draft.proof.get("steals")})
    session.commit()
    ports.current().supervisor_flows.request_draft_review(session, account, settings, draft)
    return Decision(draft, "edited")


def _check_edit(title: str, body: str, settings: Settings) -> None:
    if not title:
        raise InvalidEdit("the title is empty: write the question as customers ask it")
    if len(title) > TITLE_CHARS:
        raise InvalidEdit(f"the title is {len(title)} characters long: keep it to {TITLE_CHARS}")
    if not body:
        raise InvalidEdit("the body is empty: write the answer, or reject the draft instead")
    if len(body) > BODY_CHARS:
        raise InvalidEdit(f"the body is {len(body)} characters long: keep it to {BODY_CHARS}")
    for text in (title, *body.split("\n\n")):
        kinds = kb_writer.personal_data(text, region=settings.country)
        if kinds:
            raise InvalidEdit(f"the text holds personal data ({', '.join(kinds)}): remove it, every customer reads "
                              "an article")


def _locked(session: Session, account_id: int, draft_id: int) -> KbDraft:
    draft = session.scalar(select(KbDraft).where(KbDraft.id == draft_id, KbDraft.account_id == account_id)
                           .with_for_update())
    if draft is None:
        raise DraftNotFound(f"no knowledge draft {draft_id} in this account: see `switchboard kb drafts list`")
    return draft


def decide(session: Session, account: Account, settings: Settings, draft_id: int, verdict: str, *,
           actor: str) -> Decision:
    """Approve (publish) or reject a pending draft, once: a second click, or a click on
    a draft already decided, changes nothing and says so."""
    if verdict not in ("approve", "reject"):
        raise ValueError(f"a draft is approved or rejected, not {verdict!r}")
    draft = _locked(session, account.id, draft_id)
    if draft.status != PENDING:
        return Decision(draft, f"already:{draft.status}")
    draft.decided_by, draft.decided_at = actor, datetime.now(UTC)
    detail: dict[str, Any] = {"version": draft.version, "title": draft.title, "kind": draft.kind}
    if verdict == "reject":
        draft.status = REJECTED
    else:
        draft.status = APPROVED
        draft.approved_version = draft.version
        draft.article_id = draft.article_id or draft.target_article_id or f"kb-draft-{draft.id}"
        detail.update(kb_publish.publish(session, account, settings, draft))
    audit(session, account_id=account.id, actor=actor, action=f"kb.draft_{draft.status}", subject_type="kb_draft",
          subject_id=draft.id, detail=detail)
    session.commit()
    ports.current().supervisor_flows.show_draft_decision(session, account, settings, draft)
    return Decision(draft, draft.status)
