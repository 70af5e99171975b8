"""Twilio webhooks: inbound SMS/WhatsApp messages and status callbacks, and voice calls."""
from switchboard.vendors.twilio import voice  # noqa: F401 - registers the voice URLs on the blueprint
from switchboard.vendors.twilio.view import blueprint

__all__ = ["blueprint"]
