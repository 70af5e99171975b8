"""When a message may reach a customer: never inside quiet hours of *their* time zone.

A customer without a recorded time zone gets the one their phone number implies when
the number has exactly one (phonenumbers' offline geodata), otherwise UTC.
"""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezones


def parse(spec: str) -> tuple[time, time]:
    """"21:00-08:00" → (21:00, 08:00); the window may run over midnight."""
    start, end = spec.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


@lru_cache(maxsize=512)
def zone(name: str | None, phone: str | None = None) -> ZoneInfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if phone:
        try:
            zones = phone_timezones.time_zones_for_number(phonenumbers.parse(phone))
        except phonenumbers.NumberParseException:
            zones = ()
        if len(zones) == 1 and zones[0] != "Etc/Unknown":
            return ZoneInfo(zones[0])
    return ZoneInfo("UTC")


def _inside(local: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def next_allowed(now: datetime, tz: ZoneInfo, spec: str | None) -> datetime | None:
    """None when ``now`` is outside quiet hours; otherwise the UTC time they end."""
    if not spec:
        return None
    start, end = parse(spec)
    local = now.astimezone(tz)
    if not _inside(local.time(), start, end):
        return None
    candidate = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate = candidate + timedelta(days=1)
    # Re-attach the zone so a DST change overnight lands on the wall-clock end time.
    candidate = datetime.combine(candidate.date(), end, tzinfo=tz)
    return candidate.astimezone(UTC)
