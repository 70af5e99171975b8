"""Reading a customer's message without a model call: its intent, mood and language
(``enrichment``), the request inside a greeting (``small_talk``), and what it says
about the last answer (``setbacks``)."""
