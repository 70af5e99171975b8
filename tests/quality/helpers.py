"""What the quality tests share: an app with its own guardrail policy, and a shop whose
help center makes a promise of its own."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from switchboard.app import create_app
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.records import Article
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.quality.policy import DEFAULT_POLICY
from switchboard.core.settings import load_settings
from switchboard.intake.db import get_db

from ..conftest import SAMPLE_KB

#: An article promising what the default policy calls risky: a refund paid today.
PROMISING_ARTICLE = {"id": "same-day-refunds", "title": "When is my refund paid?",
                     "body": "We guarantee every refund is paid today, the day your return reaches our warehouse. "
                             "You get an email when it is paid.",
                     "url": "https://help.acme.example/articles/same-day-refunds", "locale": "en", "tags": ["refund"]}


def policy_file(tmp_path: Path, *, trust_knowledge_base: bool) -> Path:
    """The shipped policy, trusting the articles' own promises or not."""
    path = tmp_path / "guardrails.yaml"
    text = DEFAULT_POLICY.read_text()
    trust = "true" if trust_knowledge_base else "false"
    path.write_text(text.replace("trust_knowledge_base: true", f"trust_knowledge_base: {trust}"))
    return path


@contextmanager
def shop_app(env: dict[str, str], tmp_path: Path, *, trust_knowledge_base: bool = True) -> Iterator[Flask]:
    """The sample shop plus the promising article, under a policy file of its own."""
    settings = load_settings({**env, "SWITCHBOARD_GUARDRAILS_FILE": str(policy_file(
        tmp_path, trust_knowledge_base=trust_knowledge_base))})
    app = create_app(settings, config={"TASKS_INLINE": True, "TESTING": True})
    try:
        articles = load_articles(SAMPLE_KB)
        with get_db(app).session() as session:
            kb = KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], settings.data_dir)
            kb.import_articles([*articles, *articles_of([PROMISING_ARTICLE], tmp_path)])
        yield app
    finally:
        get_db(app).dispose()


def articles_of(articles: list[dict[str, object]], tmp_path: Path) -> list[Article]:
    """Articles as an export file gives them (through the same loader)."""
    path = tmp_path / "extra_kb.json"
    path.write_text(json.dumps({"articles": articles}))
    return load_articles(path)
