"""What the domain keeps and how it writes it: the tables (``models``, one module per
area), the one insert-or-fetch (``rows``), what one inbox event loaded (``unit_of_work``),
the inbox and its shared commits (``inbox``, ``group_commit``), the outbox of vendor calls
(``outbox``), stored artifacts (``artifacts``), the audit trail (``audit``) and files only
their owner reads. SQLAlchemy and the standard library: no Flask, nothing of the core
above it."""
