"""Scoring messages with a fitted TF-IDF pipeline fast enough for one message at a
time, and reading which of a message's words the training examples know.

A worker routes one message at a time, where scikit-learn's per-call checks cost more
than the arithmetic: these functions apply the fitted parameters directly and give
scikit-learn's scores to within rounding (``tests/core/test_intents.py`` compares them).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

import numpy as np
from scipy.sparse import hstack, spmatrix
from sklearn import config_context
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC


def transform(pipeline: Pipeline, texts: list[str]) -> spmatrix:
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


class LinearTfidfScorer:
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
    def of(cls, pipeline: Pipeline) -> LinearTfidfScorer | None:
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
            unit = unit_rows(vectors)
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


def class_scores(pipeline: Pipeline, features: spmatrix) -> np.ndarray:
    """One score column per class, also for two classes, where scikit-learn gives one."""
    with config_context(assume_finite=True, skip_parameter_validation=True):
        scores = pipeline[-1].decision_function(features)
    if scores.ndim == 1:
        scores = np.column_stack([np.zeros_like(scores), scores])
    return scores


def two_columns(scores: np.ndarray) -> np.ndarray:
    """One score column per class, also for two classes, where a linear SVM gives one."""
    return np.column_stack([np.zeros_like(scores), scores]) if scores.ndim == 1 else scores


WordReader = tuple[Callable[[str], list[str]], Mapping[str, int]]


def word_reader(pipeline: Pipeline) -> WordReader | None:
    """The word TF-IDF's analyzer and vocabulary, to tell whether a message's words are
    the examples' words; None for a pipeline without a word vectorizer."""
    union = pipeline.steps[0][1]
    parts = [part for _, part in union.transformer_list] if isinstance(union, FeatureUnion) else [union]
    for part in parts:
        if isinstance(part, TfidfVectorizer) and part.analyzer == "word":
            return part.build_analyzer(), part.vocabulary_
    return None


def word_coverage(reader: WordReader, texts: list[str]) -> np.ndarray:
    """Share of each message's words (its single-word terms) that the examples have; 0
    for a message without words."""
    analyzer, vocabulary = reader
    shares = np.zeros(len(texts))
    for row, text in enumerate(texts):
        words = [term for term in analyzer(text) if " " not in term]
        if words:
            shares[row] = sum(word in vocabulary for word in words) / len(words)
    return shares


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero): cosines become dot products."""
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
