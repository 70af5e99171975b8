"""Loading, once per process and before the first customer writes, what the first
message would otherwise wait for: the language models (several seconds for the set),
the account's intent model, the knowledge index and its sentence encoder.

A newcomer's first playground message used to take 8.5 s while it all loaded behind
"Sending…"; ``switchboard serve`` now spends that time at start, saying what it loads.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from switchboard.config import Settings

from .enrichment import detect_language, sentiment_score
from .intent_store import intent_model
from .knowledge.service import KnowledgeBase, KnowledgeBaseEmpty

#: A question touching every stage; its answer is thrown away.
SAMPLE_QUESTION = "How long does delivery take to reach me?"


@dataclass(frozen=True)
class Loaded:
    what: str
    seconds: float


def _search(session: Session, account_id: int, settings: Settings) -> None:
    try:
        KnowledgeBase.of(session, account_id, settings).search(SAMPLE_QUESTION, k=1)
    except KnowledgeBaseEmpty:
        pass  # nothing to load yet: the first import builds the index


def warm_up(session: Session, account_id: int, settings: Settings) -> Iterator[Loaded]:
    """Load each stage in turn, yielding what was loaded and how long it took, so the
    caller can show progress while it happens."""
    steps: list[tuple[str, Callable[[], object]]] = [
        ("language detection", lambda: detect_language(SAMPLE_QUESTION)),
        ("sentiment", lambda: sentiment_score(SAMPLE_QUESTION)),
        ("intent model", lambda: intent_model(session, settings.data_dir, account_id)),
        ("knowledge index", lambda: _search(session, account_id, settings)),
    ]
    for what, load in steps:
        started = time.perf_counter()
        load()
        yield Loaded(what, time.perf_counter() - started)
