"""Zendesk webhooks: event subscriptions (zen:event-type:…) and trigger webhooks."""
from .view import blueprint

__all__ = ["blueprint"]
