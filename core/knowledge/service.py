"""An account's knowledge base: articles and their search index, both in the database.

The database is the truth (re-imports update rows by the source's id and never
duplicate them); the index is derived from it, published as a versioned artifact
(:mod:`..store.artifacts`) so that an import on one host is what every web process and worker
on every host answers from, without a restart. Each process keeps the index it loaded
and an unpacked copy under the data directory, and swaps in a newer version as soon as
one is published.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.knowledge.analysis import neutralise_tokens
from switchboard.core.knowledge.errors import RetrieverIndexError
from switchboard.core.knowledge.loaders import article_from_help_center, hidden_from_customers
from switchboard.core.knowledge.records import Article, Hit
from switchboard.core.knowledge.retrieval import Retriever, build_index
from switchboard.core.settings import Settings
from switchboard.core.store import artifacts
from switchboard.core.store.models import KbArticle, SyncState

log = logging.getLogger(__name__)
Progress = Callable[[int], None]
#: A file every saved index has (Retriever.save writes it last): an unpacked copy is complete.
_MANIFEST_FILE = "manifest.json"
HELP_CENTER_CURSOR = "help_center.articles"


class KnowledgeBaseEmpty(LookupError):
    """Nothing has been imported yet for this account."""


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int
    passages: int
    #: What the index's own calibration expects (core/knowledge/calibration.py).
    calibration: dict[str, Any] = field(default_factory=dict)
    #: Ids of articles whose token-shaped text ("[CARD_1]") was escaped ("(CARD_1)").
    escaped: tuple[str, ...] = ()
    #: Articles taken out because customers can no longer see them (unpublished, restricted).
    removed: int = 0

    @property
    def changed(self) -> int:
        return self.added + self.updated


def without_tokens(article: Article) -> Article:
    """The article with its vault-token-shaped text neutralised ("[CARD_1]" as
    "(CARD_1)"). Tokens stand for what a customer typed and a reply may open one to
    its value, so whoever writes help-center text must not be able to write one: an
    article is escaped rather than refused, because a Help Center sync runs unattended
    and an article may well explain what "[PHONE_1]" in a transcript means."""
    title, body = neutralise_tokens(article.title), neutralise_tokens(article.body)
    if (title, body) == (article.title, article.body):
        return article
    return replace(article, title=title, body=body)


def _neutralised(articles: Iterable[Article], escaped: list[str]) -> Iterator[Article]:
    for article in articles:
        clean = without_tokens(article)
        if clean is not article:
            escaped.append(article.id)
        yield clean


def _warn_escaped(escaped: Sequence[str]) -> None:
    if escaped:
        log.warning("%d article(s) contained text shaped like a vault token ([CARD_1]) and were stored with it "
                    "written (CARD_1), so no reply can open it to a customer's value: %s", len(escaped),
                    ", ".join(escaped[:20]))


def _hash(article: Article) -> str:
    content = json.dumps([article.title, article.body, article.url, article.locale, list(article.tags)])
    return hashlib.sha256(content.encode()).hexdigest()


def index_dir(data_dir: Path, account_id: int) -> Path:
    return data_dir / "index" / f"account-{account_id}"


class KnowledgeBase:
    def __init__(self, session: Session, account_id: int, data_dir: Path, *,
                 embeddings: str | None = "e5") -> None:
        self.session = session
        self.account_id = account_id
        self.directory = index_dir(data_dir, account_id)
        self.embeddings = embeddings

    @classmethod
    def of(cls, session: Session, account_id: int, settings: Settings) -> KnowledgeBase:
        return cls(session, account_id, settings.data_dir, embeddings=settings.embeddings)

    # -- articles -------------------------------------------------------------------
    def upsert(self, articles: Iterable[Article], *, source: str,
               progress: Progress | None = None) -> tuple[int, int, int]:
        """Insert new articles, update changed ones; returns (added, updated, unchanged)."""
        existing = {
            row.external_id: row
            for row in self.session.scalars(select(KbArticle).where(KbArticle.account_id == self.account_id))
        }
        added = updated = unchanged = 0
        for article in articles:
            digest = _hash(article)
            row = existing.get(article.id)
            if row is None:
                row = KbArticle(account_id=self.account_id, external_id=article.id, source=source)
                self.session.add(row)
                existing[article.id] = row
                added += 1
            elif row.content_hash == digest:
                unchanged += 1
                if progress:
                    progress(1)
                continue
            else:
                updated += 1
            row.title, row.body, row.url = article.title, article.body, article.url
            row.locale, row.tags, row.content_hash = article.locale, list(article.tags), digest
            row.updated_at = datetime.now(UTC)
            if progress:
                progress(1)
        self.session.commit()
        return added, updated, unchanged

    def remove(self, external_ids: Sequence[str]) -> int:
        rows = self.session.scalars(select(KbArticle).where(
            KbArticle.account_id == self.account_id, KbArticle.external_id.in_(list(external_ids)))).all()
        for row in rows:
            self.session.delete(row)
        self.session.commit()
        return len(rows)

    def articles(self) -> list[Article]:
        rows = self.session.scalars(
            select(KbArticle).where(KbArticle.account_id == self.account_id).order_by(KbArticle.id))
        # Neutralised again: rows stored before imports escaped tokens are indexed without them.
        return [without_tokens(Article(id=r.external_id, title=r.title, body=r.body, url=r.url, locale=r.locale,
                                       tags=tuple(r.tags or ()))) for r in rows]

    def import_articles(self, articles: Iterable[Article], *, source: str = "file",
                        progress: Progress | None = None, withdrawn: Sequence[str] = ()) -> ImportResult:
        """Add and update ``articles``; take out those of ``withdrawn`` (ids an export
        says customers cannot see any more: an article unpublished or restricted since the
        last import must stop being answered from)."""
        escaped: list[str] = []
        removed = self.remove(withdrawn) if withdrawn else 0
        added, updated, unchanged = self.upsert(_neutralised(articles, escaped), source=source, progress=progress)
        _warn_escaped(escaped)
        passages = self._reindexed() if (added or updated or removed or not self.has_index()) else self._passage_count()
        return ImportResult(added, updated, unchanged, passages, self.calibration(), tuple(escaped), removed)

    # -- index ----------------------------------------------------------------------
    def has_index(self) -> bool:
        return artifacts.latest(self.session, self.account_id, artifacts.KB_INDEX) is not None

    def calibration(self) -> dict[str, Any]:
        """What the published index's own calibration expects of this help center."""
        published = artifacts.latest(self.session, self.account_id, artifacts.KB_INDEX)
        return dict(published.meta.get("calibration") or {}) if published else {}

    def _passage_count(self) -> int:
        published = artifacts.latest(self.session, self.account_id, artifacts.KB_INDEX)
        return int(published.meta.get("passages", 0)) if published else 0

    def _reindexed(self) -> int:
        """The index rebuilt after a change; when the change took the last article out,
        every published index withdrawn instead, so no host answers from what was removed
        (the bot then hands customers over, as before the first import)."""
        try:
            return self.rebuild_index()
        except KnowledgeBaseEmpty:
            for published in artifacts.history(self.session, self.account_id, artifacts.KB_INDEX):
                artifacts.withdraw(self.session, self.account_id, artifacts.KB_INDEX, published.version)
            return 0

    def rebuild_index(self) -> int:
        """Re-chunk and re-index every article, then swap the new index in atomically."""
        articles = self.articles()
        if not articles:
            raise KnowledgeBaseEmpty("the knowledge base has no articles: run `switchboard kb import PATH`")
        retriever = build_index(articles, self.embeddings, previous=self._current())
        passages = retriever.passages
        self.directory.mkdir(parents=True, exist_ok=True)
        version = artifacts.new_version()
        target = self.directory / version
        retriever.save(target)
        artifacts.publish(self.session, self.account_id, artifacts.KB_INDEX, artifacts.pack_directory(target),
                          meta={"passages": len(passages), "calibration": retriever.calibration},
                          version=version)
        # The saved copy, memory-mapped as every other process loads it: this process then
        # shares the arrays with them rather than keeping the build's own.
        retriever = Retriever.load(target)
        with _cache_lock:
            _cache[self.directory] = (version, retriever)
        for old in self.directory.iterdir():
            if old.is_dir() and old.name != version:
                _remove_tree(old)
        return len(passages)

    def _current(self) -> Retriever | None:
        """The index in use, if any, without building one (its vectors are reused)."""
        published = artifacts.latest(self.session, self.account_id, artifacts.KB_INDEX)
        if published is None:
            return None
        try:
            return self._load(published.version)
        except (RetrieverIndexError, LookupError):
            return None  # damaged or withdrawn meanwhile: everything is embedded anew

    def retriever(self) -> Retriever:
        """The newest published index: this process's loaded copy when it is current,
        else the host's unpacked copy, else the database's."""
        published = artifacts.latest(self.session, self.account_id, artifacts.KB_INDEX)
        if published is None:
            if not self.articles():
                raise KnowledgeBaseEmpty("the knowledge base has no articles: run `switchboard kb import PATH`")
            self.rebuild_index()
            published = artifacts.latest(self.session, self.account_id, artifacts.KB_INDEX)
            assert published is not None
        return self._load(published.version)

    def _load(self, version: str) -> Retriever:
        with _cache_lock:
            cached = _cache.get(self.directory)
            if cached is not None and cached[0] == version:
                return cached[1]
        target = self.directory / version
        if not (target / _MANIFEST_FILE).exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            artifacts.unpack_directory(
                artifacts.fetch(self.session, self.account_id, artifacts.KB_INDEX, version), target)
        retriever = Retriever.load(target)
        with _cache_lock:
            _cache[self.directory] = (version, retriever)
        return retriever

    def search(self, query: str, k: int = 5, *, language: str | None = None) -> list[Hit]:
        """The best passages; with ``language``, only from articles written in it."""
        return self.retriever().search(query, k=k, language=language)

    # -- Zendesk Help Center ---------------------------------------------------------
    def help_center_cursor(self) -> int:
        """Where the last sync stopped (a Unix time; 0 before the first)."""
        state = self.session.scalar(select(SyncState).where(
            SyncState.account_id == self.account_id, SyncState.name == HELP_CENTER_CURSOR))
        return int(state.cursor) if state and state.cursor else 0

    def sync_help_center(self, pages: Callable[[int], Iterable[Mapping[str, Any]]], *,
                         listed: Callable[[], set[str]] | None = None,
                         progress: Progress | None = None, full: bool = False) -> ImportResult:
        """Import the articles changed since the last sync (``pages(start_time)`` is the
        helpdesk's incremental export), so only changed articles are re-imported; drafts
        and articles customers cannot see (:func:`.loaders.hidden_from_customers`: drafts,
        those restricted to a user segment) are removed from the knowledge base. With
        ``listed`` (the ids the Help Center holds now), articles synced from it earlier and
        no longer there are removed too: the incremental export says nothing of an archived
        article, which would otherwise be answered from for ever. The listing is read before
        anything is stored, so a failed one changes nothing. The cursor moves only once all
        is stored. ``full`` reads every article again from the start of the export: after
        an upgrade that reads articles differently (sections, tables), articles that have
        not changed in the Help Center are cut again too."""
        start = 0 if full else self.help_center_cursor()
        changed: list[Article] = []
        hidden: list[str] = []
        end_time = start
        for page in pages(start):
            for raw in page.get("articles", []):
                if hidden_from_customers(raw):
                    hidden.append(str(raw["id"]))
                else:
                    changed.append(article_from_help_center(raw))
            end_time = max(end_time, int(page.get("end_time") or end_time))
        if listed is not None:
            present = listed() | {article.id for article in changed}
            hidden += [external_id for external_id in self.session.scalars(select(KbArticle.external_id).where(
                KbArticle.account_id == self.account_id, KbArticle.source == "help_center"))
                if external_id not in present]
        removed = self.remove(hidden) if hidden else 0
        escaped: list[str] = []
        added, updated, unchanged = self.upsert(_neutralised(changed, escaped), source="help_center",
                                                progress=progress)
        _warn_escaped(escaped)
        state = self.session.scalar(select(SyncState).where(
            SyncState.account_id == self.account_id, SyncState.name == HELP_CENTER_CURSOR))
        if state is None:
            state = SyncState(account_id=self.account_id, name=HELP_CENTER_CURSOR)
            self.session.add(state)
        state.cursor, state.updated_at = str(end_time), datetime.now(UTC)
        self.session.commit()
        passages = self._reindexed() if (added or updated or removed) else (
            self._passage_count() if self.has_index() else 0)
        return ImportResult(added, updated, unchanged, passages, self.calibration(), tuple(escaped), removed)


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


_cache: dict[Path, tuple[str, Retriever]] = {}
_cache_lock = threading.Lock()
