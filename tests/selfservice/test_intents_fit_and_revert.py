"""`switchboard intents fit` adds an account's rows to the shipped examples (or, with
--replace, fits on them alone) and keeps the models fitted before; `intents revert` goes
back one fitted model at a time, then to the shipped default. On SQLite and PostgreSQL.
"""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from switchboard.cli import main
from switchboard.core.intents.model import default_training_csv, read_training_csv

#: Twenty rows of two intents the shipped examples do not have.
LOYALTY_CSV = Path(__file__).parent / "data" / "loyalty_and_gift_wrap.csv"
SHIPPED = len(read_training_csv(default_training_csv())[0])
#: New messages, in none of the CSVs: small talk, a shipped intent and the two new ones.
PROBES = "hi\nthanks so much\nwhere is my order?\nwhat is my points balance\ncould you wrap this as a gift\n"


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin)


def intents_of(env: dict[str, str], *account: str) -> list[dict[str, object]]:
    predicted = cli(env, "intents", "predict", *account, stdin=PROBES)
    assert predicted.exit_code == 0, predicted.output
    return [json.loads(line) for line in predicted.output.splitlines()]


def routed(env: dict[str, str], *account: str) -> list[object]:
    return [line["intent"] for line in intents_of(env, *account)]


def audited(env: dict[str, str]) -> list[dict[str, object]]:
    exported = cli(env, "audit", "export")
    assert exported.exit_code == 0, exported.output
    return [entry for entry in map(json.loads, exported.stdout.splitlines())
            if str(entry["action"]).startswith("intents.")]


def test_a_fit_adds_the_rows_to_the_shipped_examples_so_small_talk_is_still_known(env: dict[str, str]) -> None:
    fitted = cli(env, "intents", "fit", str(LOYALTY_CSV))
    assert fitted.exit_code == 0, fitted.output
    assert (f"Fitted on {SHIPPED:,} shipped examples + 20 of yours (2 new intents: gift_wrap, loyalty_points)."
            in fitted.output)
    assert "`switchboard intents revert --account default` goes back to the previous model" in fitted.output
    assert routed(env) == ["greeting", "thanks", "order_status", "loyalty_points", "gift_wrap"]


def test_a_fitted_model_reads_messages_with_the_multilingual_encoder(env: dict[str, str], tmp_path: Path) -> None:
    """The account's rows are English; the encoder it was fitted with (saved by name
    in the stored model) carries them to customers writing in other languages."""
    from switchboard.core.intents.model import IntentModel
    from switchboard.core.knowledge.embeddings import E5

    assert cli(env, "intents", "fit", str(LOYALTY_CSV)).exit_code == 0
    spanish = cli(env, "intents", "predict", stdin="¿Cuántos puntos de fidelidad tengo?\n"
                                                   "¿Me lo pueden envolver para regalo?\n")
    assert spanish.exit_code == 0, spanish.output
    points, wrap = map(json.loads, spanish.output.splitlines())
    assert points["intent"] == "loyalty_points"
    # Measured 0.565 against the 0.565 its threshold asks: the right intent, not always sure enough.
    assert wrap.get("best_intent", wrap["intent"]) == "gift_wrap"
    [stored] = (Path(env["SWITCHBOARD_DATA_DIR"]) / "models").glob("account-*/intents-*.skops")
    model = IntentModel.load(stored)
    # added to the shipped examples, it routes as the shipped model does: its SVM alone
    # (core/intents/store.py, SHIPPED_VOTES_WEIGHT)
    assert model.encoder_name == E5 and model.votes_weight == 0.0


def test_a_row_with_a_shipped_examples_text_takes_its_place(env: dict[str, str], tmp_path: Path) -> None:
    training = tmp_path / "mine.csv"
    training.write_text(LOYALTY_CSV.read_text() + "  WHERE is my ORDER?,loyalty_points\nHello,greeting\n")
    fitted = cli(env, "intents", "fit", str(training))
    assert fitted.exit_code == 0, fitted.output
    assert (f"Fitted on {SHIPPED - 2:,} shipped examples + 22 of yours (2 new intents: gift_wrap, loyalty_points; "
            "2 of yours had the text of a shipped example and took its place, 1 in another intent).") in fitted.output


def test_replace_fits_on_the_rows_alone_and_says_small_talk_is_gone(env: dict[str, str]) -> None:
    fitted = cli(env, "intents", "fit", "--replace", str(LOYALTY_CSV))
    assert fitted.exit_code == 0, fitted.output
    assert "Fitted on your 20 examples only (2 new intents: gift_wrap, loyalty_points)" in fitted.output
    assert "--replace left out the shipped examples" in fitted.output
    assert "it has no greeting or thanks rows" in fitted.output
    assert fitted.output.splitlines()[1].startswith("2 intents;")
    intents = routed(env)
    assert intents[3:] == ["loyalty_points", "gift_wrap"]
    assert not {"greeting", "thanks", "order_status"} & set(intents[:3])  # the shipped intents are gone


def test_replace_with_small_talk_in_the_csv_does_not_warn_about_it(env: dict[str, str], tmp_path: Path) -> None:
    training = tmp_path / "mine.csv"
    training.write_text(LOYALTY_CSV.read_text() + "".join(
        f"{text},greeting\n" for text in ("hi", "hello", "hey there", "good morning", "hiya")) + "".join(
        f"{text},thanks\n" for text in ("thanks", "thank you", "thanks so much", "cheers", "many thanks")))
    fitted = cli(env, "intents", "fit", "--replace", str(training))
    assert fitted.exit_code == 0, fitted.output
    assert "--replace left out the shipped examples" in fitted.output
    assert "no longer small talk" not in fitted.output


def test_revert_goes_one_fitted_model_back_each_time_then_to_the_shipped_default(env: dict[str, str]) -> None:
    shipped_default = intents_of(env)
    assert cli(env, "intents", "fit", str(LOYALTY_CSV)).exit_code == 0
    first = intents_of(env)
    assert cli(env, "intents", "fit", "--replace", str(LOYALTY_CSV)).exit_code == 0
    assert intents_of(env) != first

    back = cli(env, "intents", "revert")
    assert back.exit_code == 0, back.output
    assert "routes with version" in back.output
    assert f"fitted on {SHIPPED:,} shipped examples + 20 of yours" in back.output
    assert "the next revert goes back to the shipped default model" in back.output
    assert intents_of(env) == first  # the same stored model: the same confidences too

    # Not back to the --replace model (no ping-pong): one step further, to the shipped default.
    again = cli(env, "intents", "revert")
    assert again.exit_code == 0, again.output
    assert "No earlier fitted model is kept: account 'default' routes with the shipped default model" in again.output
    assert intents_of(env) == shipped_default

    none_left = cli(env, "intents", "revert")
    assert none_left.exit_code == 1
    assert "nothing to revert for account 'default'" in none_left.output
    assert "Fit a model with `switchboard intents fit CSV`" in none_left.output
    assert intents_of(env) == shipped_default


def test_fits_and_reverts_are_audited_with_counts_and_no_example_text(env: dict[str, str]) -> None:
    assert cli(env, "intents", "fit", str(LOYALTY_CSV)).exit_code == 0
    assert cli(env, "intents", "fit", "--replace", str(LOYALTY_CSV)).exit_code == 0
    assert cli(env, "intents", "revert").exit_code == 0
    assert cli(env, "intents", "revert").exit_code == 0
    entries = audited(env)
    assert [e["action"] for e in entries] == ["intents.fitted"] * 2 + ["intents.reverted"] * 2
    assert {e["actor"] for e in entries} == {"cli"}
    added, replaced, back, default = (e["detail"] for e in entries)
    assert isinstance(added, dict) and isinstance(replaced, dict) and isinstance(back, dict)
    assert added["mode"] == "added" and added["your_examples"] == 20 and added["new_intents"] == 2
    assert added["shipped_examples"] == SHIPPED
    assert added["previous_version"] is None
    assert replaced["mode"] == "replaced" and replaced["shipped_examples"] == 0 and replaced["labels"] == 2
    assert replaced["previous_version"] == entries[0]["subject_id"]
    assert back == {"discarded_version": entries[1]["subject_id"], "current_version": entries[0]["subject_id"],
                    "fitted_models_left": 1}
    assert default == {"discarded_version": entries[0]["subject_id"], "current_version": "shipped_default",
                       "fitted_models_left": 0}
    exported = json.dumps(entries)
    texts, labels = read_training_csv(LOYALTY_CSV)
    assert not [text for text in texts + labels if text in exported]


def test_revert_without_a_fitted_model_says_so(env: dict[str, str]) -> None:
    result = cli(env, "intents", "revert")
    assert result.exit_code == 1
    assert "nothing to revert for account 'default': it routes with the shipped default model" in result.output
    assert audited(env) == []


def test_an_unknown_account_is_named(env: dict[str, str]) -> None:
    for command in (["intents", "fit", str(LOYALTY_CSV)], ["intents", "revert"]):
        result = cli(env, *command, "--account", "nope")
        assert result.exit_code == 1
        assert "no account 'nope': see `switchboard accounts list`" in result.output


def test_a_bad_csv_stores_nothing_and_keeps_the_model_in_use(env: dict[str, str], tmp_path: Path) -> None:
    assert cli(env, "intents", "fit", str(LOYALTY_CSV)).exit_code == 0
    fitted = intents_of(env)
    bad = tmp_path / "bad.csv"
    bad.write_text("text,intent\nwhere are my points,loyalty_points\n")
    result = cli(env, "intents", "fit", str(bad))
    assert result.exit_code == 1
    assert "the header line must name the columns 'text' and 'category' (missing: category" in result.output
    too_few = tmp_path / "too_few.csv"
    too_few.write_text("text,category\nwhere are my points,loyalty_points\nmy points balance,loyalty_points\n")
    result = cli(env, "intents", "fit", str(too_few))
    assert result.exit_code == 1 and "'loyalty_points' (2)" in result.output
    missing = cli(env, "intents", "fit", str(tmp_path / "absent.csv"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert intents_of(env) == fitted
    assert [e["action"] for e in audited(env)] == ["intents.fitted"]
