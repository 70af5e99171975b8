"""Vendor-side set-up files (Slack app manifest, Zendesk webhook and triggers, Twilio
settings), shipped with the package so commands find them in any install."""
