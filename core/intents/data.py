"""The labelled examples an intent model is fitted on: the admin's CSV of
``text,category`` rows, the examples Switchboard ships, and the checks that make a bad
row an error naming its line rather than a quietly worse model.

Apart from the model (:mod:`.model`) because reading and checking a CSV needs no
scikit-learn: `switchboard intents fit` reports a wrong file before loading any model.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from switchboard.core.errors import SwitchboardError
from switchboard.core.store.csv_rows import CsvFormatError, read_rows

OUT_OF_SCOPE = "out_of_scope"
#: Category names in a training CSV that mean "not something we route".
OUT_OF_SCOPE_CATEGORIES = frozenset({"oos", "out_of_scope"})
#: Fewer examples than this leave a category nothing to hold out for calibration and
#: too little to learn the ways customers phrase it.
MIN_EXAMPLES_PER_INTENT = 5


class IntentDataError(SwitchboardError):
    """Training data cannot be used; the message names the file, row or category."""



def read_training_csv(path: Path | str) -> tuple[list[str], list[str]]:
    """Read ``text,category`` rows; out-of-scope rows keep their ``oos`` category.

    Errors name the line number (the header is line 1, as in a spreadsheet), because
    admins fix these files by hand.
    """
    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise IntentDataError(f"Cannot open training file {path}: {exc.strerror}. "
                              "Check the path and that the file is readable.") from None
    except UnicodeDecodeError as exc:
        raise IntentDataError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                              "export it again as 'CSV UTF-8'.") from None
    try:
        columns, rows = read_rows(content)
    except CsvFormatError as exc:
        raise IntentDataError(f"{path}, {exc}") from None
    missing = [name for name in ("text", "category") if name not in columns]
    if missing:
        raise IntentDataError(
            f"{path}: the header line must name the columns 'text' and 'category' "
            f"(missing: {', '.join(missing)}; found: {', '.join(columns) or 'nothing'})."
        )
    texts: list[str] = []
    labels: list[str] = []
    for row in rows:
        text = row.values["text"].strip()
        category = row.values["category"].strip()
        if not text and not category:
            continue  # a row whose other columns hold notes
        if not text:
            raise IntentDataError(f"{path}, line {row.line}: the text is empty; "
                                  "write an example message or delete the line.")
        if not category:
            raise IntentDataError(f"{path}, line {row.line}: the category is empty; "
                                  "name the intent (or 'oos') or delete the line.")
        texts.append(text)
        labels.append(category)
    if not texts:
        raise IntentDataError(f"{path} has a header but no rows; add labelled example messages.")
    return texts, labels


def default_training_csv() -> Path:
    """The generic online-shop training set shipped with Switchboard."""
    return Path(str(resources.files("switchboard") / "data" / "intents_default.csv"))


@dataclass(frozen=True)
class TrainingSet:
    """What an account's model is fitted on, and where the examples came from.

    The counts are kept because the admin must be told plainly whether the shipped
    examples (greetings and thanks among them) are still part of the model, and
    because the audit records a fit by its counts, never by any example's text.
    """

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    #: Shipped examples in the set (0 with ``replace``).
    shipped: int
    #: The account's own examples in the set.
    yours: int
    #: Shipped examples left out because one of the account's has the same text ...
    overridden: int
    #: ... and of those, how many the account put in another category.
    relabelled: int
    #: The account's intents the shipped examples do not have.
    new_intents: tuple[str, ...]
    #: The shipped examples were left out altogether.
    replace: bool

    @property
    def your_intents(self) -> frozenset[str]:
        """The in-scope intents the account's own examples name."""
        return frozenset(_category(label) for label in self.labels[self.shipped:]) - {OUT_OF_SCOPE}

    def counts(self) -> dict[str, int | str]:
        """The set as numbers only, for the audit log and the stored model's metadata."""
        return {"mode": "replaced" if self.replace else "added", "shipped_examples": self.shipped,
                "your_examples": self.yours, "overridden_shipped": self.overridden,
                "relabelled_shipped": self.relabelled, "new_intents": len(self.new_intents)}


def training_set(texts: Sequence[str], labels: Sequence[str], *, replace: bool = False,
                 shipped_csv: Path | None = None) -> TrainingSet:
    """The account's examples added to the shipped ones (or, with ``replace``, alone).

    Why add by default: a model fitted on an account's twenty rows alone knows nothing
    else, so "hi" and "thanks so much" stop being small talk and every shipped intent
    goes out of scope. An account's example whose text (ignoring case and spacing) is a
    shipped one's takes its place, so an admin can move a shipped message to another
    intent. The account's rows come last, after the shipped ones.
    """
    shipped_texts, shipped_labels = read_training_csv(shipped_csv or default_training_csv())
    shipped_intents = {_category(label) for label in shipped_labels}
    new_intents = tuple(sorted({_category(label) for label in labels} - shipped_intents - {OUT_OF_SCOPE}))
    if replace:
        return TrainingSet(tuple(texts), tuple(labels), shipped=0, yours=len(texts), overridden=0,
                           relabelled=0, new_intents=new_intents, replace=True)
    yours = {_same_text(text): _category(label) for text, label in zip(texts, labels, strict=True)}
    kept: list[tuple[str, str]] = []
    overridden = relabelled = 0
    for text, label in zip(shipped_texts, shipped_labels, strict=True):
        if _same_text(text) not in yours:
            kept.append((text, label))
            continue
        overridden += 1
        relabelled += yours[_same_text(text)] != _category(label)
    return TrainingSet((*(text for text, _ in kept), *texts), (*(label for _, label in kept), *labels),
                       shipped=len(kept), yours=len(texts), overridden=overridden, relabelled=relabelled,
                       new_intents=new_intents, replace=False)


def _same_text(text: str) -> str:
    """What makes two examples the same message to the model (its TF-IDF lowercases)."""
    return " ".join(text.casefold().split())


def _category(label: str) -> str:
    label = label.strip()
    return OUT_OF_SCOPE if label.lower() in OUT_OF_SCOPE_CATEGORIES else label



def training_rows(texts: Sequence[str], labels: Sequence[str],
                   out_of_scope: Sequence[str]) -> tuple[list[str], list[str]]:
    if isinstance(texts, str) or isinstance(labels, str):
        raise TypeError("fit() takes lists of texts and labels, not single strings.")
    if len(texts) != len(labels):
        raise IntentDataError(f"Got {len(texts)} texts but {len(labels)} labels; "
                              "every example message needs exactly one category.")
    rows: list[str] = []
    targets: list[str] = []
    for index, (text, label) in enumerate(zip(texts, labels, strict=True)):
        text, label = str(text).strip(), str(label).strip()
        if not text:
            raise IntentDataError(f"Example {index} has an empty text; remove it or write the message.")
        if not label:
            raise IntentDataError(f"Example {index} ({text[:40]!r}) has no category; label it.")
        rows.append(text)
        targets.append(OUT_OF_SCOPE if label.lower() in OUT_OF_SCOPE_CATEGORIES else label)
    for text in out_of_scope:
        if str(text).strip():
            rows.append(str(text).strip())
            targets.append(OUT_OF_SCOPE)
    counts = Counter(targets)
    in_scope = {label: n for label, n in counts.items() if label != OUT_OF_SCOPE}
    if len(in_scope) < 2:
        raise IntentDataError("Training needs at least two categories besides out-of-scope "
                              f"examples (found: {', '.join(in_scope) or 'none'}).")
    too_few = {label: n for label, n in counts.items() if n < MIN_EXAMPLES_PER_INTENT}
    if too_few:
        listed = ", ".join(f"{label!r} ({n})" for label, n in sorted(too_few.items()))
        raise IntentDataError(f"Each category, out-of-scope examples included, needs at least "
                              f"{MIN_EXAMPLES_PER_INTENT} example messages; add more to: {listed}.")
    return rows, targets
