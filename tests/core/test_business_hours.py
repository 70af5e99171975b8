"""Business hours for voice: when a caller is put through, and when offered a call back."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from switchboard.core.business_hours import BadHours, is_open, parse
from switchboard.core.errors import ConfigError
from switchboard.core.settings import load_settings

# Monday 23 November 2026.
MONDAY_NOON_UTC = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_open_inside_a_window_of_the_day_in_the_company_zone() -> None:
    spec = "Mon-Fri 09:00-17:00, Sat 10:00-14:00"
    assert is_open(spec, "Europe/London", MONDAY_NOON_UTC)
    assert not is_open(spec, "America/Los_Angeles", MONDAY_NOON_UTC)  # 04:00 there
    assert not is_open(spec, "UTC", datetime(2026, 11, 29, 12, 0, tzinfo=UTC))  # a Sunday
    assert is_open(spec, "UTC", datetime(2026, 11, 28, 13, 59, tzinfo=UTC))  # Saturday
    assert not is_open(spec, "UTC", datetime(2026, 11, 23, 17, 0, tzinfo=UTC))  # closing time is closed


def test_no_hours_means_someone_always_answers() -> None:
    assert is_open(None, "UTC", MONDAY_NOON_UTC) and is_open("", "UTC", MONDAY_NOON_UTC)


def test_a_day_range_may_wrap_over_the_weekend() -> None:
    [window] = parse("Sat-Mon 08:00-12:00")
    assert window.days == frozenset({5, 6, 0})


@pytest.mark.parametrize(("spec", "named"), [
    ("weekdays 9-5", "day range"), ("Mon-Fry 09:00-17:00", "days are"), ("Mon 25:00-26:00", "HH:MM"),
    ("Mon 22:00-06:00", "over midnight"),
])
def test_a_setting_that_cannot_be_read_says_what_is_expected(spec: str, named: str) -> None:
    with pytest.raises(BadHours, match=named):
        parse(spec)


@pytest.mark.parametrize(("variable", "value"), [
    ("SWITCHBOARD_VOICE_HOURS", "9 to 5"), ("SWITCHBOARD_VOICE_TIMEZONE", "Mars/Olympus"),
    ("SWITCHBOARD_VOICE_SUPPORT_NUMBER", "020 7946 0958"), ("SWITCHBOARD_VOICE_LANGUAGE", "english"),
])
def test_bad_voice_settings_stop_the_start_naming_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings({"SWITCHBOARD_DATA_DIR": str(tmp_path), variable: value})
