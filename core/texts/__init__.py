"""The customer texts: message catalogs and the texts each module registers (``i18n``),
and machine translation between the customer's and the agents' languages."""
