"""The inbound pipeline, from a customer's message to the bot's reply on the record
(``inbound``), and the same decision path tried offline on questions (``evaluation``)."""
