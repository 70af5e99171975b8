"""Proactive outreach: campaigns that reach customers by SMS or WhatsApp before they
call, drafted per segment, approved by a supervisor in Slack, and sent exactly once per
customer with consent, quiet hours, WhatsApp's template rule and a rate limit.

- ``spec``: what a campaign asks for (validated, errors name the field);
- ``audience``: which customers it selects and how it splits them into segments;
- ``drafts``: the personalised text, with disclosure and opt-out wording;
- ``campaigns``: the lifecycle (create, build, approve/reject/edit, expire, schedule);
- ``sending``: the send loop and the delivery status of each recipient;
- ``quiet_hours``, ``ratelimit``: when and how fast a message may go out.
"""
