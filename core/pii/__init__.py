"""Personal data in customers' messages: found and replaced by tokens (``redaction``), and
kept sealed for the few who may see it (``vault``)."""
