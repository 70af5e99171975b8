"""The helpdesk side: handing a conversation to a person (``handoff``), which group gets it
(``routing``), what happens around a ticket (``tickets``), agent assist (``assist``) and
the summary an agent reads first (``summary``)."""
