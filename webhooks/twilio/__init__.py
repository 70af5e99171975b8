"""Twilio Messaging webhooks: inbound SMS/WhatsApp messages and status callbacks."""
from .view import blueprint

__all__ = ["blueprint"]
