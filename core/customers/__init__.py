"""Who is writing, on every channel: one customer per person (``identity``), two found to
be one (``merge``), an address proven by a code (``address_verification``), and the
conversations and their cross-channel ``timeline``."""
