"""What the webhooks and the apps hand to the workers, without importing the tasks.

``switchboard.tasks`` (an entry point: Celery, the embedded runner) imports the core,
the webhooks' and apps' handler tables; the webhooks and apps, below it, reach it only
through the two hand-offs installed here on each app by ``tasks.init_app`` (which
``create_app`` calls), so imports keep going one way.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app

#: Where ``install`` keeps this app's hand-offs.
KEY = "switchboard.intake.enqueue"


@dataclass(frozen=True)
class HandOffs:
    """``event(id)``: a committed inbox event to process (never raises: an event whose
    publish fails stays in the inbox for the sweep); ``outreach_send(id)``: an approved
    campaign to send, False when the queue is unreachable (beat resumes it)."""

    event: Callable[[int], None]
    outreach_send: Callable[[int], bool]


def install(app: Flask, hand_offs: HandOffs) -> None:
    app.extensions[KEY] = hand_offs


def event(event_id: int) -> None:
    """Hand a committed inbox event to the workers (see :class:`HandOffs`)."""
    _installed().event(event_id)


def outreach_send(campaign_id: int) -> bool:
    """Hand an approved campaign to the senders (see :class:`HandOffs`)."""
    return _installed().outreach_send(campaign_id)


def _installed() -> HandOffs:
    hand_offs = current_app.extensions.get(KEY)
    if hand_offs is None:
        raise RuntimeError("nothing takes work for the workers in this app: build it with "
                           "switchboard.app.create_app, which installs switchboard.tasks' hand-offs")
    return hand_offs
