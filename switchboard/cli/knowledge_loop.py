"""`switchboard kb gaps` and `kb drafts`: the improvement loop (issue 38), from the
questions the bot could not answer to articles an approver publishes."""
from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta
from typing import IO

import click

from switchboard.cli.base import ACCOUNT_OPTION, account_named, open_app
from switchboard.cli.kb import kb


@kb.command("gaps")
@ACCOUNT_OPTION
@click.option("--days", default=7, show_default=True, type=click.IntRange(min=1),
              help="The period, counting back from now; the trend compares it with the period before.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def kb_gaps(slug: str, days: int, as_json: bool) -> None:
    """Questions that ended without an answer, grouped by meaning, most asked first."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.knowledge import topics
    from switchboard.core.knowledge_loop import gaps
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    end = datetime.now(UTC)
    start = end - timedelta(days=days)
    with get_db(app).session() as session:
        retriever = topics.live_retriever(session, account.id, app.config["SETTINGS"])
        found = gaps.rank_gaps(session, account.id, retriever, start=start, end=end)
    if as_json:
        click.echo(json.dumps({"account": account.slug, "start": start.isoformat(), "end": end.isoformat(),
                               "gaps": [gap.as_json() for gap in found]}, indent=2))
        return
    if not found:
        click.echo(f"no unanswered questions for {account.slug} in the last {days} days")
        return
    click.echo(f"{'ASKED':>5} {'BEFORE':>6} {'TREND':<8} QUESTION — CLOSEST ARTICLES")
    for gap in found:
        near = ", ".join(f"{c.title} ({c.score:.2f})" for c in gap.closest) or "none"
        click.echo(f"{gap.volume:>5} {gap.previous:>6} {gap.trend:<8} {gap.example!r} — {near}")


@kb.command("duplicates")
@ACCOUNT_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def kb_duplicates(slug: str, as_json: bool) -> None:
    """Articles to review: pairs that answer the same questions (by the retrieval
    encoder) and pairs that give different numbers for the same thing."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.knowledge_loop import conflicts as kb_conflicts
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    with get_db(app).session() as session:
        found = kb_conflicts.review(session, account.id, app.config["SETTINGS"])
    if as_json:
        click.echo(json.dumps({"account": account.slug, **found}, indent=2))
        return
    click.echo(f"{len(found['duplicates'])} duplicate pair(s), {len(found['contradictions'])} contradicting pair(s) "
               f"among {found['articles']} articles")
    for d in found["duplicates"]:
        click.echo(f"DUPLICATE {d['article_id']} / {d['other_id']} ({d['score']:.2f}): "
                   f"{d['question']!r} ~ {d['other_question']!r}")
    for c in found["contradictions"]:
        click.echo(f"CONTRADICTS {c['article_id']} / {c['other_id']} ({c['quantity']}: "
                   f"{', '.join(c['values'])} vs {', '.join(c['other_values'])}): {c['sentence']!r} ~ "
                   f"{c['other_sentence']!r}")


@kb.group("drafts")
def kb_drafts_group() -> None:
    """Articles drafted from agents' answers to knowledge gaps: review, approve, reject."""

@kb_drafts_group.command("list")
@ACCOUNT_OPTION
@click.option("--status", type=click.Choice(["pending", "approved", "rejected"]), help="Only drafts in this state.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def kb_drafts_list(slug: str, status: str | None, as_json: bool) -> None:
    """Every draft with its id, status, version, the questions it answers and its proof."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.knowledge_loop import drafts as kb_drafts
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    with get_db(app).session() as session:
        found = kb_drafts.drafts(session, account.id, status)
        rows = [kb_drafts.as_json(draft) for draft in found]
    if as_json:
        click.echo(json.dumps({"account": account.slug, "drafts": rows}, indent=2))
        return
    if not rows:
        click.echo(f"no drafts for {account.slug}: they come from tickets solved on questions no article answered")
        return
    click.echo(f"{'ID':<5} {'STATUS':<9} {'KIND':<5} {'VER':<4} {'ASKED':>5} {'PROOF (after)':<22} TITLE")
    for row in rows:
        edits = f" (edits {row['target_article_id']})" if row["kind"] == "edit" else ""
        click.echo(f"{row['id']:<5} {row['status']:<9} {row['kind']:<5} {row['version']:<4} "
                   f"{len(row['questions']):>5} {_proof(row['proof']):<22} {row['title']}{edits}")


def _proof(proof: dict[str, object]) -> str:
    after = proof.get("after")
    if not isinstance(after, dict):
        return "-"
    steals = " STEALS" if proof.get("steals") else ""
    return f"{after.get('answered', 0)}/{after.get('questions', 0)} answered{steals}"


@kb_drafts_group.command("show")
@click.argument("draft_id", type=int)
@ACCOUNT_OPTION
@click.option("--diff", "as_diff", is_flag=True, help="Print an edit's change to its article (- old, + new) only.")
def kb_drafts_show(draft_id: int, slug: str, as_diff: bool) -> None:
    """One draft in full (JSON): kind, body, an edit's diff, questions, sources, proof,
    versions, decision."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.knowledge_loop import drafts as kb_drafts
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    with get_db(app).session() as session:
        try:
            draft = kb_drafts.get(session, account.id, draft_id)
        except kb_drafts.DraftNotFound as exc:
            raise click.ClickException(str(exc)) from None
        if not as_diff:
            click.echo(json.dumps(kb_drafts.as_json(draft), indent=2))
        elif draft.kind != kb_drafts.EDIT:
            raise click.ClickException(f"draft {draft_id} is a new article, not an edit: it has no diff")
        else:
            click.echo(f"draft {draft_id} edits article {draft.target_article_id}:")
            click.echo("\n".join(kb_drafts.diff(draft)))


@kb_drafts_group.command("edit")
@click.argument("draft_id", type=int)
@ACCOUNT_OPTION
@click.option("--title", help="The new title (default: unchanged).")
@click.option("--body-file", type=click.File("r", encoding="utf-8"),
              help="A file holding the new body, paragraphs separated by a blank line ('-' reads standard input).")
@click.option("--by", help="Who edits (recorded in the audit log and the version); default: your login name.")
def kb_drafts_edit(draft_id: int, slug: str, title: str | None, body_file: IO[str] | None, by: str | None) -> None:
    """Save a new version of a pending draft with your title and/or body: it is proven
    again and its Slack card updated; nothing is published until it is approved."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.knowledge_loop import drafts as kb_drafts
    from switchboard.intake.db import get_db

    if title is None and body_file is None:
        raise click.UsageError("give --title, --body-file or both: there is nothing to change")
    app = open_app()
    account = account_named(app, slug)
    actor = f"cli:{by or getpass.getuser()}"
    with app.app_context(), get_db(app).session() as session:
        try:
            draft = kb_drafts.get(session, account.id, draft_id)
            decision = kb_drafts.edit(session, account, app.config["SETTINGS"], draft_id,
                                      title=draft.title if title is None else title,
                                      body=draft.body if body_file is None else body_file.read(), actor=actor)
        except (kb_drafts.DraftNotFound, kb_drafts.InvalidEdit) as exc:
            raise click.ClickException(str(exc)) from None
        if decision.outcome.startswith("already:"):
            raise click.ClickException(f"draft {draft_id} is already {decision.draft.status} "
                                       f"(by {decision.draft.decided_by}): nothing changed")
        if decision.outcome == "unchanged":
            click.echo(f"draft {draft_id} is already so (version {decision.draft.version}): nothing changed")
            return
        click.echo(f"draft {draft_id} version {decision.draft.version} saved by {actor}; proof: "
                   f"{_proof(decision.draft.proof)}")


def _decide(draft_id: int, slug: str, verdict: str, by: str | None) -> None:
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.knowledge_loop import drafts as kb_drafts
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    actor = f"cli:{by or getpass.getuser()}"
    with app.app_context(), get_db(app).session() as session:
        try:
            decision = kb_drafts.decide(session, account, app.config["SETTINGS"], draft_id, verdict, actor=actor)
        except kb_drafts.DraftNotFound as exc:
            raise click.ClickException(str(exc)) from None
        draft = decision.draft
        if decision.outcome.startswith("already:"):
            raise click.ClickException(f"draft {draft_id} is already {draft.status} (by {draft.decided_by}): "
                                       "nothing changed")
        edit = " (a new version of it)" if draft.kind == kb_drafts.EDIT else ""
        where = f", published as {draft.article_id}{edit}" if draft.status == kb_drafts.APPROVED else ""
        click.echo(f"draft {draft_id} version {draft.version} {draft.status} by {actor}{where}")


@kb_drafts_group.command("approve")
@click.argument("draft_id", type=int)
@ACCOUNT_OPTION
@click.option("--by", help="Who approves (recorded in the audit log); default: your login name.")
def kb_drafts_approve(draft_id: int, slug: str, by: str | None) -> None:
    """Publish a draft: into the knowledge base at once, and to the Help Center section."""
    _decide(draft_id, slug, "approve", by)


@kb_drafts_group.command("reject")
@click.argument("draft_id", type=int)
@ACCOUNT_OPTION
@click.option("--by", help="Who rejects (recorded in the audit log); default: your login name.")
def kb_drafts_reject(draft_id: int, slug: str, by: str | None) -> None:
    """Reject a draft: nothing is published, the knowledge base stays as it was."""
    _decide(draft_id, slug, "reject", by)
