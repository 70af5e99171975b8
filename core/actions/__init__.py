"""Governed actions: back-office actions (order status, refund, address change,
reschedule, notes) run by the bot, agents or an LLM under a policy enforced in code.

- ``registry``: each action declared once (schema, connector, risk, wording);
- ``policy``: the validated policy file (roles, limits, windows, approval);
- ``engine``: request → checks → verification / confirmation / approval → execution;
- ``verification``: one-time codes to the phone on file;
- ``injection``: flags instructions hidden in untrusted text;
- ``selfservice`` / ``tools``: customer messages and LLM tool calls into requests.
"""
from switchboard.core.actions.engine import ActionRequest, Governor, Outcome, Principal

__all__ = ["ActionRequest", "Governor", "Outcome", "Principal"]
