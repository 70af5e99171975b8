"""Zendesk webhooks: event subscriptions (zen:event-type:…) and trigger webhooks."""
from switchboard.vendors.zendesk.view import blueprint

__all__ = ["blueprint"]
