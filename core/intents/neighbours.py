"""The votes of a message's nearest training examples, added to the classifier's scores.

Why: the linear SVM draws one boundary per intent through the TF-IDF and the sentence
vectors together. Intents asked alike (banking77's many card and transfer intents)
overlap there, and the boundary puts a message that is nearly word for word one of the
examples on the other side. Its nearest examples, by the encoder's cosine, still name the
right intent. On a tuning fifth of BANKING77's bench training part (never the reported
fifth) the SVM alone routed 0.917 right, its nearest five examples alone 0.900, and the
two added 0.930; every neighbourhood of 3 to 7 examples, softness 0.02 to 0.1 and weight
0.5 to 1 gave 0.925 to 0.932 (``bench/intents.py --tune``).

The votes are a probability over the intents (each neighbour weighted by how close it
is), so adding them moves the SVM's scores by at most their weight. Where they help is
the model's own data's to say: fitting tries each of :data:`WEIGHTS` on the held-out rows
it calibrates on (``model._calibration``), and the temperature and threshold are fitted
on the sum, as it is used. Out-of-scope examples vote for out of scope: without them,
every message the model should reject was drawn towards some intent.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from switchboard.core.intents.scoring import unit_rows
from switchboard.core.knowledge.embeddings import nearest

#: Examples that vote, and how softly: a neighbour at cosine c weighs exp((c - 1) / SOFTNESS).
K = 5
SOFTNESS = 0.05
#: Scales of the votes (they sum to 1) beside the SVM's decision values that fitting a
#: model tries (``model._calibration``), lightest first: 0 is the SVM alone.
WEIGHTS = (0.0, 0.5, 1.0)
#: Messages compared at once: a fit's held-out fold of CLINC150 (7,500 rows against
#: 7,500 examples) would otherwise make a 225 MB similarity matrix and as much again to
#: rank it (as :mod:`.familiarity` chunks its fit).
_CHUNK = 1024


@dataclass(frozen=True, eq=False)
class Neighbours:
    """Unit example vectors (float32), each one's score column, the number of columns, and
    the votes' scale beside the SVM's scores."""

    vectors: np.ndarray
    columns: np.ndarray
    width: int
    weight: float = 1.0

    @classmethod
    def of(cls, vectors: np.ndarray, intents: Sequence[str], classes: Sequence[str], *,
           unit: bool = False, weight: float = 1.0) -> Neighbours:
        """The examples of ``intents`` that are among ``classes`` (the model's score
        columns, in order); ``unit`` says ``vectors`` are unit rows already (then they are
        kept, not copied)."""
        index = {str(label): column for column, label in enumerate(classes)}
        labels = [str(intent) for intent in intents]
        keep = np.array([label in index for label in labels], dtype=bool)
        rows = np.asarray(vectors, dtype=np.float32)
        rows = rows if unit else unit_rows(rows)
        if not keep.all():
            rows = rows[keep]
        columns = np.array([index[label] for label in labels if label in index], dtype=np.intp)
        return cls(rows, columns, len(index), weight)

    def votes(self, vectors: np.ndarray) -> np.ndarray:
        """One row per message, one column per class, summing to 1: the weighted share of
        its :data:`K` nearest examples in each class (zeros for a model without examples)."""
        votes = np.zeros((len(vectors), self.width))
        if not len(self.vectors) or not len(vectors):
            return votes
        unit = unit_rows(np.asarray(vectors, dtype=np.float32))
        for start in range(0, len(unit), _CHUNK):
            examples, weights = nearest(unit[start:start + _CHUNK] @ self.vectors.T, K, SOFTNESS)
            rows = np.broadcast_to(np.arange(len(examples))[:, None], examples.shape)
            np.add.at(votes[start:start + _CHUNK], (rows, self.columns[examples]), weights)
        return votes / np.maximum(votes.sum(axis=1, keepdims=True), 1e-300)  # exact sums of 1 for one class
