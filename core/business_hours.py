"""When people answer the phone: "Mon-Fri 09:00-17:00, Sat 10:00-14:00" in the
company's time zone.

Voice needs this where SMS does not: an SMS handed over at night waits in the queue and
the customer reads the answer in the morning, but a caller put through to an empty
support line hears it ring out. Outside these hours the caller is offered a call back.
No hours configured means someone always answers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$")


class BadHours(ValueError):
    """A business-hours setting that cannot be read; the message says the expected form."""


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # 0 = Monday, as datetime.weekday()
    start: time
    end: time

    def covers(self, local: datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time() < self.end


def parse(spec: str) -> tuple[Window, ...]:
    """"Mon-Fri 09:00-17:00, Sat 10:00-14:00" → its windows; raises BadHours naming the
    part that is wrong. A window may not run over midnight: write two."""
    windows = []
    for part in (p.strip() for p in spec.split(",")):
        found = _WINDOW.match(part.lower())
        if not found:
            raise BadHours(f"{part!r} is not a day range and hours, e.g. 'Mon-Fri 09:00-17:00'")
        first, last = found["first"], found["last"] or found["first"]
        if first not in DAYS or last not in DAYS:
            raise BadHours(f"{part!r}: days are Mon, Tue, Wed, Thu, Fri, Sat, Sun")
        try:
            start, end = time.fromisoformat(found["start"]), time.fromisoformat(found["end"])
        except ValueError:
            raise BadHours(f"{part!r}: hours are HH:MM from 00:00 to 23:59") from None
        if end <= start:
            raise BadHours(f"{part!r} ends before it starts: split a window over midnight in two")
        a, b = DAYS.index(first), DAYS.index(last)
        days = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        windows.append(Window(frozenset(days), start, end))
    return tuple(windows)


def is_open(spec: str | None, zone: str, now: datetime) -> bool:
    """Whether someone answers at ``now`` (aware); always, when no hours are set."""
    if not spec:
        return True
    local = now.astimezone(ZoneInfo(zone))
    return any(window.covers(local) for window in parse(spec))
