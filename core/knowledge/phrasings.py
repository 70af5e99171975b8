"""How customers ask for an article, learned from use, and only once someone vouches.

Retrieval misses questions worded unlike the article ("my thing never came" for
"Where is my order?"). The bot's menu, agents' verdicts on suggestions and agents'
replies that link an article say which article such a question wanted. Each of these
is a piece of **evidence** for a (question, article) pair, a **phrasing** of that
article; retrieval counts an active phrasing's vector as evidence for its article
(:func:`learned`).

Why these rules:

- **Corroborated or nothing.** A phrasing is active once two *distinct* customers
  picked the same article off a menu for the same question (its words, folded), or
  one agent vouched for it (inserted or thumbs-upped a suggestion citing it, or linked
  it in a public reply). One customer alone never teaches the bot anything: a confused
  or hostile customer could otherwise steer every later customer's answer. Their pick
  is kept as pending evidence.
- **Disowned evidence counts for nothing.** A pick followed by "that didn't help" (or
  a request for a person, in any catalog language: :mod:`..understanding.setbacks`), and a
  suggestion an agent thumbed down, are withdrawn; a phrasing that falls below the
  bar goes back to pending.
- **An admin's removal is final.** A removed phrasing never comes back, whatever
  evidence arrives later (it is still recorded, so the list shows the demand).
- **No personal data.** Only redacted text is stored, and a question that still holds
  a vault token (``[PHONE_1]``), a redaction placeholder or anything redaction would
  remove again is not learned at all, nor is a long message (a story, not a phrasing).
- **Every host at its next message.** Phrasings live in the database; each process
  keeps the active ones of an account in memory and checks one stamp row (a primary
  key read) per use, reloading only when the stamp changed.

Every new piece of evidence, activation, deactivation, withdrawal and removal is in
the audit log, by ids and counts: never the customer's words, which the append-only
log could not give back on erasure.
"""
from __future__ import annotations

import hashlib
import logging
import re
import threading
import uuid
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, bindparam, case, delete, distinct, func, or_, select
from sqlalchemy.orm import Session

from switchboard.core.errors import SwitchboardError
from switchboard.core.knowledge import embeddings
from switchboard.core.knowledge.analysis import content_words
from switchboard.core.knowledge.errors import EmbeddingsUnavailableError
from switchboard.core.knowledge.learned import Learned
from switchboard.core.knowledge.retrieval import Retriever
from switchboard.core.knowledge.service import KnowledgeBase, KnowledgeBaseEmpty
from switchboard.core.pii.redaction import redact, truncate_for_model
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import (
    Conversation,
    KbArticle,
    LearnedPhrasing,
    Message,
    PhrasingEvidence,
    PhrasingStamp,
    SuggestionFeedback,
)
from switchboard.core.store.rows import insert_or_fetch, write_now
from switchboard.core.understanding.enrichment import Enrichment
from switchboard.core.understanding.setbacks import asks_for_person, did_not_help
from switchboard.core.understanding.small_talk import request_part

log = logging.getLogger(__name__)

#: Distinct customers whose picks make a phrasing active without an agent.
CUSTOMERS_TO_ACTIVATE = 2
#: Distinct agents whose vouches make a phrasing active.
AGENTS_TO_ACTIVATE = 1
#: Longer questions are stories, not phrasings (and more likely to hold a name).
MAX_PHRASING_CHARS = 200
#: The intent model's confidence at which "human_agent" counts as asking for a person.
PERSON_INTENT_CONFIDENCE = 0.6
#: The key on a customer's pick message naming the evidence it gave, so the next
#: message can withdraw it without a query.
PICK_MARK = "phrasing_evidence"
#: Any bracketed word: a vault token ([PHONE_1]), a redaction placeholder ([CARD]), or
#: what erasure and retention leave behind ([erased]).
_BRACKETED = re.compile(r"\[[A-Za-z_]+(?:_[0-9]+)?\]")
_WORD = re.compile(r"[^\W_]+")

#: SWITCHBOARD_EMBEDDINGS → the encoder an index built with it embeds with.
ENCODER_OF_SETTING: dict[str, str | None] = {"e5": embeddings.E5, "wordllama": embeddings.WORDLLAMA,
                                             "minilm": embeddings.MINILM, "none": None}

ACTIVE, PENDING, REMOVED = "active", "pending", "removed"
PICK, AGENT = "pick", "agent"


class PhrasingError(SwitchboardError, LookupError):
    """A phrasing an admin named does not exist in the account."""


@dataclass(frozen=True)
class Phrasing:
    """One phrasing as an admin sees it."""

    id: int
    article_id: str
    article_title: str | None
    text: str
    status: str
    customers: int
    agents: int
    learned_at: datetime
    activated_at: datetime | None
    removed_at: datetime | None


# --- which encoder ------------------------------------------------------------------

def encoder_for_setting(setting: str | None) -> str | None:
    """The encoder an index built under SWITCHBOARD_EMBEDDINGS=``setting`` uses (None:
    lexical only, no vectors)."""
    return ENCODER_OF_SETTING.get(setting or "none")


def account_encoder(session: Session, account_id: int, settings: Settings) -> str | None:
    """The encoder of the account's current knowledge index: a phrasing's vector must
    be comparable with the customer's question vector retrieval computes. Before any
    index exists, the encoder the setting names (the one the first index will use)."""
    try:
        return KnowledgeBase.of(session, account_id, settings).retriever().encoder_name
    except KnowledgeBaseEmpty:
        return encoder_for_setting(settings.embeddings)


# --- what may be learned --------------------------------------------------------------

def teachable(question: str) -> str | None:
    """The text to learn from ``question`` (its request part, spaces tidied), or None
    when it must not be learned: it holds a token, placeholder or personal data, is
    too long, or has no topic word."""
    text = " ".join(request_part(truncate_for_model(question)).split())
    if not text or len(text) > MAX_PHRASING_CHARS or _BRACKETED.search(text):
        return None
    if redact(text).findings or not content_words(text):
        return None
    return text


def phrasing_key(text: str) -> str:
    """What two customers must both have written: the words, case folded, in order."""
    return " ".join(_WORD.findall(text.casefold()))


# --- recording evidence ---------------------------------------------------------------

def record_pick(session: Session, account_id: int, *, conversation_id: int, customer_id: int, message_id: int,
                question: str, article_id: str, settings: Settings) -> LearnedPhrasing | None:
    """A customer picked ``article_id`` off the bot's menu for ``question`` (the
    message the menu answered, redacted as stored) with message ``message_id``. The
    pick is marked on that message, so the customer's next one can withdraw it
    (:func:`judge_pick`). Returns the phrasing, or None when the question is not
    teachable. Safe to repeat for the same message."""
    text = teachable(question)
    if text is None:
        return None
    phrasing = _phrasing(session, account_id, article_id, text)
    evidence = _add_evidence(session, phrasing, kind=PICK, source="menu", dedupe_key=f"pick:{message_id}",
                             customer_id=customer_id, conversation_id=conversation_id)
    if evidence is not None:
        message = session.get(Message, message_id)
        if message is not None:
            write_now(session, message, meta={**message.meta, PICK_MARK: evidence.id})
        _recount(session, phrasing, settings, actor=f"customer:{customer_id}", evidence=evidence)
    return phrasing


def record_agent_vouch(session: Session, account_id: int, *, agent: str, question: str,
                       article_ids: Iterable[str], source: str, dedupe_key: str, settings: Settings,
                       conversation_id: int | None = None, suggestion_id: int | None = None) -> list[LearnedPhrasing]:
    """An agent said ``question`` is answered by each of ``article_ids`` (``source``:
    "inserted", "thumbs_up" or "linked_reply"). ``dedupe_key`` names the act, so a
    retried event counts once; the same act again reinstates a vouch withdrawn since
    (a thumbs-up after the agent's own thumbs-down). Returns the phrasings vouched for."""
    text = teachable(question)
    if text is None:
        return []
    vouched = []
    for article_id in sorted(set(article_ids)):  # one lock order for every transaction
        phrasing = _phrasing(session, account_id, article_id, text)
        evidence = _add_evidence(session, phrasing, kind=AGENT, source=source, dedupe_key=_bounded(dedupe_key),
                                 agent=_bounded(agent), conversation_id=conversation_id,
                                 suggestion_id=suggestion_id, reinstate=True)
        if evidence is not None:
            _recount(session, phrasing, settings, actor=agent, evidence=evidence)
        vouched.append(phrasing)
    return vouched


def vouch_for_suggestion(session: Session, account_id: int, *, suggestion_id: int, question: str,
                         sources: Sequence[dict[str, Any]], conversation_id: int | None, agent: str, source: str,
                         settings: Settings) -> list[LearnedPhrasing]:
    """An agent inserted or thumbed up a suggestion: a vouch for each article it cites,
    unless its latest rating is a thumbs-down (which outranks an insert)."""
    latest = session.scalar(select(SuggestionFeedback.rating).where(
        SuggestionFeedback.suggestion_id == suggestion_id, SuggestionFeedback.kind == "rating")
        .order_by(SuggestionFeedback.id.desc()).limit(1))
    if latest == "down" and source != "thumbs_up":
        return []
    articles = [str(s["article_id"]) for s in sources if s.get("article_id")]
    return record_agent_vouch(session, account_id, agent=agent, question=question, article_ids=articles,
                              source=source, dedupe_key=f"{source}:{suggestion_id}:{agent}", settings=settings,
                              conversation_id=conversation_id, suggestion_id=suggestion_id)


def suggestion_rejected(session: Session, account_id: int, *, suggestion_id: int,
                        sources: Sequence[dict[str, Any]], conversation_id: int | None, agent: str) -> int:
    """An agent thumbed a suggestion down: the vouches it earned, and the picks of its
    articles in its conversation (the customer's own, which the agent just judged
    wrong), are withdrawn. Returns how many pieces of evidence were."""
    articles = [str(s["article_id"]) for s in sources if s.get("article_id")]
    about = PhrasingEvidence.suggestion_id == suggestion_id
    if conversation_id is not None and articles:
        picked = select(LearnedPhrasing.id).where(LearnedPhrasing.account_id == account_id,
                                                  LearnedPhrasing.article_id.in_(articles))
        about = or_(about, and_(PhrasingEvidence.conversation_id == conversation_id, PhrasingEvidence.kind == PICK,
                                PhrasingEvidence.phrasing_id.in_(picked)))
    ids = session.scalars(select(PhrasingEvidence.id).where(
        PhrasingEvidence.account_id == account_id, PhrasingEvidence.withdrawn_at.is_(None), about)).all()
    return withdraw(session, account_id, ids, because="thumbs_down", actor=agent)


def judge_pick(session: Session, account_id: int, earlier: Sequence[Message], text: str,
               enrichment: Enrichment) -> bool:
    """The customer's message after a menu pick (their previous message in ``earlier``,
    the conversation's latest messages oldest first): when it says the answer did not
    help, or asks for a person, the pick is withdrawn. True when it was. Costs nothing
    (no query) after any other message."""
    previous = next((m for m in reversed(earlier) if m.author == "customer"), None)
    evidence_id = (previous.meta or {}).get(PICK_MARK) if previous is not None else None
    if previous is None or not isinstance(evidence_id, int):
        return False
    wants_person = asks_for_person(text) or (enrichment.intent == "human_agent"
                                             and enrichment.intent_confidence >= PERSON_INTENT_CONFIDENCE)
    if not (wants_person or did_not_help(text)):
        return False
    conversation = session.get(Conversation, previous.conversation_id)  # the inbound's: in the session already
    actor = f"customer:{conversation.customer_id}" if conversation is not None else "customer"
    return withdraw(session, account_id, [evidence_id], because="asked_for_person" if wants_person
                    else "did_not_help", actor=actor) > 0


def withdraw(session: Session, account_id: int, evidence_ids: Iterable[int], *, because: str, actor: str) -> int:
    """Withdraw standing evidence (it stays on record, counting for nothing); phrasings
    that fall below the bar go back to pending. Returns how many were withdrawn."""
    ids = sorted(set(evidence_ids))
    if not ids:
        return 0
    found = session.scalars(select(PhrasingEvidence).where(
        PhrasingEvidence.account_id == account_id, PhrasingEvidence.id.in_(ids),
        PhrasingEvidence.withdrawn_at.is_(None))).all()
    now = datetime.now(UTC)
    for phrasing_id in sorted({e.phrasing_id for e in found}):
        phrasing = _locked(session, phrasing_id)
        for evidence in (e for e in found if e.phrasing_id == phrasing_id):
            evidence.withdrawn_at, evidence.withdrawn_because = now, because
            audit(session, account_id=account_id, actor=actor, action="kb.phrasing_withdrawn",
                  subject_type="kb_phrasing", subject_id=phrasing_id,
                  detail={"article_id": phrasing.article_id, "evidence_id": evidence.id, "kind": evidence.kind,
                          "source": evidence.source, "because": because})
        session.flush()
        _recount(session, phrasing, None, actor=actor)
    return len(found)


def learned_from_reply(session: Session, account_id: int, *, question: str, reply: str, agent: str,
                       comment_id: str, conversation_id: int | None, settings: Settings) -> list[LearnedPhrasing]:
    """An agent's public reply that links help-center articles vouches for each of them
    as an answer to ``question`` (the customer's question on the ticket)."""
    articles = linked_articles(session, account_id, reply)
    if not articles:
        return []
    return record_agent_vouch(session, account_id, agent=agent, question=question, article_ids=articles,
                              source="linked_reply", dedupe_key=f"reply:{comment_id}", settings=settings,
                              conversation_id=conversation_id)


_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
_HELP_CENTER_ARTICLE = re.compile(r"/hc/(?:[\w-]+/)?articles/([0-9]+)(?:[-/?#]|$)")
#: At most this many links of one reply are looked up.
MAX_LINKS = 10


def linked_articles(session: Session, account_id: int, text: str) -> list[str]:
    """The ids of the account's articles ``text`` links to: by their URL (scheme, case
    of the host, a trailing slash, query and fragment ignored), or by a Zendesk Help
    Center article number (its URL's slug and locale may differ from the stored one)."""
    urls = list(dict.fromkeys(m.group().rstrip(".,;:!?") for m in _URL.finditer(text)))[:MAX_LINKS]
    if not urls:
        return []
    wanted = {_url_key(url) for url in urls}
    numbers = {m.group(1) for url in urls if (m := _HELP_CENTER_ARTICLE.search(url))}
    candidates = {variant for url in urls for variant in _url_variants(url)}
    rows = session.execute(select(KbArticle.external_id, KbArticle.url, KbArticle.source).where(
        KbArticle.account_id == account_id,
        or_(KbArticle.url.in_(candidates),
            and_(KbArticle.source == "help_center", KbArticle.external_id.in_(numbers))))).all()
    return sorted({external_id for external_id, url, source in rows
                   if (url and _url_key(url) in wanted) or (source == "help_center" and external_id in numbers)})


def _url_key(url: str) -> str:
    bare = url.split("#", 1)[0].split("?", 1)[0].rstrip("/")
    _, _, rest = bare.partition("://")
    host, _, path = rest.partition("/")
    return f"{host.lower()}/{path}"


def _url_variants(url: str) -> set[str]:
    """How the same link may have been stored (for an indexed IN lookup)."""
    bare = url.split("#", 1)[0].split("?", 1)[0].rstrip("/")
    _, _, rest = bare.partition("://")
    host, _, path = rest.partition("/")
    forms = set()
    for scheme in ("https", "http"):
        for h in {host, host.lower()}:
            forms |= {f"{scheme}://{h}/{path}", f"{scheme}://{h}/{path}/"}
    return forms


# --- the rows and the rule --------------------------------------------------------------

def _bounded(value: str, limit: int = 200) -> str:
    """``value`` as a column of ``limit`` characters holds it: a longer one (an agent
    label an old sidebar app sent) is shortened with a hash, so two never collide."""
    if len(value) <= limit:
        return value
    return f"{value[:limit - 17]}~{hashlib.sha256(value.encode()).hexdigest()[:16]}"


def _phrasing(session: Session, account_id: int, article_id: str, text: str) -> LearnedPhrasing:
    """The phrasing row for (article, text), created pending if new, locked (on
    PostgreSQL) so concurrent evidence for it is counted one transaction at a time:
    two customers' picks at once must still add up to two."""
    key = phrasing_key(text)
    key_hash = hashlib.sha256(key.encode()).hexdigest()
    now = datetime.now(UTC)
    row, _ = insert_or_fetch(
        session, LearnedPhrasing(account_id=account_id, article_id=article_id, key_hash=key_hash, key=key,
                                 text=text, status=PENDING, customers=0, agents=0, created_at=now, updated_at=now),
        lambda: session.scalar(select(LearnedPhrasing).where(
            LearnedPhrasing.account_id == account_id, LearnedPhrasing.article_id == article_id,
            LearnedPhrasing.key_hash == key_hash)))
    return _locked(session, row.id)


def _locked(session: Session, phrasing_id: int) -> LearnedPhrasing:
    return session.scalars(select(LearnedPhrasing).where(LearnedPhrasing.id == phrasing_id).with_for_update()
                           .execution_options(populate_existing=True)).one()


def _add_evidence(session: Session, phrasing: LearnedPhrasing, *, kind: str, source: str, dedupe_key: str,
                  customer_id: int | None = None, conversation_id: int | None = None,
                  suggestion_id: int | None = None, agent: str | None = None,
                  reinstate: bool = False) -> PhrasingEvidence | None:
    """The new (or, with ``reinstate``, newly standing again) piece of evidence; None
    when it was already recorded and stands (a retried event)."""
    evidence, created = insert_or_fetch(
        session, PhrasingEvidence(account_id=phrasing.account_id, phrasing_id=phrasing.id, kind=kind, source=source,
                                  dedupe_key=dedupe_key, customer_id=customer_id, conversation_id=conversation_id,
                                  suggestion_id=suggestion_id, agent=agent, created_at=datetime.now(UTC)),
        lambda: session.scalar(select(PhrasingEvidence).where(PhrasingEvidence.phrasing_id == phrasing.id,
                                                              PhrasingEvidence.dedupe_key == dedupe_key)))
    if created:
        return evidence
    if reinstate and evidence.withdrawn_at is not None:
        evidence.withdrawn_at = evidence.withdrawn_because = None
        session.flush()
        return evidence
    return None


_STANDING = and_(PhrasingEvidence.phrasing_id == bindparam("phrasing"), PhrasingEvidence.withdrawn_at.is_(None))
_COUNTS = select(
    select(func.count(distinct(PhrasingEvidence.customer_id))).where(_STANDING, PhrasingEvidence.kind == PICK)
    .scalar_subquery(),
    select(func.count(distinct(PhrasingEvidence.agent))).where(_STANDING, PhrasingEvidence.kind == AGENT)
    .scalar_subquery())


def _recount(session: Session, phrasing: LearnedPhrasing, settings: Settings | None, *, actor: str,
             evidence: PhrasingEvidence | None = None) -> None:
    """Count the standing evidence and apply the rule: active when corroborated,
    pending when not, removed for good. ``evidence`` is the piece just recorded (for
    the audit); ``settings`` say which encoder embeds a phrasing that becomes active."""
    session.flush()
    counted = session.execute(_COUNTS, {"phrasing": phrasing.id}).one()
    phrasing.customers, phrasing.agents = int(counted[0] or 0), int(counted[1] or 0)
    phrasing.updated_at = datetime.now(UTC)
    if evidence is not None:
        audit(session, account_id=phrasing.account_id, actor=actor, action="kb.phrasing_learned",
              subject_type="kb_phrasing", subject_id=phrasing.id,
              detail={"article_id": phrasing.article_id, "evidence_id": evidence.id, "kind": evidence.kind,
                      "source": evidence.source, "customers": phrasing.customers, "agents": phrasing.agents,
                      "status": phrasing.status})
    corroborated = phrasing.customers >= CUSTOMERS_TO_ACTIVATE or phrasing.agents >= AGENTS_TO_ACTIVATE
    if phrasing.status == PENDING and corroborated and settings is not None:
        _embed(session, phrasing, account_encoder(session, phrasing.account_id, settings))
        phrasing.status, phrasing.activated_at = ACTIVE, datetime.now(UTC)
        _changed(session, phrasing, "kb.phrasing_activated", actor)
    elif phrasing.status == ACTIVE and not corroborated:
        phrasing.status = PENDING
        _changed(session, phrasing, "kb.phrasing_deactivated", actor)
    session.flush()


def _embed(session: Session, phrasing: LearnedPhrasing, encoder: str | None) -> None:
    """The phrasing's question vector, as retrieval embeds a customer's question. An
    encoder that cannot load leaves it without one (active, but unused by retrieval
    until :func:`embed_missing` runs): the customer's reply must not fail over it."""
    if encoder is None:
        phrasing.encoder, phrasing.vector = None, None
        return
    try:
        vector = embeddings.queries(embeddings.encoder_named(encoder), [phrasing.text])[0]
    except EmbeddingsUnavailableError as exc:
        log.warning("phrasing %s of account %s has no vector yet: %s", phrasing.id, phrasing.account_id, exc)
        phrasing.encoder, phrasing.vector = None, None
        return
    phrasing.encoder, phrasing.vector = encoder, np.asarray(vector, dtype="<f4").tobytes()


def _changed(session: Session, phrasing: LearnedPhrasing, action: str, actor: str) -> None:
    """The account's active set changed: audited, and the stamp every process checks
    is replaced in this transaction (so it changes exactly when the change commits)."""
    audit(session, account_id=phrasing.account_id, actor=actor, action=action, subject_type="kb_phrasing",
          subject_id=phrasing.id, detail={"article_id": phrasing.article_id, "customers": phrasing.customers,
                                          "agents": phrasing.agents, "encoder": phrasing.encoder})
    _new_stamp(session, phrasing.account_id)


def _new_stamp(session: Session, account_id: int) -> None:
    stamp, now = uuid.uuid4().hex, datetime.now(UTC)
    row, created = insert_or_fetch(session, PhrasingStamp(account_id=account_id, stamp=stamp, changed_at=now),
                                   lambda: session.get(PhrasingStamp, account_id, with_for_update=True,
                                                       populate_existing=True))
    if not created:
        row.stamp, row.changed_at = stamp, now
        session.flush()


# --- what retrieval reads ----------------------------------------------------------------

_STAMP = select(PhrasingStamp.stamp).where(PhrasingStamp.account_id == bindparam("account"))
_ACTIVE = select(LearnedPhrasing.article_id, LearnedPhrasing.text, LearnedPhrasing.vector).where(
    LearnedPhrasing.account_id == bindparam("account"), LearnedPhrasing.status == ACTIVE,
    LearnedPhrasing.encoder == bindparam("encoder"), LearnedPhrasing.vector.is_not(None)).order_by(LearnedPhrasing.id)
_cache: dict[tuple[str, int, str], tuple[str | None, weakref.ref[Retriever] | None, Learned | None]] = {}
_cache_lock = threading.Lock()
#: Per index, the article it alone ranks first for each phrasing and its score (Learned.of's fit):
#: each phrasing is searched once per index and process, not at every reload.
_tops: weakref.WeakKeyDictionary[Retriever, dict[str, tuple[str | None, float]]] = weakref.WeakKeyDictionary()
#: Per index, the phrasings' ``lift_share`` and the phrasings (article, text) it was fitted
#: on: kept until REFIT_CHANGE of them have come or gone since (a fit asks up to 150 of them
#: of the others: 1.7 s in all at 10,000 articles, which one new phrasing would otherwise
#: cost the next message). Counted as the phrasings added plus those removed, so an admin
#: removing ten while customers teach ten others is a change of twenty, not of none.
_lift_shares: weakref.WeakKeyDictionary[Retriever, tuple[frozenset[tuple[str, str]], float]] = (
    weakref.WeakKeyDictionary())
REFIT_CHANGE = 0.25


def learned(session: Session, account_id: int, encoder_name: str | None, *,
            index: Retriever | None = None) -> Learned | None:
    """The account's active phrasings with vectors of ``encoder_name``; None when there
    are none (or no encoder). Kept per process and database; one primary-key read of the
    account's stamp per call says whether another process changed them since. With
    ``index`` (the account's, whose search they will join), the rule that answers
    outright from them is fitted against it (:meth:`Learned.of`); refitted when the
    index is rebuilt."""
    if encoder_name is None:
        return None
    key = (str(session.get_bind().engine.url), account_id, encoder_name)
    # The stamp before the rows: a change committed in between makes the next call reload.
    stamp = session.scalar(_STAMP, {"account": account_id})
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] == stamp and (cached[1]() if cached[1] else None) is index:
        return cached[2]
    loaded = _load(session, account_id, encoder_name, index) if stamp is not None else None
    with _cache_lock:
        _cache[key] = (stamp, weakref.ref(index) if index is not None else None, loaded)
    return loaded


def _load(session: Session, account_id: int, encoder_name: str, index: Retriever | None) -> Learned | None:
    rows = session.execute(_ACTIVE, {"account": account_id, "encoder": encoder_name}).all()
    vectors = [np.frombuffer(vector or b"", dtype="<f4") for _, _, vector in rows]  # the query wants a vector
    if not vectors:
        return None
    width = len(vectors[0])
    kept = [i for i, v in enumerate(vectors) if len(v) == width]  # a row of another width: not this model's
    stacked = np.stack([vectors[i] for i in kept])
    norms = np.linalg.norm(stacked, axis=1, keepdims=True)
    matrix = (stacked / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    matrix.setflags(write=False)
    phrasings = frozenset((rows[i][0], rows[i][1]) for i in kept)
    known, share = None, None
    if index is not None:
        with _cache_lock:
            known = _tops.setdefault(index, {})
            fitted = _lift_shares.get(index)
        if fitted is not None and len(phrasings ^ fitted[0]) < REFIT_CHANGE * len(fitted[0]):
            share = fitted[1]
    loaded = Learned.of([rows[i][0] for i in kept], [rows[i][1] for i in kept], matrix, index=index,
                        known_tops=known, lift_share=share)
    if index is not None and share is None:
        with _cache_lock:
            _lift_shares[index] = (phrasings, loaded.lift_share)
    return loaded


def embed_missing(session: Session, account_id: int, encoder_name: str | None) -> int:
    """Embed the active phrasings that have no vector of ``encoder_name`` (the index was
    rebuilt with another encoder, or it could not load at activation). Returns how many."""
    if encoder_name is None:
        return 0
    rows = session.scalars(select(LearnedPhrasing).where(
        LearnedPhrasing.account_id == account_id, LearnedPhrasing.status == ACTIVE,
        or_(LearnedPhrasing.encoder.is_(None), LearnedPhrasing.encoder != encoder_name,
            LearnedPhrasing.vector.is_(None))).order_by(LearnedPhrasing.id)).all()
    if not rows:
        return 0
    vectors = embeddings.queries(embeddings.encoder_named(encoder_name), [row.text for row in rows])
    for row, vector in zip(rows, vectors, strict=True):
        row.encoder, row.vector = encoder_name, np.asarray(vector, dtype="<f4").tobytes()
    _new_stamp(session, account_id)
    session.flush()
    return len(rows)


# --- for admins ----------------------------------------------------------------------------

def list_phrasings(session: Session, account_id: int, *, status: str | None = None,
                   limit: int = 1000) -> list[Phrasing]:
    """The account's phrasings, active first, then pending, then removed; newest first
    within each."""
    query = (select(LearnedPhrasing, KbArticle.title)
             .outerjoin(KbArticle, and_(KbArticle.account_id == LearnedPhrasing.account_id,
                                        KbArticle.external_id == LearnedPhrasing.article_id))
             .where(LearnedPhrasing.account_id == account_id))
    if status is not None:
        query = query.where(LearnedPhrasing.status == status)
    rank = case({ACTIVE: 0, PENDING: 1}, value=LearnedPhrasing.status, else_=2)
    rows = session.execute(query.order_by(rank, LearnedPhrasing.id.desc()).limit(limit)).all()
    return [_shown(row, title) for row, title in rows]


def _shown(row: LearnedPhrasing, title: str | None) -> Phrasing:
    return Phrasing(id=row.id, article_id=row.article_id, article_title=title, text=row.text, status=row.status,
                    customers=row.customers, agents=row.agents, learned_at=row.created_at,
                    activated_at=row.activated_at, removed_at=row.removed_at)


def remove_phrasing(session: Session, account_id: int, phrasing_id: int, *, actor: str) -> tuple[Phrasing, bool]:
    """Remove a phrasing for good: retrieval stops using it at every process's next
    message, and no evidence, old or new, brings it back. Returns it and whether it was
    removed now (False: it already was)."""
    exists = session.scalar(select(LearnedPhrasing.id).where(LearnedPhrasing.id == phrasing_id,
                                                             LearnedPhrasing.account_id == account_id))
    if exists is None:
        raise PhrasingError(f"no learned phrasing {phrasing_id} in this account: list them with "
                            "`switchboard kb phrasings`")
    phrasing = _locked(session, phrasing_id)
    title = session.scalar(select(KbArticle.title).where(KbArticle.account_id == account_id,
                                                         KbArticle.external_id == phrasing.article_id))
    if phrasing.status == REMOVED:
        return _shown(phrasing, title), False
    was = phrasing.status
    now = datetime.now(UTC)
    phrasing.status, phrasing.removed_at, phrasing.removed_by, phrasing.updated_at = REMOVED, now, actor[:200], now
    audit(session, account_id=account_id, actor=actor, action="kb.phrasing_removed", subject_type="kb_phrasing",
          subject_id=phrasing.id, detail={"article_id": phrasing.article_id, "was": was,
                                          "customers": phrasing.customers, "agents": phrasing.agents})
    if was == ACTIVE:
        _new_stamp(session, account_id)
    session.flush()
    return _shown(phrasing, title), True


# --- erasure ---------------------------------------------------------------------------------

def forget_customer(session: Session, account_id: int, customer_id: int) -> dict[str, int]:
    """Erasure of one customer: their picks, and the evidence about their conversations,
    are deleted; phrasings left with no evidence are deleted (their text was the
    customer's words), except removed ones, which keep only their key's hash (so they
    stay removed) and lose their text. Others are recounted. Counts by table."""
    theirs = select(Conversation.id).where(Conversation.customer_id == customer_id)
    evidence = session.execute(select(PhrasingEvidence.id, PhrasingEvidence.phrasing_id).where(
        PhrasingEvidence.account_id == account_id,
        or_(PhrasingEvidence.customer_id == customer_id, PhrasingEvidence.conversation_id.in_(theirs)))).all()
    if not evidence:
        return {}
    session.execute(delete(PhrasingEvidence).where(PhrasingEvidence.id.in_([e for e, _ in evidence])))
    counts = {"kb_phrasing_evidence": len(evidence)}
    for phrasing_id in sorted({p for _, p in evidence}):
        phrasing = _locked(session, phrasing_id)
        left = session.scalar(select(func.count()).where(PhrasingEvidence.phrasing_id == phrasing_id))
        if left:
            phrasing.text = phrasing.key  # the words the others wrote too, not this customer's spelling of them
            _recount(session, phrasing, None, actor="privacy")
        elif phrasing.status == REMOVED:
            phrasing.text = phrasing.key = "[erased]"
        else:
            if phrasing.status == ACTIVE:
                _new_stamp(session, account_id)
            session.delete(phrasing)
            counts["kb_phrasings"] = counts.get("kb_phrasings", 0) + 1
    session.flush()
    return counts
