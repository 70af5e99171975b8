"""Each vendor in one folder, its inbound (the webhook: verify, schemas, view, events)
and its outbound (the connector the core calls through its ports) together:
``twilio``, ``zendesk``, ``slack``, ``openai``. ``outbound`` is what every connector
shares, ``http_action`` the company's own systems, ``webhooks`` registers the doors."""
