"""The message catalogs: every customer-facing text marked in the code is translated in
every catalog language, a missing translation fails, and an account's override wins."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from flask import Flask

import switchboard.core
from switchboard.core.texts import i18n
from switchboard.core.understanding.enrichment import conversation_language
from switchboard.intake.db import get_db

CORE = Path(switchboard.core.__file__).parent  # every module of the core, wherever i18n sits


def marked_in_source() -> dict[str, str]:
    """Key → English text of every N_() call in core/, found the way pybabel finds them."""
    found = {}
    for _file, _line, message, _comments, context in extract_from_dir(
            str(CORE), keywords={"N_": ((1, "c"), 2)}, comment_tags=()):
        found[context] = message
    return found


def test_the_source_marks_the_customer_texts_and_the_registry_knows_them_all() -> None:
    source = marked_in_source()
    assert {"help", "handoff_notice", "clarify", "csat_question", "stop_confirmation", "verification_code",
            "outreach_opt_out", "recap_solved", "disclosure_named", "translated_answer"} <= set(source)
    assert source == i18n.load_all()  # a mark pybabel cannot read (not a literal) would differ here


def test_every_module_marking_texts_is_listed_for_load_all() -> None:
    """i18n imports none of the modules that own texts (each of them imports i18n): it
    names them in TEXT_MODULES, and a module missing there would leave its texts out of
    `switchboard texts check` in a process that had not imported it yet."""
    files = {file for file, *_ in extract_from_dir(str(CORE), keywords={"N_": ((1, "c"), 2)}, comment_tags=())}
    marking = {"switchboard.core." + file.removesuffix(".py").replace("/", ".") for file in files}
    assert marking == set(i18n.TEXT_MODULES)


@pytest.mark.parametrize("language", i18n.CATALOG_LANGUAGES)
def test_each_catalog_translates_every_marked_text(language: str) -> None:
    assert i18n.catalog_problems(language) == []
    assert len(i18n.catalog(language)) == len(i18n.load_all())


def test_the_template_lists_every_marked_text() -> None:
    from babel.messages.pofile import read_po

    with i18n.package_path("locale", "switchboard.pot").open("rb") as file:
        template = {str(m.context): m.id for m in read_po(file) if m.id}
    assert template == i18n.load_all()


def test_a_missing_or_stale_translation_is_reported(tmp_path: Path) -> None:
    copy = tmp_path / "switchboard.po"
    shutil.copy(i18n.catalog_path("de"), copy)
    text = copy.read_text(encoding="utf-8")
    text = text.replace('msgstr "Wie kann ich Ihnen heute helfen?"', 'msgstr ""')
    text = text.replace('msgid "Thank you for your feedback!"', 'msgid "Thanks for your feedback!"')
    text = text.replace('msgstr "Kurz gesagt: {reply}"', 'msgstr "Kurz gesagt: {antwort}"')
    copy.write_text(text, encoding="utf-8")
    assert i18n.catalog_problems("de", copy) == [
        "de: csat_thanks translates an older English text; update msgid and msgstr",
        "de: recap_in_short must use exactly the placeholders of 'In short: {reply}'",
        "de: welcome is not translated",
    ]


def test_a_text_in_a_language_without_catalog_is_english() -> None:
    from switchboard.core.bot.decisions import WELCOME

    assert i18n.Texts("es")(WELCOME) == "¿En qué puedo ayudarle hoy?"
    assert i18n.Texts("nl")(WELCOME) == WELCOME
    assert i18n.Texts("en")(WELCOME) == WELCOME


def test_an_account_override_wins_per_language(app: Flask) -> None:
    from switchboard.core.bot.decisions import WELCOME

    account = app.config["DEFAULT_ACCOUNT_ID"]
    with get_db(app).session() as session:
        i18n.set_override(session, account, "es", "welcome", "¿Qué tal? ¿En qué te ayudo?")
        assert i18n.texts_for(session, account, "es")(WELCOME) == "¿Qué tal? ¿En qué te ayudo?"
        assert i18n.texts_for(session, account, "fr")(WELCOME) == "Comment puis-je vous aider aujourd'hui ?"
        with pytest.raises(i18n.InvalidOverride, match=r"exactly these placeholders: \{eta\}"):
            i18n.set_override(session, account, "es", "handoff_notice", "Le paso con una persona.")
        with pytest.raises(i18n.UnknownText, match="switchboard texts list"):
            i18n.set_override(session, account, "es", "welcom", "Hola")
        i18n.set_override(session, account, "es", "welcome", None)
        assert i18n.texts_for(session, account, "es")(WELCOME) == "¿En qué puedo ayudarle hoy?"


@pytest.mark.parametrize(("text", "previous", "preference", "expected"), [
    ("¿Cuánto tarda la entrega a Madrid?", None, None, "es"),
    ("ok", "es", None, "es"),          # short and ambiguous: the conversation keeps its language
    ("si", "es", None, "es"),
    ("merci", "fr", None, "fr"),
    ("ok", None, "de-DE", "de"),       # no conversation yet: the stored preference
    ("ok", None, None, "en"),
    ("How long does delivery to Madrid take?", "es", None, "en"),  # a clear sentence switches
    ("Madrid", "es", None, "es"),
])
def test_the_conversation_language_is_sticky(text: str, previous: str | None, preference: str | None,
                                             expected: str) -> None:
    assert conversation_language(text, previous=previous, preference=i18n.language_of(preference)) == expected


def test_action_outcomes_and_previews_follow_the_language_and_keep_english_unchanged() -> None:
    from switchboard.core.actions.registry import REGISTRY

    params, result = {"order_id": "A1001"}, {"amount_text": "$12.00"}
    assert REGISTRY["refund"].done(params, result, i18n.ENGLISH) == (
        "Done: a refund of $12.00 for order A1001 is on its way to your original payment method.")
    assert REGISTRY["refund"].done(params, result, i18n.Texts("es")).startswith(
        "Hecho: el reembolso de $12.00 del pedido A1001")
    assert REGISTRY["order_status"].done(params, {"status": "shipped", "eta": "Friday"}, i18n.ENGLISH) == (
        "Order A1001 is shipped; expected delivery Friday.")
    assert REGISTRY["refund"].preview(params, {"total": 12}, i18n.Texts("fr")) == (
        "rembourser $12.00 pour la commande A1001")
