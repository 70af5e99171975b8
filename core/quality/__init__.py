"""Quality of what is said to customers: guardrails on every reply before it is sent
(risky promises, required disclaimers, the account's tone), shared by the bot, the
Zendesk sidebar, the command line and the live call assist."""
