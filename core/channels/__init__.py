"""Channels with a domain of their own: the web chat's visitors, tokens and deliveries
(``webchat``), and a reply to a visitor who left (``webchat_away``). Voice lives with
the other call modules in ``calls``."""
