"""Loading, once per process and before the first customer writes, what the first
message would otherwise wait for: the language models (several seconds for the set),
the account's intent model, the knowledge index and its sentence encoder.

A newcomer's first playground message used to take 8.5 s while it all loaded behind
"Sending…"; ``switchboard serve`` now spends that time at start, saying what it loads.
"""
from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.intents.store import intent_model
from switchboard.core.knowledge import phrasings
from switchboard.core.knowledge.embeddings import E5, WORDLLAMA, encoder_named, queries
from switchboard.core.knowledge.query import is_english_word
from switchboard.core.knowledge.service import KnowledgeBase, KnowledgeBaseEmpty
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account
from switchboard.core.understanding.enrichment import detect_language, sentiment_score

#: A question touching every stage; its answer is thrown away.
SAMPLE_QUESTION = "How long does delivery take to reach me?"


@dataclass(frozen=True)
class Loaded:
    what: str
    seconds: float


def _search(session: Session, account_id: int, settings: Settings) -> None:
    try:
        _index_and_phrasings(session, KnowledgeBase.of(session, account_id, settings))
    except KnowledgeBaseEmpty:
        pass  # nothing to load yet: the first import builds the index


def _index_and_phrasings(session: Session, knowledge: KnowledgeBase) -> None:
    """The index, searched once, and the account's learned phrasings with the rule that
    answers from them fitted against it (one search a phrasing, up to 300: the first
    message after a start would otherwise wait for them)."""
    retriever = knowledge.retriever()
    retriever.search(SAMPLE_QUESTION, k=1)
    phrasings.learned(session, knowledge.account_id, retriever.encoder_name, index=retriever)


def warm_up(session: Session, account_id: int, settings: Settings) -> Iterator[Loaded]:
    """Load each stage in turn, yielding what was loaded and how long it took, so the
    caller can show progress while it happens."""
    steps: list[tuple[str, Callable[[], object]]] = [
        ("language detection", lambda: detect_language(SAMPLE_QUESTION)),
        ("sentiment", lambda: sentiment_score(SAMPLE_QUESTION)),
        ("intent model", lambda: intent_model(session, settings.data_dir, account_id,
                                               embeddings=settings.embeddings)),
        ("knowledge index", lambda: _search(session, account_id, settings)),
    ]
    for what, load in steps:
        started = time.perf_counter()
        load()
        yield Loaded(what, time.perf_counter() - started)


#: Accounts whose intent model and knowledge index a worker loads before it forks (the
#: first by id); an account beyond them loads in each pool child that first needs it.
PRELOAD_ACCOUNTS = 50


def preload_for_fork(session: Session, settings: Settings, *, accounts: int = PRELOAD_ACCOUNTS) -> list[Loaded]:
    """Load, in a process about to fork its workers (the Celery main process), what each
    worker would otherwise load for itself: the language detector (about 240 MB, held by
    lingua's Rust code), the sentence encoder, the spelling dictionary, and each
    account's intent model and knowledge index. Forked children then share these pages
    copy-on-write; none of them is written after loading.

    A knowledge base published later is still picked up: every search compares the
    loaded version with the newest published one, and a child loading a newer index
    memory-maps its arrays, which the host's other processes share as well.

    Ends with ``gc.freeze()``: the collector of a child then never walks (and so never
    writes to) the objects loaded here, which would copy their pages one by one."""
    steps: list[tuple[str, Callable[[], object]]] = [
        ("language detection", lambda: detect_language(SAMPLE_QUESTION)),
        ("sentiment", lambda: sentiment_score(SAMPLE_QUESTION)),
        ("spelling dictionary", lambda: is_english_word("delivery")),
    ]
    named = {"wordllama": WORDLLAMA, "e5": E5}.get(settings.embeddings or "")
    if named is not None:
        steps.append(("sentence encoder", lambda: queries(encoder_named(named), [SAMPLE_QUESTION])))
    for account_id in list(session.scalars(select(Account.id).order_by(Account.id).limit(accounts))):
        steps.append((f"intent model of account {account_id}",
                      partial(intent_model, session, settings.data_dir, account_id,
                              embeddings=settings.embeddings)))
        knowledge = KnowledgeBase.of(session, account_id, settings)
        if knowledge.has_index():  # never build one here: an import does that
            steps.append((f"knowledge index of account {account_id}",
                          partial(_index_and_phrasings, session, knowledge)))
    loaded = []
    for what, load in steps:
        started = time.perf_counter()
        load()
        loaded.append(Loaded(what, time.perf_counter() - started))
    session.rollback()  # end the read transaction before the fork
    gc.collect()
    gc.freeze()
    return loaded
