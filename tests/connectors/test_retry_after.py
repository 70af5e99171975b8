"""One reading of a vendor's "wait before retrying" for every connector."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from switchboard.vendors.outbound import retry_after_seconds


def test_delta_seconds_are_read_as_given() -> None:
    assert retry_after_seconds("17", 5.0) == 17.0
    assert retry_after_seconds(" 2.5 ", 5.0) == 2.5


def test_an_http_date_is_the_time_left_until_it() -> None:
    header = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert 85 <= retry_after_seconds(header, 5.0) <= 90


def test_absent_unreadable_past_or_zero_means_the_default() -> None:
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=5), usegmt=True)
    for header in (None, "", "soon", "nan", "inf", "0", "-3", past):
        assert retry_after_seconds(header, 5.0) == 5.0, header


def test_openai_milliseconds_come_first_and_a_minimum_holds() -> None:
    assert retry_after_seconds("30", 5.0, milliseconds="1500") == 1.5
    assert retry_after_seconds("30", 5.0, milliseconds="oops") == 30.0
    assert retry_after_seconds("0.2", 10.0, minimum=1.0) == 1.0
