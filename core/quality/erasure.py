"""A customer's erasure reaches their conversations' QA scores: the evidence quotes
replies to them (an agent may have repeated their name or address), so it goes; the
verdicts and scores stay, as the metrics' aggregates do."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.store.models import ConversationScore


def forget_conversations(session: Session, account_id: int, conversation_ids: Sequence[int]) -> int:
    """Blank the evidence of every score of these conversations; returns how many rows changed."""
    if not conversation_ids:
        return 0
    rows = session.scalars(select(ConversationScore).where(ConversationScore.account_id == account_id,
                                                           ConversationScore.conversation_id.in_(conversation_ids)))
    changed = 0
    for row in rows:
        row.criteria = [{**c, "evidence": [], "erased": True} for c in row.criteria]
        changed += 1
    session.flush()
    return changed
