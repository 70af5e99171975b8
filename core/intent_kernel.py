"""The sentence encoder's vectors as the intent classifier sees them: centred, then
mapped into an approximate RBF-kernel space (Nyström), so the linear classifier beside
the TF-IDF features draws curved boundaries between intents.

Why: multilingual-e5-small's vectors all lie in a narrow cone (a mean cosine of 0.84
between BANKING77 messages), and intents are not linearly separable in it. On a split of
BANKING77's bench training part (never the reported one), an RBF SVM on the centred
vectors alone was right for 0.918 of the messages, a linear one for 0.911; TF-IDF plus
these features, 0.924, where TF-IDF plus the raw vectors made 0.917.

Fitted with scikit-learn's Nystroem and kept as plain arrays (float32: the landmarks
and projection of 1,000 components are 5.5 MB in a saved model instead of 11), applied
with numpy: a message costs one 384 x 1,000 and one 1,000 x 1,000 product, no
scikit-learn per-call checks, and a saved model needs no type beyond numpy's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Landmarks of the approximation (fewer when the model has fewer examples).
COMPONENTS = 1000
#: The RBF kernel's width over centred unit vectors. Chosen on the tuning split.
GAMMA = 1.0


@dataclass(frozen=True)
class KernelFeatures:
    """exp(-gamma |x - l|^2) against each landmark ``l``, projected so that the features'
    dot products approximate the kernel between two messages."""

    mean: np.ndarray
    landmarks: np.ndarray
    projection: np.ndarray
    gamma: float

    @classmethod
    def fit(cls, vectors: np.ndarray, *, random_state: int, components: int = COMPONENTS,
            gamma: float = GAMMA) -> KernelFeatures:
        from sklearn.kernel_approximation import Nystroem  # with the model, as the rest of scikit-learn

        mean = vectors.astype(np.float64).mean(axis=0)
        centred = _unit(vectors.astype(np.float64) - mean)
        nystroem = Nystroem(gamma=gamma, n_components=min(components, len(vectors)),
                            random_state=random_state).fit(centred)
        return cls(mean.astype(np.float32), np.asarray(nystroem.components_, dtype=np.float32),
                   np.ascontiguousarray(nystroem.normalization_.T, dtype=np.float32), float(gamma))

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        centred = _unit(vectors.astype(np.float64) - self.mean)
        landmarks = self.landmarks.astype(np.float64)
        distances = ((centred ** 2).sum(axis=1)[:, None] + (landmarks ** 2).sum(axis=1)[None, :]
                     - 2 * centred @ landmarks.T)
        return np.exp(-self.gamma * np.maximum(distances, 0.0)) @ self.projection.astype(np.float64)

    def saved(self) -> dict[str, Any]:
        """Plain arrays and a float, all types skops loads without trusting anything new."""
        return {"mean": self.mean, "landmarks": self.landmarks, "projection": self.projection,
                "gamma": self.gamma}

    @classmethod
    def from_saved(cls, saved: dict[str, Any]) -> KernelFeatures:
        return cls(np.asarray(saved["mean"], dtype=np.float32), np.asarray(saved["landmarks"], dtype=np.float32),
                   np.asarray(saved["projection"], dtype=np.float32), float(saved["gamma"]))


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
