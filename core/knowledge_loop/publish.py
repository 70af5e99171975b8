"""Publishing an approved knowledge draft (:mod:`.drafts`): into the account's
knowledge base index at once, and to the Zendesk Help Center through the outbox.

A new article is created in the configured section; an edit of an existing article
replaces its body in the index (a new index version, every host answers from it on its
next message) and updates its Help Center translation, since Zendesk's article
endpoint only changes metadata (``PUT /api/v2/help_center/articles/{id}/translations/
{locale}`` carries the title and body). Both go under a key of draft and version: a
retried approval sends nothing twice.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.accounts import secret_variable, setting
from switchboard.core.knowledge.html_edit import text_to_html
from switchboard.core.knowledge.records import Article
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, KbArticle, KbDraft, OutboxCall

#: The outbox operations (vendors/zendesk/connector.py sends them).
CREATE, UPDATE = "help_center.articles.create", "help_center.translations.update"


def article_of(draft: KbDraft, live: Article | None = None) -> Article:
    """The article the draft would publish: its own, or ``live`` (the article it edits)
    with the draft's title and body, keeping the live one's URL, locale and tags."""
    if live is not None:
        return replace(live, title=draft.title, body=draft.body)
    return Article(id=draft.article_id or draft.target_article_id or f"kb-draft-{draft.id}", title=draft.title,
                   body=draft.body, tags=("switchboard-draft",))


def live_article(session: Session, account_id: int, settings: Settings, article_id: str | None) -> Article | None:
    if not article_id:
        return None
    kb = KnowledgeBase.of(session, account_id, settings)
    return next((a for a in kb.articles() if a.id == article_id), None)


def publish(session: Session, account: Account, settings: Settings, draft: KbDraft) -> dict[str, Any]:
    """Into the knowledge base, then to the Help Center; what was done, for the audit."""
    live = live_article(session, account.id, settings, draft.target_article_id) if draft.kind == "edit" else None
    article = article_of(draft, live)
    KnowledgeBase.of(session, account.id, settings).import_articles([article], source="kb_draft")
    published: dict[str, Any] = {"article_id": article.id, "kind": draft.kind}
    if draft.kind == "edit":
        return published | _update_help_center(session, account, settings, draft, live)
    section = setting(account, "help_center_section_id", settings, str)
    if not section:
        published["help_center"] = f"not configured ({secret_variable(account, 'help_center_section_id')})"
        return published
    result = ports.current().helpdesk(session, account, settings).call(
        CREATE, help_center_payload(draft, settings, section), idempotency_key=f"kb-draft:{draft.id}:v{draft.version}")
    published.update(help_center=result.call.status, outbox_call_id=result.call.id)
    return published


def help_center_payload(draft: KbDraft, settings: Settings, section: str) -> dict[str, Any]:
    """``POST /api/v2/help_center/sections/{section}/articles.json``'s body: the article
    as HTML, in the configured locale, a draft unless SWITCHBOARD_HELP_CENTER_DRAFT=0."""
    article: dict[str, Any] = {"title": draft.title, "body": text_to_html(draft.body),
                               "locale": settings.help_center_locale, "draft": settings.help_center_draft,
                               "user_segment_id": None}
    if settings.help_center_permission_group_id:
        article["permission_group_id"] = int(settings.help_center_permission_group_id)
    return {"section_id": str(section), "article": article}


def help_center_id(session: Session, account_id: int, article_id: str) -> int | None:
    """The Help Center's number of one of our articles: its id when it was synced from
    the Help Center, or what Zendesk answered when an approved draft created it."""
    row = session.scalar(select(KbArticle).where(KbArticle.account_id == account_id,
                                                 KbArticle.external_id == article_id))
    if row is not None and row.source == "help_center" and article_id.isdigit():
        return int(article_id)
    creator = session.scalar(select(KbDraft).where(KbDraft.account_id == account_id, KbDraft.article_id == article_id,
                                                   KbDraft.kind == "new", KbDraft.status == "approved"))
    if creator is None:
        return None
    call = session.scalar(select(OutboxCall).where(
        OutboxCall.account_id == account_id, OutboxCall.operation == CREATE,
        OutboxCall.idempotency_key == f"kb-draft:{creator.id}:v{creator.approved_version or creator.version}"))
    found = (call.response or {}).get("article_id") if call is not None else None
    return int(found) if isinstance(found, int) or (isinstance(found, str) and found.isdigit()) else None


def _update_help_center(session: Session, account: Account, settings: Settings, draft: KbDraft,
                        live: Article | None) -> dict[str, Any]:
    """The edited article's translation in the configured locale. Its draft/published
    state is left as Zendesk has it: setting ``draft`` on a published article's
    translation would take the live article down while the edit is reviewed."""
    number = help_center_id(session, account.id, draft.target_article_id or "")
    if number is None:
        return {"help_center": "not in the Help Center (the article was imported from a file)"}
    # The change, not the whole text: the connector applies it to the article's HTML as
    # Zendesk holds it when the call is sent, so its links and images stay (html_edit.py).
    payload = {"article_id": number, "locale": settings.help_center_locale, "title": draft.title,
               "edit": {"before": draft.base_body or (live.body if live else ""), "after": draft.body}}
    result = ports.current().helpdesk(session, account, settings).call(
        UPDATE, payload, idempotency_key=f"kb-draft:{draft.id}:v{draft.version}")
    return {"help_center": result.call.status, "outbox_call_id": result.call.id, "help_center_article": number}
