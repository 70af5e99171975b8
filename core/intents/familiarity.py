"""Whether a message is like the examples of the intent it is routed to.

The intent model is a classifier: it says which of the intents it knows a message is
most like, and its calibrated confidence says how sure it is of that choice *among
them*. A help center's customers ask about far more than the shipped intents cover,
and a question from another domain is routed confidently to whichever intent sits
nearest: on StackFAQ's tuning questions "How safe is my data on dropbox?" reads as
legal (0.83), "I need to know access rights for people to my google drive documents"
as legal (0.93), "Any way to contact a user on Github?" as a request for a person
(0.80); before familiarity each such question was handed over
instead of answered (5 % of that set's first questions, 4-6 % of banking77's and
CLINC150's). The shipped out-of-scope examples are small talk, errands and a few
other trades' everyday questions, so the out-of-scope class cannot know every other
help center's topics.

So the model also keeps its examples' vectors, and a message is *familiar* to an
intent when its nearest example of that intent is at least as close as the intent's
own examples are to each other: the floor is a low quantile (:data:`QUANTILE`) of each
example's cosine to its nearest other example of the same intent. Escalation triggers
that fire on an intent (legal, fraud, "a person please") need the message to be
familiar; keywords still fire whatever the model says. Routing itself is unchanged.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from switchboard.core.intents.scoring import unit_rows

#: The share of an intent's own examples whose nearest same-intent neighbour lies below
#: the floor. Chosen on messages written for the purpose (40 English requests for a
#: person, legal matters, fraud and complaints, and bench/data's multilingual dev set's
#: 11 in five languages) against the tuning halves' questions of StackFAQ, banking77 and
#: CLINC150's train, not on any reported set: at 0.05 one of the 46 the model routed to
#: those intents became unfamiliar ("can a member of staff call me back", which the
#: policy's keywords now catch) and StackFAQ's 29 intent firings fell to 2; at 0.10 two
#: were lost, at 0.15 five (one Italian); at 0.02 (each intent's lowest) 10 of the 29 stayed.
QUANTILE = 0.05
#: Rows compared at once when fitting (a 10,000-example model would otherwise make a
#: 400 MB similarity matrix).
_CHUNK = 1024


@dataclass(frozen=True, eq=False)
class Familiarity:
    """The examples' unit vectors (float32), each one's intent, and each intent's floor."""

    vectors: np.ndarray
    intents: np.ndarray  # str, one per row of ``vectors``
    floors: dict[str, float]

    @classmethod
    def fit(cls, vectors: np.ndarray, intents: Sequence[str], *, quantile: float = QUANTILE) -> Familiarity:
        """Each intent's floor from its examples, each left out of its own neighbours.
        An intent with a single example has no neighbour to measure and no floor (every
        message is familiar to it)."""
        unit = unit_rows(np.asarray(vectors, dtype=np.float32))
        labels = np.asarray(list(intents), dtype=object)
        nearest = np.full(len(labels), -1.0, dtype=np.float32)
        for start in range(0, len(labels), _CHUNK):
            block = unit[start:start + _CHUNK] @ unit.T
            rows = np.arange(block.shape[0])
            block[rows, rows + start] = -1.0  # not its own neighbour
            same = labels[start:start + _CHUNK, None] == labels[None, :]
            nearest[start:start + _CHUNK] = np.where(same, block, -1.0).max(axis=1)
        floors = {}
        for intent in dict.fromkeys(labels):
            own = nearest[(labels == intent) & (nearest > -1.0)]
            if own.size:
                floors[str(intent)] = float(np.quantile(own, quantile, method="lower"))
        return cls(unit, labels.astype(str), floors)

    def familiar(self, vectors: np.ndarray, intents: Sequence[str]) -> np.ndarray:
        """Whether each vector's nearest example of its intent (``intents[i]``) reaches
        that intent's floor. An intent the model has no floor for is familiar."""
        unit = unit_rows(np.asarray(vectors, dtype=np.float32))
        cosines = unit @ self.vectors.T
        verdict = np.ones(len(intents), dtype=bool)
        for row, intent in enumerate(intents):
            floor = self.floors.get(intent)
            if floor is not None:
                mine = self.intents == intent
                verdict[row] = bool(mine.any()) and float(cosines[row, mine].max()) >= floor
        return verdict
