"""`switchboard qa check`: the guardrails as a linter for replies, through click's runner."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from switchboard.cli import main


def run(tmp_path: Path, *args: str, stdin: str | None = None, **extra: str):  # type: ignore[no-untyped-def]
    env = {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'sb.db'}", "SWITCHBOARD_DATA_DIR": str(tmp_path),
           "SWITCHBOARD_SANDBOX": "1", **extra}
    return CliRunner().invoke(main, ["qa", "check", *args], env=env, input=stdin)


def test_a_risky_promise_is_flagged_with_its_words_and_a_fix_and_exits_1(tmp_path: Path) -> None:
    result = run(tmp_path, "I guarantee a full refund of $500 tomorrow", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["flagged"] is True
    found = {(f["guardrail"], f["rule"]): f for f in report["findings"]}
    assert found[("risky_promise", "guarantee")]["words"] == ["guarantee"]
    assert found[("risky_promise", "amount")]["words"] == ["$500", "refund"]
    assert found[("risky_promise", "date")]["words"] == ["guarantee", "tomorrow"]
    assert "above 100" in found[("risky_promise", "amount")]["fix"]


def test_a_clean_reply_passes_with_exit_0(tmp_path: Path) -> None:
    result = run(tmp_path, "Thanks for waiting. Refunds usually reach your card within 5 to 10 working days.")
    assert (result.exit_code, result.output.strip()) == (0, "ok: nothing flagged")


def test_an_intent_needing_a_disclaimer_is_flagged_until_the_reply_carries_it(tmp_path: Path) -> None:
    bare = run(tmp_path, "You can ask for your money back under the sale terms.", "--intent", "legal")
    assert bare.exit_code == 1
    assert 'disclaimer.legal: "intent: legal": Add: "This is general information, not legal advice' in bare.output
    covered = run(tmp_path, "You can ask for your money back under the sale terms. This is general information, "
                            "not legal advice.", "--intent", "legal")
    assert covered.exit_code == 0, covered.output


def test_the_style_card_and_tone_are_warnings_read_from_standard_input(tmp_path: Path) -> None:
    card = tmp_path / "style.yaml"
    card.write_text('greeting: "Hi {name},"\nsign_off: "Thanks"\navoid:\n  cheers: "kind regards"\n')
    result = run(tmp_path, stdin="Calm down, cheers", SWITCHBOARD_STYLE_FILE=str(card))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        'warn: style.tone: "Calm down": Write "I understand this is frustrating" instead.',
        'warn: style.style_card: "cheers": Write "kind regards" instead.',
    ]


def test_a_broken_policy_file_names_the_key_to_fix(tmp_path: Path) -> None:
    policy = tmp_path / "guardrails.yaml"
    policy.write_text("version: 1\nrisky_promise: {}\n")
    result = run(tmp_path, "hello", SWITCHBOARD_GUARDRAILS_FILE=str(policy))
    assert result.exit_code == 1
    assert "unknown key 'risky_promise'" in result.output
