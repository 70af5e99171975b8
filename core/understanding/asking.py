"""How a message asks, in the languages the texts are written in: a question word first
("how much is that?" is a question, not thanks) or a request or problem stated ("I can't
log in", "quiero cancelar"), which asks as a question word does though it is no question.
"""
from __future__ import annotations

import re

#: How a question ends: Chinese and Japanese, and Arabic, have question marks of their own.
QUESTION_MARKS = ("?", "\uff1f", "\u061f")
#: How a question opens in the catalogs' languages: "how much is that?" is not thanks.
_ASKING = re.compile(r"^\W*(?:and\s+|y\s+|et\s+|und\s+|e\s+)?(?:how|what|which|where|when|why|who|can|could|do|does|"
                     r"is|are|will|cu[aá]nto|c[oó]mo|qu[eé]|d[oó]nde|cu[aá]ndo|por\s*qu[eé]|combien|comment|quand|"
                     r"o[uù]|pourquoi|quel|wie|was|wo|wann|warum|welche|quanto|come|dove|quando|perch[eé]|onde)\b",
                     re.IGNORECASE)

#: How a request or a problem opens ("I can't log in", "I want to cancel"): it asks as a
#: question word does, though it is no question.
_REQUESTING = re.compile(
    r"^\W*(?:i\s+can'?t|i\s+cannot|i\s+can\s+not|i'?m\s+unable|i\s+am\s+unable|i\s+need|i\s+want|i'?d\s+like|"
    r"i\s+would\s+like|no\s+puedo|quiero|necesito|je\s+ne\s+peux\s+pas|je\s+n'arrive\s+pas|je\s+veux|"
    r"je\s+voudrais|ich\s+kann|ich\s+will|ich\s+m[oö]chte|ich\s+brauche|n[aã]o\s+consigo|n[aã]o\s+posso|quero|"
    r"preciso|non\s+riesco|non\s+posso|voglio|vorrei)\b", re.IGNORECASE)


def asks(question: str) -> bool:
    """Whether ``question`` is worded as a question: a question mark (QUESTION_MARKS), or
    an opening question word in one of the catalogs' languages."""
    return question.rstrip().endswith(QUESTION_MARKS) or bool(_ASKING.match(question))


def opens_asking(question: str) -> bool:
    """Whether ``question`` opens with a question word or a stated request."""
    return bool(_ASKING.match(question) or _REQUESTING.match(question))
