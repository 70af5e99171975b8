"""`switchboard kb`: the knowledge base the bot answers from, and its learned phrasings."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from switchboard.cli.base import ACCOUNT_OPTION, account_named, main, open_app

if TYPE_CHECKING:  # imported where used: `switchboard --help` need not load the models
    from sqlalchemy.orm import Session

    from switchboard.core.knowledge.loaders import LeftOut
    from switchboard.core.knowledge.records import Article
    from switchboard.core.settings import Settings


NOTHING_TO_ANSWER_FROM = ("The knowledge base has no article customers can see: the bot hands every question "
                          "to a person until you import or publish one.")


@main.group()
def kb() -> None:
    """The knowledge base self-service answers from."""

@kb.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@ACCOUNT_OPTION
def kb_import(path: Path, slug: str) -> None:
    """Load articles from a JSON/JSONL file, a CSV (title,body or question,answer
    columns) or a folder of Markdown/HTML files.

    Re-importing updates changed articles by id and never duplicates them."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.knowledge.calibration import expectation
    from switchboard.core.knowledge.errors import KnowledgeBaseFormatError
    from switchboard.core.knowledge.loaders import read_articles
    from switchboard.core.knowledge.service import KnowledgeBase
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    try:
        articles, left_out = read_articles(path)
    except KnowledgeBaseFormatError as exc:
        raise click.ClickException(str(exc)) from None
    _check_links(articles)
    _say_left_out(left_out)
    _say_locales(articles)
    with get_db(app).session() as session, click.progressbar(
            length=len(articles), label=f"Importing {len(articles)} article{'' if len(articles) == 1 else 's'}") as bar:
        result = KnowledgeBase.of(session, account.id, app.config["SETTINGS"]).import_articles(
            articles, progress=bar.update, withdrawn=[item.id for item in left_out])
        languages = _languages(session, account.id, app.config["SETTINGS"]) if result.passages else frozenset()
    removed = f", {result.removed} removed (customers cannot see them)" if result.removed else ""
    click.echo(f"{result.added} added, {result.updated} updated, {result.unchanged} unchanged{removed}; "
               f"{result.passages} passages indexed")
    _say_escaped(result.escaped)
    _say_languages(languages)
    click.echo(expectation(result.calibration) if result.passages else NOTHING_TO_ANSWER_FROM)


def _check_links(articles: Sequence[Article]) -> None:
    """An article's link is sent to customers as the answer's source (SMS, WhatsApp, the
    web chat, the agent's sidebar): only a web address may be one. A ``javascript:`` or
    ``data:`` link is refused before anything is imported, naming the article."""
    for article in articles:
        if article.url is None:
            continue
        parts = urlsplit(article.url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise click.ClickException(
                f"article {article.id!r} ({article.title[:80]!r}) has the link {article.url[:100]!r}: an article's "
                "url must be an http:// or https:// address (customers are sent it as the source). Fix or remove "
                "its url and import again; nothing was imported.")


@kb.command("sync")
@click.option("--full", is_flag=True,
              help="Read every article again, not only those changed since the last sync (after an upgrade "
                   "that reads articles differently).")
@ACCOUNT_OPTION
def kb_sync(full: bool, slug: str) -> None:
    """Pull Zendesk Help Center articles changed since the last sync.

    Articles archived in the Help Center since are taken out too (every sync lists the
    Help Center's article ids, 100 a request)."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core import ports
    from switchboard.core.knowledge.calibration import expectation
    from switchboard.core.knowledge.service import KnowledgeBase
    from switchboard.intake.db import get_db

    app = open_app()
    settings = app.config["SETTINGS"]
    account = account_named(app, slug)
    with get_db(app).session() as session:
        helpdesk = ports.current().helpdesk(session, account, settings)
        try:
            result = KnowledgeBase.of(session, account.id, settings).sync_help_center(
                helpdesk.help_center_pages, listed=helpdesk.help_center_article_ids, full=full)
        except ports.VendorRateLimited as exc:
            raise click.ClickException(f"Zendesk's rate limit: run the sync again in {exc.retry_after:.0f} s") from None
        except (ports.VendorError, ports.VendorUnavailable) as exc:
            raise click.ClickException(str(exc)) from None
        languages = _languages(session, account.id, settings) if result.passages else frozenset()
    click.echo(f"{result.added} added, {result.updated} updated, {result.unchanged} unchanged, {result.removed} "
               f"removed (archived, unpublished, or restricted to a user segment); {result.passages} passages indexed")
    _say_escaped(result.escaped)
    _say_languages(languages)
    click.echo(expectation(result.calibration) if result.passages else NOTHING_TO_ANSWER_FROM)


def _say_left_out(left_out: Sequence[LeftOut]) -> None:
    """Name the articles an export holds that customers cannot see (Help Center drafts
    and restricted articles, a spreadsheet's unpublished rows), and why the bot will not
    answer from them."""
    from switchboard.core.knowledge.loaders import RESTRICTED  # loaded by the import already

    if not left_out:
        return
    signed_in = ("; customers who write in are not signed in to your Help Center"
                 if any(item.reason == RESTRICTED for item in left_out) else "")
    click.echo(f"Left out {len(left_out)} article{'' if len(left_out) == 1 else 's'} customers cannot see (the bot "
               f"answers only from published articles visible to everyone{signed_in}):")
    for item in left_out[:10]:
        click.echo(f"  {item.id}  {item.title[:70]}  ({item.reason})")
    if len(left_out) > 10:
        click.echo(f"  … and {len(left_out) - 10} more")


def _languages(session: Session, account_id: int, settings: Settings) -> frozenset[str]:
    """The languages the account's indexed articles are written in."""
    from switchboard.core.knowledge.service import KnowledgeBase

    return KnowledgeBase.of(session, account_id, settings).retriever().languages()


def _say_locales(articles: Sequence[Article]) -> None:
    """Say which languages the articles are taken to be in, when not all English: a
    record without ``locale`` is read in the language of its text (core/knowledge/
    loaders.py), and the admin sees that before customers do."""
    from switchboard.core.texts.i18n import language_of

    locales = Counter(article.locale for article in articles)
    if any(language_of(locale) != "en" for locale in locales):  # "en-us" is English
        click.echo("Articles by language: " + ", ".join(f"{code} {n}" for code, n in locales.most_common())
                   + " (each record's `locale`, or the language of its text where it gives none).")


def _say_languages(languages: frozenset[str]) -> None:
    """Say what the articles' languages mean for the customers who write in them: one
    without a catalog gets English texts around its articles until the company writes
    its own; one detection does not know is read as the closest language it knows."""
    from switchboard.core.texts.i18n import CATALOG_LANGUAGES
    from switchboard.core.understanding.enrichment import detectable

    uncatalogued = sorted(language for language in languages if language not in CATALOG_LANGUAGES)
    if not uncatalogued:
        return
    if known := [language for language in uncatalogued if detectable(language)]:
        first = known[0]
        click.echo(f"Articles in {', '.join(known)}: customers who write in {'it' if len(known) == 1 else 'them'} "
                   "are recognised and answered from them, but the bot's own texts (greeting, menus, handoff "
                   f"notice) are English until you write yours: `switchboard texts list --language {first}`, "
                   f"`switchboard texts set welcome \"…\" --language {first}`.")
    if unknown := [language for language in uncatalogued if not detectable(language)]:
        click.echo(f"Articles in {', '.join(unknown)}: not a language Switchboard can recognise, so customers "
                   "writing it are read as the closest it knows; check the articles' locale.")


def _say_escaped(escaped: tuple[str, ...]) -> None:
    """Name the articles whose token-shaped text was escaped, so their authors can reword them."""
    if escaped:
        shown = ", ".join(escaped[:10]) + (f" and {len(escaped) - 10} more" if len(escaped) > 10 else "")
        click.echo(f"{len(escaped)} article(s) contained text shaped like a vault token ([CARD_1]); it was stored "
                   f"as (CARD_1) so no reply can fill it with a customer's value: {shown}")


@kb.command("search")
@click.argument("question")
@ACCOUNT_OPTION
@click.option("-k", default=5, show_default=True, help="How many passages to show.")
def kb_search(question: str, slug: str, k: int) -> None:
    """Show what retrieval finds for a question, with its signals."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.knowledge.service import KnowledgeBase, KnowledgeBaseEmpty
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    with get_db(app).session() as session:
        try:
            hits = KnowledgeBase.of(session, account.id, app.config["SETTINGS"]).search(question, k=k)
        except KnowledgeBaseEmpty as exc:
            raise click.ClickException(str(exc)) from None
    for hit in hits:
        signals = " ".join(f"{name}={value:.2f}" for name, value in sorted(hit.signals.items()))
        click.echo(f"{hit.score:6.3f}  {hit.passage.title}  ({hit.passage.citation})  {signals}")


@kb.group("phrasings", invoke_without_command=True)
@ACCOUNT_OPTION
@click.option("--status", type=click.Choice(["active", "pending", "removed"]), help="Only phrasings in this state.")
@click.pass_context
def kb_phrasings(ctx: click.Context, slug: str, status: str | None) -> None:
    """What the bot learned of how customers ask for each article.

    A phrasing is active (retrieval uses it) once two different customers picked the
    same article off the bot's menu for the same question, or one agent vouched for it
    (inserted or thumbed up a suggestion, or linked the article in a reply); pending
    until then. Remove one with `switchboard kb phrasings remove ID`."""
    if ctx.invoked_subcommand is not None:
        return
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.knowledge import phrasings
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    with get_db(app).session() as session:
        found = phrasings.list_phrasings(session, account.id, status=status)
    if not found:
        click.echo(f"nothing learned yet for {account.slug}: phrasings come from customers' menu picks and "
                   "agents' verdicts on suggestions")
        return
    click.echo(f"{'ID':<6} {'STATUS':<8} {'EVIDENCE':<24} {'LEARNED (UTC)':<17} ARTICLE — PHRASING")
    for p in found:
        evidence = f"{_count(p.customers, 'customer')}, {_count(p.agents, 'agent')}"
        title = p.article_title or f"(article {p.article_id} is no longer in the knowledge base)"
        click.echo(f"{p.id:<6} {p.status:<8} {evidence:<24} {p.learned_at:%Y-%m-%d %H:%M} {title} — {p.text!r}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@kb_phrasings.command("remove")
@click.argument("phrasing_id", type=int)
@click.option("--account", "slug", default=None,
              help="The account to work on, by slug (default: the one given to `kb phrasings`, else default).")
@click.pass_context
def kb_phrasings_remove(ctx: click.Context, phrasing_id: int, slug: str | None) -> None:
    """Stop the bot using phrasing ID, for good: no evidence, old or new, brings it back."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.knowledge import phrasings
    from switchboard.intake.db import get_db

    app = open_app()
    parent = ctx.parent.params.get("slug") if ctx.parent else None
    account = account_named(app, slug or parent or "default")
    with get_db(app).session() as session:
        try:
            removed, now = phrasings.remove_phrasing(session, account.id, phrasing_id, actor="cli")
        except phrasings.PhrasingError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    if now:
        click.echo(f"removed phrasing {removed.id} ({removed.text!r} for article {removed.article_id}); "
                   "every process stops using it at its next message")
    else:
        click.echo(f"phrasing {removed.id} was already removed")
