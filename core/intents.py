"""Intent routing that knows when it does not know.

Admins train a model from their own labelled messages (a CSV of ``text,category``),
added to the examples Switchboard ships unless they choose otherwise (:func:`training_set`).
A message is routed to an intent only when the model is confident enough; anything
else comes back as ``out_of_scope`` so the caller can hand it to a person instead of
sending a wrong canned answer. Wrong routing costs more than a handoff, which is why
the confidence threshold is part of the model, chosen from data at training time
rather than hard-coded.

How it works, and why:

* Features are TF-IDF word 1-2 grams plus character 3-5 grams: the character grams
  survive typos, plurals and the SMS spelling customers actually use. Given a
  sentence encoder (``fit(..., encoder=...)``), its embedding of the message is added:
  it knows words the admin's examples never used and, multilingual-e5-small (the
  default install's, :mod:`.intent_vectors`), other languages: English examples then
  route a Spanish message by its meaning, where English n-grams alone matched its
  letters. Examples and messages are both embedded as queries (:func:`message_vectors`).
  The encoder is saved by name.
* The classifier is a linear SVM (fast on 2 cores: seconds for 10k rows) wrapped in
  temperature-scaling calibration, so ``confidence`` behaves like a probability that
  the routed intent is right, and a threshold on it means the same thing for every
  deployment.
* The threshold is chosen on a held-out slice of the admin's own training data. With
  out-of-scope examples (rows labelled ``oos``/``out_of_scope``, which also train an
  out-of-scope class) it balances in-scope accuracy against out-of-scope recall;
  without them it keeps 95% of the held-out messages the model gets right. Give it
  out-of-scope examples: a model of a few intents that has never seen anything else
  is confident about everything, weather questions included.

Saving and loading use skops, which rebuilds only types on its safe list instead of
unpickling arbitrary objects, so loading a model file cannot run code.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import skops.io as skops_io
from scipy.optimize import minimize_scalar
from scipy.sparse import csr_matrix, hstack, spmatrix
from scipy.special import log_softmax, softmax
from sklearn import config_context
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline, make_union
from sklearn.svm import LinearSVC

from switchboard.errors import SwitchboardError

from .csv_rows import CsvFormatError, read_rows
from .knowledge.analysis import without_token_numbers
from .knowledge.embeddings import E5, SentenceEncoder, encoder_named, queries
from .knowledge.errors import EmbeddingsUnavailableError

OUT_OF_SCOPE = "out_of_scope"
#: Category names in a training CSV that mean "not something we route".
OUT_OF_SCOPE_CATEGORIES = frozenset({"oos", "out_of_scope"})
#: Fewer examples than this leave a category nothing to hold out for calibration and
#: too little to learn the ways customers phrase it.
MIN_EXAMPLES_PER_INTENT = 5
HOLDOUT_FRACTION = 0.2
#: Without out-of-scope examples, the share of correctly routed held-out messages
#: the threshold keeps; the least confident 5% go to a person instead.
IN_SCOPE_RECALL_TARGET = 0.95
#: Weight of the uniform distribution mixed into held-out labels when fitting the
#: temperature. 0.01 keeps confidence from collapsing to certainty on error-free
#: slices and changed calibration error on BANKING77 by less than 0.001.
LABEL_SMOOTHING = 0.01
_MAX_THRESHOLD_CANDIDATES = 1000
#: Scale of the (unit-length) sentence embedding beside the two unit-length TF-IDF
#: blocks. Chosen on an 80/20 split of BANKING77's bench training part (1.0 of 0.5-3).
EMBEDDING_WEIGHT = 1.0
#: The same scale for encoders measured apart, on tuning splits only (``bench/intents.py
#: --tune``). multilingual-e5-small: 3.0 of 0.5-8, the best mean of BANKING77 accuracy,
#: CLINC150 in-scope accuracy and bench/data's multilingual dev set (0.917, 0.937, 0.925;
#: 4.0: 0.921, 0.950, 0.900; 1.0: 0.906, 0.875, 0.300, its TF-IDF still outvoting the
#: meaning of a message in another language).
EMBEDDING_WEIGHTS: Mapping[str, float] = {E5: 3.0}
#: Share of a message's words that must be words of the training examples for their
#: TF-IDF to read it. Below it (another language, mostly) a model with an encoder routes
#: the message by the encoder's vector alone (:class:`MeaningHead`): the TF-IDF of
#: English examples reads a Spanish message's letters, not its words. Held-out shipped
#: examples: 5% below 0.5 (one-word "ty", "thx" at 0); bench/data's multilingual dev
#: set: none above 0.22.
MIN_WORD_COVERAGE = 1 / 3
FILE_FORMAT = "switchboard.intents/3"
#: Version 1 files (no encoder) and 2 (no meaning head) load unchanged.
READABLE_FORMATS = frozenset({"switchboard.intents/1", "switchboard.intents/2", FILE_FORMAT})


class IntentDataError(SwitchboardError):
    """Training data cannot be used; the message names the file, row or category."""


class IntentModelFileError(SwitchboardError):
    """A saved model file is not one this version of Switchboard wrote."""


@dataclass(frozen=True)
class IntentPrediction:
    """Where one message should go.

    ``confidence`` is the calibrated probability of the best in-scope intent,
    ``best_intent``, also when ``in_scope`` is False (then ``intent`` is
    ``out_of_scope`` and the confidence is the score that fell short of the threshold),
    so an admin can see how close a rejected message came, and to what.
    """

    text: str
    intent: str
    confidence: float
    in_scope: bool
    best_intent: str = ""


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


class IntentModel:
    """A trained router. Build one with :meth:`fit` or :meth:`load`."""

    def __init__(self, pipeline: Pipeline, *, temperature: float, threshold: float,
                 encoder: SentenceEncoder | None = None, embedding_weight: float = EMBEDDING_WEIGHT,
                 meaning: MeaningHead | None = None) -> None:
        self._pipeline = pipeline
        self._temperature = float(temperature)
        self._threshold = float(threshold)
        self._encoder = encoder
        self._embedding_weight = float(embedding_weight)
        self._meaning = meaning if encoder is not None else None
        self._words = _word_reader(pipeline) if self._meaning is not None else None
        classes = [str(label) for label in pipeline.classes_]
        self._in_scope_columns = np.array([i for i, c in enumerate(classes) if c != OUT_OF_SCOPE])
        self._oos_column = classes.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in classes else None
        self._labels = tuple(classes[i] for i in self._in_scope_columns)
        self._scorer = _LinearTfidfScorer.of(pipeline)

    @property
    def labels(self) -> tuple[str, ...]:
        """The in-scope intents this model can route to."""
        return self._labels

    @property
    def threshold(self) -> float:
        """Confidence below which a message is called out of scope (a message routed by
        the encoder alone, :class:`MeaningHead`, has the head's own)."""
        return self._threshold

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], *, out_of_scope: Sequence[str] = (),
            random_state: int = 0, encoder: SentenceEncoder | None = None,
            known_vectors: Mapping[str, np.ndarray] | None = None,
            embedding_weight: float | None = None) -> IntentModel:
        """Train on labelled messages; rows labelled ``oos``/``out_of_scope`` and the
        ``out_of_scope`` texts teach the model what not to route. With an ``encoder``
        its sentence embeddings are added to the TF-IDF features (they know that
        "cash" and "money" are near, which no n-gram of the training data says).

        A first model trained without a held-out slice calibrates the temperature and
        chooses the threshold on it; the shipped model is then retrained on every row,
        so no example the admin wrote is wasted.
        """
        texts, targets = _training_rows(texts, labels, out_of_scope)
        vectors = None if encoder is None else _embedded(encoder, texts, known_vectors or {})
        weight = embedding_weight_for(encoder) if embedding_weight is None else float(embedding_weight)
        # Splitting positions splits exactly as splitting the texts would (same seed).
        fit_rows, held_rows = train_test_split(np.arange(len(texts)), test_size=HOLDOUT_FRACTION,
                                               stratify=targets, random_state=random_state)

        def rows(positions: np.ndarray) -> tuple[list[str], list[str], np.ndarray | None]:
            return ([texts[i] for i in positions], [targets[i] for i in positions],
                    None if vectors is None else vectors[positions])

        probe = cls(_fit_pipeline(*rows(fit_rows), random_state, weight), temperature=1.0, threshold=0.0,
                    encoder=encoder, embedding_weight=weight)
        held_texts, held_targets, held_vectors = rows(held_rows)
        features, _ = probe._features(held_texts, held_vectors)
        temperature = fit_temperature(_class_scores(probe._pipeline, features),
                                      np.searchsorted(probe._pipeline.classes_, held_targets))
        probe._temperature = temperature
        best, confidence, eligible, _ = probe._assess(held_texts, held_vectors)
        truth = np.array(held_targets)
        correct = (np.array(probe._labels)[best] == truth) & eligible
        threshold = choose_threshold(confidence, correct, truth == OUT_OF_SCOPE)
        final_pipeline = _fit_pipeline(texts, targets, vectors, random_state, weight)
        meaning = None
        if vectors is not None:
            meaning = MeaningHead.fit(vectors, targets, fit_rows, held_rows, random_state)
        return cls(final_pipeline, temperature=temperature, threshold=threshold, encoder=encoder,
                   embedding_weight=weight, meaning=meaning)

    @property
    def encoder_name(self) -> str | None:
        """The sentence encoder whose embeddings are features, if any."""
        return self._encoder.name if self._encoder is not None else None

    def predict(self, texts: Sequence[str], *, threshold: float | None = None) -> list[IntentPrediction]:
        """Route each message. ``threshold`` overrides the trained one, to preview
        what a stricter or looser cut would do (0.0 routes every message the model
        has any evidence for, as a closed-set classifier would)."""
        if isinstance(texts, str):
            raise TypeError("predict() takes a list of messages; wrap a single message in [ ].")
        texts = list(texts)
        if not texts:
            return []
        best, confidence, eligible, cut = self._assess(texts)
        routable = eligible & (confidence >= (cut if threshold is None else threshold))
        return [
            IntentPrediction(text, self._labels[i] if ok else OUT_OF_SCOPE, float(conf), bool(ok), self._labels[i])
            for text, i, conf, ok in zip(texts, best, confidence, routable, strict=True)
        ]

    def word_coverage(self, texts: Sequence[str]) -> np.ndarray:
        """Share of each message's words that are words of the training examples: below
        :data:`MIN_WORD_COVERAGE` a model with an encoder reads the message by its vector
        alone (:class:`MeaningHead`). 1.0 for every message when the model has no word
        vectorizer."""
        reader = _word_reader(self._pipeline)
        return np.ones(len(texts)) if reader is None else _word_coverage(reader, list(texts))

    def save(self, path: Path | str) -> None:
        """The encoder is saved by name (its weights ship in a package), not by value."""
        meaning = self._meaning
        skops_io.dump({"format": FILE_FORMAT, "temperature": self._temperature,
                       "threshold": self._threshold, "pipeline": self._pipeline,
                       "encoder": self.encoder_name or "", "embedding_weight": self._embedding_weight,
                       "meaning": None if meaning is None else {
                           "classifier": meaning.classifier, "temperature": meaning.temperature,
                           "threshold": meaning.threshold}}, Path(path))

    @classmethod
    def load(cls, path: Path | str, *, encoder: SentenceEncoder | None = None) -> IntentModel:
        """Load a file written by :meth:`save`.

        skops rebuilds only types on its safe list (scikit-learn estimators, numpy and
        scipy arrays, builtins) and this refuses files that need anything else, so a
        model file from elsewhere cannot execute code here. What remains is trusting
        the file's contents as a model: a tampered file can misroute, not take over.
        """
        path = Path(path)
        if not path.is_file():
            raise IntentModelFileError(f"No intent model at {path}; check the path or train "
                                       "a model and save it there.")
        try:
            untrusted = skops_io.get_untrusted_types(file=path)
        except Exception as exc:  # noqa: BLE001 - a non-skops file raises zip, JSON or key errors
            raise IntentModelFileError(f"{path} is not an intent model file ({exc}); "
                                       "train a new model and save it again.") from None
        if untrusted:
            raise IntentModelFileError(
                f"{path} contains types an intent model never uses ({', '.join(untrusted)}), "
                "so it was not loaded. Train and save the model with Switchboard again."
            )
        try:
            saved = skops_io.load(path)
        except Exception as exc:  # noqa: BLE001 - version skew surfaces as many error types
            raise IntentModelFileError(f"{path} could not be loaded ({exc}); it was probably "
                                       "written by another version of scikit-learn: retrain it.") from None
        if not isinstance(saved, dict) or saved.get("format") not in READABLE_FORMATS:
            raise IntentModelFileError(f"{path} was not written by IntentModel.save(); "
                                       "train a new model and save it again.")
        name = saved.get("encoder") or None
        if name is not None and (encoder is None or encoder.name != name):
            encoder = _encoder_named(name, path)
        meaning = saved.get("meaning")
        return cls(saved["pipeline"], temperature=saved["temperature"], threshold=saved["threshold"],
                   encoder=encoder if name else None,
                   embedding_weight=saved.get("embedding_weight", EMBEDDING_WEIGHT),
                   meaning=MeaningHead(meaning["classifier"], float(meaning["temperature"]),
                                       float(meaning["threshold"])) if meaning else None)

    def _features(self, texts: list[str], vectors: np.ndarray | None = None) -> tuple[spmatrix, np.ndarray]:
        """The classifier's features, and which messages share any n-gram with the
        training data (embeddings give every message a vector, known words or not)."""
        lexical = _transform(self._pipeline, texts)
        known = lexical.getnnz(axis=1) > 0
        if self._encoder is None:
            return lexical, known
        if vectors is None:
            vectors = message_vectors(self._encoder, texts)
        return _with_embeddings(lexical, vectors, self._embedding_weight), known

    def _scores(self, texts: list[str], vectors: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each message's score per class, and which messages share any n-gram with
        the training data."""
        if self._scorer is None:
            features, known = self._features(texts, vectors)
            return _class_scores(self._pipeline, features), known
        if self._encoder is not None and vectors is None:
            vectors = message_vectors(self._encoder, texts)
        return self._scorer.scores(texts, vectors, self._embedding_weight)

    def _assess(self, texts: list[str], vectors: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Best in-scope intent (index into labels), its probability, whether anything
        other than the threshold rules routing out, and each message's threshold."""
        if self._encoder is not None and vectors is None:
            vectors = message_vectors(self._encoder, texts)
        scores, known = self._scores(texts, vectors)
        temperature = np.full(len(texts), self._temperature)
        cut = np.full(len(texts), self._threshold)
        if self._meaning is not None and self._words is not None and vectors is not None:
            foreign = _word_coverage(self._words, texts) < MIN_WORD_COVERAGE
            if foreign.any():
                scores[foreign] = self._meaning.scores(vectors[foreign])
                temperature[foreign], cut[foreign] = self._meaning.temperature, self._meaning.threshold
        best, confidence, eligible = _decide(scores, temperature, self._in_scope_columns, self._oos_column)
        # A message sharing no word or character sequence with the training data is
        # scored by the intercepts (and a vector of unknown words) alone; that is
        # ignorance, not an answer.
        return best, confidence, eligible & known, cut


@dataclass(frozen=True)
class MeaningHead:
    """A linear SVM over the encoder's vectors alone, with its own temperature and
    threshold, for messages whose words are mostly not the examples' words.

    Why: the combined model weighs a message's TF-IDF beside its vector. For a message in
    another language than the examples, the TF-IDF is noise (character n-grams its letters
    happen to share: "Hay un cargo" scored as a greeting by "hey"), and the noise flipped
    the intent the vector alone got right. On bench/data's multilingual dev set, this head
    alone was right for 39 messages of 40, the combined model's scores for 37. English
    messages are scored as before: on BANKING77 and CLINC150 the words add to the vector
    (bench/intents.py --tune, embeddings_only_closed_set)."""

    classifier: LinearSVC
    temperature: float
    threshold: float

    @classmethod
    def fit(cls, vectors: np.ndarray, targets: list[str], fit_rows: np.ndarray, held_rows: np.ndarray,
            random_state: int) -> MeaningHead:
        """Calibrated and thresholded on the rows the combined model is, then refitted on all."""
        unit, truth = _unit(vectors), np.array(targets)
        probe = LinearSVC(C=1.0, random_state=random_state).fit(unit[fit_rows], truth[fit_rows])
        classes = [str(label) for label in probe.classes_]
        in_scope = np.array([i for i, c in enumerate(classes) if c != OUT_OF_SCOPE])
        oos = classes.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in classes else None
        scores = _two_columns(probe.decision_function(unit[held_rows]))
        held = truth[held_rows]
        temperature = fit_temperature(scores, np.searchsorted(probe.classes_, held))
        best, confidence, eligible = _decide(scores, np.full(len(held), temperature), in_scope, oos)
        correct = (np.array(classes)[in_scope][best] == held) & eligible
        threshold = choose_threshold(confidence, correct, held == OUT_OF_SCOPE)
        final = LinearSVC(C=1.0, random_state=random_state).fit(unit, truth)
        return cls(final, temperature, threshold)

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """``decision_function`` of the vectors, from the coefficients (one message at a time,
        scikit-learn's input checks cost more than the product)."""
        coefficients = np.asarray(self.classifier.coef_, dtype=np.float64)
        scores = _unit(vectors).astype(np.float64) @ coefficients.T + self.classifier.intercept_
        return _two_columns(scores[:, 0] if scores.shape[1] == 1 else scores)


def _decide(scores: np.ndarray, temperature: np.ndarray, in_scope_columns: np.ndarray,
            oos_column: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best in-scope class (index among the in-scope ones), its calibrated probability,
    and whether the out-of-scope class (when trained) is less likely than it."""
    probabilities = softmax(scores / temperature[:, None], axis=1)
    in_scope = probabilities[:, in_scope_columns]
    best = in_scope.argmax(axis=1)
    confidence = in_scope[np.arange(len(scores)), best]
    eligible = np.ones(len(scores), dtype=bool)
    if oos_column is not None:
        eligible &= probabilities[:, oos_column] < confidence
    return best, confidence, eligible


_WordReader = tuple[Callable[[str], list[str]], Mapping[str, int]]


def _word_reader(pipeline: Pipeline) -> _WordReader | None:
    """The word TF-IDF's analyzer and vocabulary, to tell whether a message's words are
    the examples' words; None for a pipeline without a word vectorizer."""
    union = pipeline.steps[0][1]
    parts = [part for _, part in union.transformer_list] if isinstance(union, FeatureUnion) else [union]
    for part in parts:
        if isinstance(part, TfidfVectorizer) and part.analyzer == "word":
            return part.build_analyzer(), part.vocabulary_
    return None


def _word_coverage(reader: _WordReader, texts: list[str]) -> np.ndarray:
    """Share of each message's words (its single-word terms) that the examples have; 0
    for a message without words."""
    analyzer, vocabulary = reader
    shares = np.zeros(len(texts))
    for row, text in enumerate(texts):
        words = [term for term in analyzer(text) if " " not in term]
        if words:
            shares[row] = sum(word in vocabulary for word in words) / len(words)
    return shares


def _two_columns(scores: np.ndarray) -> np.ndarray:
    """One score column per class, also for two classes, where a linear SVM gives one."""
    return np.column_stack([np.zeros_like(scores), scores]) if scores.ndim == 1 else scores


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """Temperature scaling (Guo et al., 2017): one divisor for the classifier's scores
    that makes softmax probabilities match held-out accuracy. A single parameter
    barely overfits a small held-out slice and never changes which intent wins.

    The likelihood is taken against slightly smoothed labels: a held-out slice with
    no mistakes (common for a few well-separated intents) would otherwise drive the
    temperature to zero, making every answer, out-of-scope ones included, certain.
    """
    rows = np.arange(len(truth))

    def smoothed_negative_log_likelihood(log_temperature: float) -> float:
        log_probabilities = log_softmax(scores / np.exp(log_temperature), axis=1)
        expected = ((1 - LABEL_SMOOTHING) * log_probabilities[rows, truth]
                    + LABEL_SMOOTHING * log_probabilities.mean(axis=1))
        return float(-expected.mean())

    result = minimize_scalar(smoothed_negative_log_likelihood,
                             bounds=(np.log(1e-3), np.log(1e3)), method="bounded")
    return float(np.exp(result.x))


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, is_oos: np.ndarray) -> float:
    """The confidence cut for routing, from held-out rows the model was not trained on.

    With out-of-scope rows, the cut maximises right routing decisions, with in-scope
    and out-of-scope rows weighted equally as groups (a handful of ``oos`` rows among
    thousands must still count). A decision is right when a correctly classified
    message is accepted, or when an out-of-scope or misclassified one is rejected:
    routing either of those sends the customer a wrong answer.

    Without out-of-scope rows there is nothing to balance against: the admin's data
    says nothing about what else customers write. Counting only the model's own
    mistakes picks cuts so low that almost nothing is rejected, so instead the cut
    keeps :data:`IN_SCOPE_RECALL_TARGET` of the messages the model gets right and
    hands the least confident rest to a person.
    """
    if not is_oos.any():
        if not correct.any():
            return 1.0  # nothing held out was right: route nothing until retrained
        return float(np.quantile(confidence[correct], 1 - IN_SCOPE_RECALL_TARGET))
    levels = np.unique(confidence)
    if len(levels) > _MAX_THRESHOLD_CANDIDATES:
        levels = np.unique(np.quantile(confidence, np.linspace(0, 1, _MAX_THRESHOLD_CANDIDATES)))
    # Cut between observed confidences, not on them: a cut sitting on one held-out
    # example's score decides that example by accident.
    candidates = np.concatenate([[0.0], (levels[:-1] + levels[1:]) / 2, [np.nextafter(levels[-1], 2)]])
    accept = confidence[None, :] >= candidates[:, None]
    right = np.where(correct[None, :], accept, ~accept)
    score = (right[:, ~is_oos].mean(axis=1) + right[:, is_oos].mean(axis=1)) / 2
    best = np.flatnonzero(score == score.max())
    # Among equally good cuts take the middle one, away from both clusters' edges.
    return float(candidates[best[len(best) // 2]])


def _training_rows(texts: Sequence[str], labels: Sequence[str],
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


def _transform(pipeline: Pipeline, texts: list[str]) -> spmatrix:
    """What ``pipeline[:-1].transform(texts)`` gives, for the one or few messages a
    worker routes at a time. There scikit-learn's own bookkeeping cost more than the
    TF-IDF: a FeatureUnion runs its parts through joblib (inspecting every step's
    signature on each call) and every call re-checks the parameters and the input.
    The parts are called in turn and stacked as FeatureUnion stacks them; the model's
    parameters were checked when it was fitted and TF-IDF output is always finite."""
    features: object = texts
    with config_context(assume_finite=True, skip_parameter_validation=True):
        for _, step in pipeline.steps[:-1]:
            parts = step.transformer_list if isinstance(step, FeatureUnion) else None
            if parts is not None and not step.transformer_weights and all(
                    not isinstance(part, str) for _, part in parts):
                features = hstack([part.transform(features) for _, part in parts]).tocsr()
            else:
                features = step.transform(features)
    return features


class _LinearTfidfScorer:
    """A fitted pipeline of TF-IDF vectorizers and a linear SVM, applied to a few
    messages at a time from the fitted parameters themselves: each vectorizer's
    analyzer, vocabulary and idf weights, and the classifier's coefficients.

    Why: a worker routes one message at a time, and for one message scikit-learn's
    per-call checks of its input (narwhals' dataframe probes, ``check_array``, twice per
    vectorizer and once more in ``decision_function``) and the sparse matrices it builds
    and stacks cost 0.75 ms, about a twelfth of a message's whole processing, where the
    arithmetic takes a few microseconds. The scores are scikit-learn's to within
    floating-point rounding (``tests/core/test_intents.py`` compares them on held-out
    and odd messages); a pipeline of any other shape is scored by
    scikit-learn itself (:meth:`of` returns None)."""

    def __init__(self, parts: list[TfidfVectorizer], classifier: LinearSVC) -> None:
        widths = [len(part.vocabulary_) for part in parts]  # the union stacks the parts' columns in turn
        self._parts = [(part.build_analyzer(), part.vocabulary_, part.idf_ if part.use_idf else None,
                        part.sublinear_tf, part.binary, part.norm, offset)
                       for part, offset in zip(parts, np.cumsum([0, *widths[:-1]]), strict=True)]
        self._lexical_width = sum(widths)
        coefficients = np.asarray(classifier.coef_, dtype=np.float64)
        self._by_feature = np.ascontiguousarray(coefficients[:, :self._lexical_width].T)
        self._embedding = np.ascontiguousarray(coefficients[:, self._lexical_width:].T)
        self._intercept = np.asarray(classifier.intercept_, dtype=np.float64)

    @classmethod
    def of(cls, pipeline: Pipeline) -> _LinearTfidfScorer | None:
        """The scorer for ``pipeline`` if it is the shape :func:`_new_pipeline` builds
        (a union of TF-IDF vectorizers without weights, then a LinearSVC)."""
        if len(pipeline.steps) != 2:
            return None
        union, classifier = pipeline.steps[0][1], pipeline.steps[1][1]
        if not isinstance(union, FeatureUnion) or union.transformer_weights or type(classifier) is not LinearSVC:
            return None
        parts = [part for _, part in union.transformer_list]
        if not all(type(part) is TfidfVectorizer and part.norm in ("l1", "l2", None)
                   and np.dtype(part.dtype) == np.float64 for part in parts):
            return None
        return cls(parts, classifier)

    def scores(self, texts: list[str], vectors: np.ndarray | None,
               embedding_weight: float) -> tuple[np.ndarray, np.ndarray]:
        """What ``decision_function`` gives for the pipeline's features (one column per
        class, two for two classes), and whether each message had any known n-gram."""
        scores = np.empty((len(texts), self._by_feature.shape[1]))
        known = np.zeros(len(texts), dtype=bool)
        embedded = None
        if vectors is not None and self._embedding.shape[0]:  # as _with_embeddings weighs them
            unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            embedded = (embedding_weight * unit).astype(np.float64) @ self._embedding
        for row, text in enumerate(texts):
            total = self._intercept.copy() if embedded is None else self._intercept + embedded[row]
            for analyzer, vocabulary, idf, sublinear, binary, norm, offset in self._parts:
                counts = Counter(index for index in map(vocabulary.get, analyzer(text)) if index is not None)
                if not counts:
                    continue
                known[row] = True
                indices = np.fromiter(sorted(counts), dtype=np.intp, count=len(counts))
                weights = (np.ones(len(indices)) if binary
                           else np.fromiter((counts[i] for i in indices), dtype=np.float64, count=len(indices)))
                if sublinear:
                    weights = np.log(weights) + 1
                if idf is not None:
                    weights *= idf[indices]
                if norm == "l2":
                    weights /= np.sqrt(weights @ weights)
                elif norm == "l1":
                    weights /= np.abs(weights).sum()
                total += weights @ self._by_feature[indices + offset]
            scores[row] = total
        if scores.shape[1] == 1:
            scores = np.column_stack([np.zeros(len(texts)), scores[:, 0]])
        return scores, known


def _class_scores(pipeline: Pipeline, features: spmatrix) -> np.ndarray:
    """One score column per class, also for two classes, where scikit-learn gives one."""
    with config_context(assume_finite=True, skip_parameter_validation=True):
        scores = pipeline[-1].decision_function(features)
    if scores.ndim == 1:
        scores = np.column_stack([np.zeros_like(scores), scores])
    return scores


def _fit_pipeline(texts: list[str], targets: list[str], vectors: np.ndarray | None,
                  random_state: int, embedding_weight: float = EMBEDDING_WEIGHT) -> Pipeline:
    """TF-IDF and classifier fitted together; with ``vectors``, the classifier sees
    them beside the TF-IDF features (so the pipeline only stores the fitted parts)."""
    pipeline = _new_pipeline(random_state)
    if vectors is None:
        return pipeline.fit(texts, targets)
    lexical = pipeline[:-1].fit_transform(texts)
    pipeline[-1].fit(_with_embeddings(lexical, vectors, embedding_weight), targets)
    return pipeline


def embedding_weight_for(encoder: SentenceEncoder | None) -> float:
    """The scale of ``encoder``'s vectors beside the TF-IDF blocks."""
    return EMBEDDING_WEIGHTS.get(encoder.name, EMBEDDING_WEIGHT) if encoder is not None else EMBEDDING_WEIGHT


def _embedded(encoder: SentenceEncoder, texts: list[str], known: Mapping[str, np.ndarray]) -> np.ndarray:
    """The examples' vectors, made as a message's are, taken from ``known`` (the shipped
    examples' vectors) where it has them."""
    missing = [text for text in dict.fromkeys(texts) if text not in known]
    made = dict(zip(missing, message_vectors(encoder, missing), strict=True)) if missing else {}
    return np.stack([known[text] if text in known else made[text] for text in texts]).astype(np.float32)


def message_vectors(encoder: SentenceEncoder, texts: list[str]) -> np.ndarray:
    """Messages and examples alike embedded as questions (:func:`queries`: E5's
    "query: " on both sides, as it recommends for classification), and exactly as
    retrieval embeds the same message (vault tokens without their numbers), so the
    search that follows routing finds the vector in the encoder's cache."""
    return queries(encoder, [without_token_numbers(text) for text in texts])


def _with_embeddings(lexical: spmatrix, vectors: np.ndarray, weight: float) -> spmatrix:
    return hstack([lexical, csr_matrix(weight * _unit(vectors))], format="csr")


def _encoder_named(name: str, path: Path) -> SentenceEncoder:
    try:
        return encoder_named(name)
    except EmbeddingsUnavailableError as exc:
        raise IntentModelFileError(f"{path} routes with the sentence encoder {name!r}, which cannot be "
                                   f"loaded here: {exc}") from None


def _new_pipeline(random_state: int) -> Pipeline:
    return make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode"),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                            strip_accents="unicode"),
        ),
        LinearSVC(C=1.0, random_state=random_state),
    )
