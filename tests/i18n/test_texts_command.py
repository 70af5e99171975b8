"""`switchboard texts`: list, override and check the customer texts per language."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from switchboard.cli import main


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_an_override_is_listed_and_removed(env: dict[str, str], tmp_path: Path) -> None:
    code, out = run(env, "texts", "set", "welcome", "¿Qué tal? ¿En qué te ayudo?", "--language", "es")
    assert code == 0, out
    code, out = run(env, "texts", "list", "--language", "es")
    assert "welcome (override): ¿Qué tal? ¿En qué te ayudo?" in out
    assert "clarify: No encontré eso en nuestro centro de ayuda." in out
    code, out = run(env, "texts", "set", "handoff_notice", "Le paso con una persona.", "--language", "es")
    assert code != 0 and "exactly these placeholders: {eta}" in out
    code, out = run(env, "texts", "set", "welcome", "--language", "es", "--remove")
    assert code == 0, out
    assert "welcome: ¿En qué puedo ayudarle hoy?" in run(env, "texts", "list", "--language", "es")[1]


def test_check_passes_on_the_shipped_catalogs(env: dict[str, str]) -> None:
    code, out = run(env, "texts", "check")
    assert code == 0, out
    assert "translated in en, es, fr, de, pt, it" in out


def test_a_language_no_customer_is_answered_in_is_refused_naming_the_catalogs(env: dict[str, str]) -> None:
    code, out = run(env, "texts", "set", "welcome", "Hallo", "--language", "xx")
    assert code != 0
    assert "no customer is ever answered in 'xx': the catalogs have en, es, fr, de, pt, it" in out
    assert "override saved" not in out and "(override)" not in run(env, "texts", "list", "--language", "xx")[1]
    # Dutch has no catalog but is detected: a company may write its own Dutch texts.
    code, out = run(env, "texts", "set", "welcome", "Waarmee kan ik u helpen?", "--language", "nl")
    assert code == 0, out
    assert "welcome (override): Waarmee kan ik u helpen?" in run(env, "texts", "list", "--language", "nl")[1]
    # Romanian is detected for an account whose articles are Romanian: its texts too.
    code, out = run(env, "texts", "set", "welcome", "Cu ce vă pot ajuta?", "--language", "ro")
    assert code == 0, out


def test_the_uncatalogued_languages_are_the_detected_ones_without_a_catalog() -> None:
    from switchboard.core.texts import i18n
    from switchboard.core.understanding.enrichment import SUPPORTED_LANGUAGES

    detected = {language.iso_code_639_1.name.lower() for language in SUPPORTED_LANGUAGES}
    assert set(i18n.UNCATALOGUED_LANGUAGES) == detected - set(i18n.CATALOG_LANGUAGES)
