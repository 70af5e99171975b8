"""What the self-service bot does with a message: its decision (``decisions``: answer, ask or
hand over), the escalation policy and its file, and the reply sent on the customer's
channel (``outbound``, shared with the governed actions' answers)."""
