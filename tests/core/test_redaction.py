"""Redaction: what must go, what must stay, and the guarantees callers build on."""
from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from switchboard.core.pii.redaction import (
    TRUNCATION_MARKER,
    Finding,
    Redacted,
    TruncationLimitError,
    UnknownRegionError,
    redact,
    truncate_for_model,
)

# phonenumbers loads a region's metadata on first use, so the first example of a run is
# slower than the rest; that is not what these properties are about.
properties = settings(deadline=None, max_examples=150)


# --- each kind ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("my card is 4111 1111 1111 1111 thanks", "my card is [CARD] thanks"),
        ("card:4111111111111111", "card:[CARD]"),
        ("visa4111111111111111", "visa[CARD]"),
        ("4111-1111-1111-1111", "[CARD]"),
        ("4111.1111.1111.1111.", "[CARD]."),
        ("mixed 4111 1111-1111.1111 ok", "mixed [CARD] ok"),
        ("amex 3782 822463 10005", "amex [CARD]"),
        ("13 digits 4222222222222", "13 digits [CARD]"),
        ("19 digits 6011 0009 9013 9424 123", "19 digits [CARD]"),
        ("4111 - 1111 - 1111 - 1111", "[CARD]"),
        ("call 555 1234 4111 1111 1111 1111", "call 555 1234 [CARD]"),
        ("paste\n4111 1111\n1111 1111", "paste\n[CARD]"),
        ("card 4111 1111 1111 1111 exp 12/27 cvv 123", "card [CARD] exp 12/27 cvv 123"),
    ],
)
def test_card_numbers_are_redacted_in_any_spacing(message: str, expected: str) -> None:
    assert redact(message).text == expected


def test_card_numbers_in_other_scripts_are_redacted() -> None:
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in "4111111111111111")
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in "5555555555554444")
    assert redact(f"رقم {arabic_indic}").text == "رقم [CARD]"
    assert redact(f"カード {fullwidth}").text == "カード [CARD]"


@pytest.mark.parametrize(
    "message",
    [
        "card 4111 1111 1111 1112",  # Luhn-invalid
        "order 4111111111111112 shipped",
        "ref 12345678901234567890123",  # one 23-digit group: not card length
    ],
)
def test_luhn_invalid_or_wrong_length_digit_runs_stay(message: str) -> None:
    assert redact(message).text == message


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("IBAN DE89 3704 0044 0532 0130 00 THANKS", "IBAN [IBAN] THANKS"),
        ("iban: GB82WEST12345698765432.", "iban: [IBAN]."),
        ("lowercase gb82 west 1234 5698 7654 32", "lowercase [IBAN]"),
        ("two: NL91ABNA0417164300 and FR1420041010050500013M02606", "two: [IBAN] and [IBAN]"),
    ],
)
def test_ibans_are_redacted_with_or_without_spaces(message: str, expected: str) -> None:
    assert redact(message).text == expected


def test_iban_shaped_text_with_a_bad_checksum_stays() -> None:
    message = "IBAN GB82 WEST 1234 5698 7654 33"
    assert redact(message).text == message


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("mail me at john.doe+orders@example.co.uk.", "mail me at [EMAIL]."),
        ("(ana_maria@correo.es)", "([EMAIL])"),
        ("josé@exemplo.com.br, thanks", "[EMAIL], thanks"),
        ("x <a@b.io>", "x <[EMAIL]>"),
    ],
)
def test_email_addresses_are_redacted(message: str, expected: str) -> None:
    assert redact(message).text == expected


@pytest.mark.parametrize(
    ("message", "region", "expected"),
    [
        ("call +44 20 7946 0958 now", None, "call [PHONE] now"),
        ("call +44 20 7946 0958 now", "US", "call [PHONE] now"),
        ("+1 (415) 555-0100", None, "[PHONE]"),
        ("ring 020 7946 0958", "GB", "ring [PHONE]"),
        ("ring 020 7946 0958", "gb", "ring [PHONE]"),
        ("call (415) 555-0100 today", "US", "call [PHONE] today"),
        ("mi número es 612 34 56 78", "ES", "mi número es [PHONE]"),
    ],
)
def test_phone_numbers_are_redacted(message: str, region: str | None, expected: str) -> None:
    assert redact(message, default_region=region).text == expected


def test_a_foreign_national_number_needs_its_trunk_prefix_or_a_cue() -> None:
    """Issue 42: "020 7946 0958" from a US sender is a UK number written as Britons write
    it; a bare digit string valid in some other country is not enough."""
    assert redact("ring 020 7946 0958").text == "ring [PHONE]"
    assert redact("ring 020 7946 0958", default_region="US").text == "ring [PHONE]"
    assert redact("mi número es 612 34 56 78", default_region="US").text == "mi número es [PHONE]"
    assert redact("the box says 612 34 56 78", default_region="US").text == "the box says 612 34 56 78"
    assert redact("order 020 7946 0958", default_region="US").text == "order 020 7946 0958"
    assert redact("barcode 0123456789012", default_region="US").text == "barcode 0123456789012"


def test_a_number_quoted_as_an_order_reference_is_not_a_phone() -> None:
    message = "order 4155550100 and ticket #4155550101, call 4155550102"
    assert redact(message, default_region="US").text == "order 4155550100 and ticket #4155550101, call [PHONE]"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("my SSN is 536-90-4399", "my SSN is [GOV_ID]"),
        ("dashed ones need no cue: 536-90-4399", "dashed ones need no cue: [GOV_ID]"),
        ("social security number 536904399", "social security number [GOV_ID]"),
        ("ssn: 536 90 4399", "ssn: [GOV_ID]"),
        ("ITIN 912-70-3456", "ITIN [GOV_ID]"),
        ("NI number AB123456C", "NI number [GOV_ID]"),
        ("nino ab 12 34 56 c please", "nino [GOV_ID] please"),
        ("DNI 12345678Z", "DNI [GOV_ID]"),
        ("NIE X-1234567-L", "NIE [GOV_ID]"),
        ("codice fiscale RCCMNL83S18D969H", "codice fiscale [GOV_ID]"),
        ("mijn BSN is 111222333", "mijn BSN is [GOV_ID]"),
        ("BSN: 1112.22.333", "BSN: [GOV_ID]"),
        ("my SIN is 123-456-782", "my SIN is [GOV_ID]"),
    ],
)
def test_government_ids_are_redacted(message: str, expected: str) -> None:
    assert redact(message).text == expected


@pytest.mark.parametrize(
    "message",
    [
        "reference 536904399",  # a valid SSN pattern but no cue
        "reference 111222333",  # passes the BSN 11-test but no cue
        "reference 123456782",  # passes the SIN Luhn check but no cue
        "ssn 000-12-3456",  # area 000 is never issued
        "code GB123456A",  # GB is never a NINO prefix
        "DNI 12345678A",  # wrong check letter
    ],
)
def test_id_shaped_numbers_without_cue_or_checksum_stay(message: str) -> None:
    assert redact(message).text == message


# --- what must survive ------------------------------------------------------------------


@pytest.mark.parametrize("region", [None, "US", "GB", "DE", "ES"])
@pytest.mark.parametrize(
    "message",
    [
        "where is order #A123456?",
        "order 1234567 has not arrived",
        "delivered 2026-11-22 10:30, signed at 10:30:15",
        "on 22/11/2026 or 22.11.2026 or Nov 22, 2026",
        "I paid $1,299.99 and €1.299,99 and £12.50",
        "Termin am 02.01.1990, Betrag 334.538,14 €",
        "UPS 1Z999AA10123456784, 1Z9999990123456784",
        "USPS 9400 1111 0200 0000 0000 00",
        "FedEx 7489 2345 6789",
        "version 10.2.3, room 1204, 3 items",
    ],
)
def test_useful_numbers_survive(message: str, region: str | None) -> None:
    redacted = redact(message, default_region=region)
    assert redacted.text == message
    assert redacted.findings == ()


# --- findings, overlaps, audit counts ---------------------------------------------------


def test_findings_index_the_original_text_and_are_counted_per_kind() -> None:
    message = "card 4111 1111 1111 1111, mail a@b.io, card 5555555555554444"
    redacted = redact(message)
    assert redacted.text == "card [CARD], mail [EMAIL], card [CARD]"
    assert [message[f.start:f.end] for f in redacted.findings] == [
        "4111 1111 1111 1111",
        "a@b.io",
        "5555555555554444",
    ]
    assert redacted.findings[0] == Finding("card", 5, 24)
    assert redacted.kinds == {"card": 2, "email": 1}


def test_nothing_to_redact_gives_the_text_back_and_no_counts() -> None:
    assert redact("hello, where is my parcel?") == Redacted("hello, where is my parcel?", ())
    assert redact("").kinds == {}


def test_the_longer_overlapping_finding_names_the_redaction() -> None:
    # The local part is a valid card number; the whole address is the longer span.
    redacted = redact("write to 4111111111111111@example.com")
    assert redacted.text == "write to [EMAIL]"
    assert redacted.kinds == {"email": 1}


def test_an_iban_wins_over_the_card_number_hidden_in_its_digits() -> None:
    # 3704 0044 0532 0130 00 … contains Luhn-valid windows; the IBAN is the longer span.
    redacted = redact("DE89 3704 0044 0532 0130 00")
    assert redacted.text == "[IBAN]"
    assert redacted.kinds == {"iban": 1}


def test_neighbours_are_redacted_even_when_one_hides_the_other() -> None:
    # phonenumbers sees one over-long number here until the card is gone.
    assert redact("+44 20 7946 0958 4111 1111 1111 1111").text == "[PHONE] [CARD]"


def test_an_unknown_region_is_refused_with_the_fix() -> None:
    with pytest.raises(UnknownRegionError, match="'GB'"):
        redact("ring 020 7946 0958", default_region="UK")


# --- truncation -----------------------------------------------------------------------


def test_a_huge_message_is_cut_at_a_word_boundary() -> None:
    message = "please help " * 10_000  # 120,000 characters
    cut = truncate_for_model(message)
    assert cut.endswith(TRUNCATION_MARKER)
    kept = cut.removesuffix(TRUNCATION_MARKER)
    assert len(kept) <= 4000
    assert message.startswith(kept)
    assert kept.endswith("help")


def test_a_single_giant_word_is_hard_cut() -> None:
    cut = truncate_for_model("x" * 100_000, limit=50)
    assert cut == "x" * 50 + TRUNCATION_MARKER


def test_short_messages_are_not_touched() -> None:
    assert truncate_for_model("hi there", limit=8) == "hi there"


def test_a_nonsensical_limit_is_refused() -> None:
    with pytest.raises(TruncationLimitError, match="limit=4000"):
        truncate_for_model("hello", limit=0)


# --- properties -----------------------------------------------------------------------

SEPARATORS = [" ", "-", ".", "  ", " - ", "\u00a0", "\u2013", "\t", "\n"]
DIGIT_SCRIPTS = [0x30, 0x30, 0x0660, 0x06F0, 0x0966, 0xFF10]  # ASCII (twice as likely), Arabic-Indic, …


@st.composite
def luhn_valid_numbers(draw: st.DrawFn) -> str:
    length = draw(st.integers(13, 19))
    body = draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))
    return body + luhn.calc_check_digit(body)


@st.composite
def written_card_numbers(draw: st.DrawFn) -> str:
    """A card number as a person might type it: any grouping, any separators, any script."""
    digits = draw(luhn_valid_numbers())
    script = draw(st.sampled_from(DIGIT_SCRIPTS))
    gaps = draw(
        st.lists(
            st.one_of(st.just(""), st.sampled_from(SEPARATORS)),
            min_size=len(digits) - 1,
            max_size=len(digits) - 1,
        )
    )
    written = [chr(script + int(d)) for d in digits]
    return "".join(d + gap for d, gap in zip(written, [*gaps, ""], strict=True))


# Anything but digits, so that every digit in the output can only come from the card.
text_without_digits = st.text(st.characters(exclude_categories=("Nd", "Cs")), max_size=25)


def luhn_valid_digit_windows(text: str) -> list[str]:
    """Every 13–19 digit Luhn-valid sequence, reading through any non-letter characters."""
    found = []
    for stretch in re.finditer(r"\d[\W_]*(?:\d[\W_]*)*", text):
        digits = "".join(str(unicodedata.decimal(c)) for c in stretch.group() if c.isdecimal())
        for size in range(13, 20):
            found += [
                digits[i:i + size]
                for i in range(len(digits) - size + 1)
                if luhn.is_valid(digits[i:i + size])
            ]
    return found


@properties
@given(
    prefix=text_without_digits,
    card=written_card_numbers(),
    suffix=text_without_digits,
    region=st.sampled_from([None, "US", "GB", "DE"]),
)
def test_no_card_number_survives_in_any_spacing_or_company(
    prefix: str, card: str, suffix: str, region: str | None
) -> None:
    assert luhn_valid_digit_windows(card)  # the generator does what it says
    output = redact(prefix + card + suffix, default_region=region).text
    assert luhn_valid_digit_windows(output) == []


@properties
@given(
    numbers=st.lists(st.sampled_from(["555", "1234", "12", "98765"]), max_size=3),
    card=written_card_numbers(),
)
def test_a_card_next_to_other_numbers_is_still_redacted(numbers: list[str], card: str) -> None:
    message = "call " + " ".join([*numbers, card])
    digits_of_card = "".join(str(unicodedata.decimal(c)) for c in card if c.isdecimal())
    digits_left = "".join(str(unicodedata.decimal(c)) for c in redact(message).text if c.isdecimal())
    assert digits_of_card not in digits_left


def _digits(size_min: int, size_max: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=size_min, max_size=size_max)


useful_numbers = st.one_of(
    st.builds(lambda d: f"order {d}", _digits(5, 12)),
    st.builds(lambda d: f"order #{d}", _digits(5, 12)),
    st.builds(lambda c, d: f"#{c}{d}", st.sampled_from("ABCKMQRZ"), _digits(5, 7)),
    st.builds(
        lambda y, mo, d, h, mi: f"{y}-{mo:02}-{d:02} {h:02}:{mi:02}",
        st.integers(1990, 2099), st.integers(1, 12), st.integers(1, 28), st.integers(0, 23), st.integers(0, 59),
    ),
    st.builds(lambda h, m, s: f"{h:02}:{m:02}:{s:02}", st.integers(0, 23), st.integers(0, 59), st.integers(0, 59)),
    st.builds(lambda d, mo, y: f"{d:02}/{mo:02}/{y}", st.integers(1, 28), st.integers(1, 12), st.integers(1990, 2099)),
    st.builds(lambda d, mo, y: f"{d:02}.{mo:02}.{y}", st.integers(1, 28), st.integers(1, 12), st.integers(1990, 2099)),
    st.builds(lambda n, c: f"${n:,}.{c:02}", st.integers(0, 10**7), st.integers(0, 99)),
    st.builds(lambda n, c: f"{n:,}".replace(",", ".") + f",{c:02} €", st.integers(0, 10**7), st.integers(0, 99)),
    st.builds(
        lambda shipper, service, package: f"1Z{shipper}{service}{package}",
        st.text("ABCDEFGHJKLMNPRSTUVWXYZ0123456789", min_size=6, max_size=6), _digits(2, 2), _digits(8, 8),
    ),
)


@properties
@given(
    numbers=st.lists(useful_numbers, min_size=1, max_size=4),
    region=st.sampled_from([None, "US", "GB", "DE", "FR", "ES"]),
)
def test_order_numbers_timestamps_prices_and_tracking_survive(numbers: list[str], region: str | None) -> None:
    message = "; then ".join(numbers)
    assert redact(message, default_region=region).text == message


personal_data_examples = st.sampled_from(
    [
        "4111 1111 1111 1111", "card:5555555555554444", "DE89 3704 0044 0532 0130 00",
        "a@b.io", "john.doe@example.co.uk", "+44 20 7946 0958", "020 7946 0958", "(415) 555-0100",
        "536-90-4399", "ssn 536904399", "AB123456C", "12345678Z", "X1234567L", "BSN 111222333",
    ]
)
glue = st.sampled_from(["", " ", "-", ".", "+", "@", ":", "#", "[", "]", "\n", "x", "0", "12", " and "])
messages = st.lists(
    st.one_of(personal_data_examples, written_card_numbers(), useful_numbers, glue, st.text(max_size=8)),
    max_size=10,
).map("".join)


@properties
@given(message=messages, region=st.sampled_from([None, "US", "GB"]))
def test_redacting_twice_changes_nothing(message: str, region: str | None) -> None:
    once = redact(message, default_region=region)
    twice = redact(once.text, default_region=region)
    assert twice.text == once.text
    assert twice.findings == ()


@properties
@given(message=messages, region=st.sampled_from([None, "US", "GB"]))
def test_findings_are_ordered_disjoint_spans_that_rebuild_the_output(message: str, region: str | None) -> None:
    redacted = redact(message, default_region=region)
    rebuilt, position = "", 0
    for finding in redacted.findings:
        assert position <= finding.start < finding.end <= len(message)
        rebuilt += message[position:finding.start] + f"[{finding.kind.upper()}]"
        position = finding.end
    assert rebuilt + message[position:] == redacted.text
    assert sum(redacted.kinds.values()) == len(redacted.findings)


@properties
@given(text=st.text(max_size=400), limit=st.integers(1, 300))
def test_truncation_stays_within_the_limit_and_keeps_a_prefix(text: str, limit: int) -> None:
    cut = truncate_for_model(text, limit=limit)
    assert len(cut) <= limit + len(TRUNCATION_MARKER)
    if len(text) <= limit:
        assert cut == text
    else:
        assert cut.endswith(TRUNCATION_MARKER)
        assert text.startswith(cut.removesuffix(TRUNCATION_MARKER))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # Issue 42: identity numbers after the word that says what they are.
        ("my passport number is X12345678", "my passport number is [GOV_ID]"),
        ("Passport: 533380006", "Passport: [GOV_ID]"),
        ("meine Reisepassnummer ist C01X00T47", "meine Reisepassnummer ist [GOV_ID]"),
        ("driver's license D1234567 expired", "driver's license [GOV_ID] expired"),
        ("DL# 123456789 issued in NY", "DL# [GOV_ID] issued in NY"),
        ("my driving licence number is MORGA657054SM9IJ", "my driving licence number is [GOV_ID]"),
        # The SSA's published samples: stdnum calls them non-SSNs, a customer means them.
        ("SSN 078-05-1120", "SSN [GOV_ID]"),
        ("my social security number is 219-09-9999", "my social security number is [GOV_ID]"),
        ("ssn is 078051120", "ssn is [GOV_ID]"),
        # What the agent needs stays, cue or not.
        ("passport X12345678 for order A1001", "passport [GOV_ID] for order A1001"),
        ("the passport office lost my form, reference 884213", "the passport office lost my form, reference 884213"),
        ("X12345678 is the code on my receipt", "X12345678 is the code on my receipt"),
        ("license key ABCD-1234-EFGH-5678 is refused", "license key ABCD-1234-EFGH-5678 is refused"),
        ("my DL expired 2026-11-20, order #100234", "my DL expired 2026-11-20, order #100234"),
        ("my passport expires 2031-05-01", "my passport expires 2031-05-01"),
        ("SSN 000-12-3456 is not a number anyone has", "SSN 000-12-3456 is not a number anyone has"),
    ],
)
def test_identity_numbers_after_their_cue(message: str, expected: str) -> None:
    assert redact(message, default_region="US").text == expected
