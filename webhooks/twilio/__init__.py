"""Twilio webhooks: inbound SMS/WhatsApp messages and status callbacks, and voice calls."""
from . import voice  # noqa: F401 - registers the voice URLs on the blueprint
from .view import blueprint

__all__ = ["blueprint"]
