"""Personal-data redaction for customer messages.

Every inbound message passes through :func:`redact` before a model sees it, before it
is logged and before it is copied into a Zendesk note, so a leak here leaks
everywhere. The detectors therefore lean towards redacting when a span *validates*
(Luhn, IBAN mod-97, national-id check letters) and lean towards keeping text that only
*looks* numeric (order numbers, timestamps, prices, tracking codes), because an agent
who cannot read the order number cannot help the customer either.

Validation is delegated to maintained libraries (python-stdnum for checksums,
phonenumbers for telephone numbers); this module only decides where to look.
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher
from stdnum import iban, luhn
from stdnum.ca import sin
from stdnum.es import dni, nie
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.us import itin

CARD = "card"
IBAN = "iban"
EMAIL = "email"
PHONE = "phone"
GOV_ID = "gov_id"

PLACEHOLDERS = {
    CARD: "[CARD]",
    IBAN: "[IBAN]",
    EMAIL: "[EMAIL]",
    PHONE: "[PHONE]",
    GOV_ID: "[GOV_ID]",
}

# When two detectors claim overlapping text and the spans are equally long, the kind
# backed by the stronger check names the redaction: a mod-97 IBAN beats a Luhn card,
# which beats an id with a check letter, which beats a pattern-only email or phone.
_SPECIFICITY = {IBAN: 5, CARD: 4, GOV_ID: 3, EMAIL: 2, PHONE: 1}

TRUNCATION_MARKER = " …[truncated]"


class UnknownRegionError(ValueError):
    """``default_region`` is not a region the phonenumbers library knows."""


class TruncationLimitError(ValueError):
    """``truncate_for_model`` was asked for a limit it cannot honour."""


@dataclass(frozen=True)
class Finding:
    """One redacted span; ``start``/``end`` index the text as the customer wrote it."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Redacted:
    """``text`` is safe to log, store and send; ``findings`` say where, never what."""

    text: str
    findings: tuple[Finding, ...]

    @property
    def kinds(self) -> dict[str, int]:
        """How many spans of each kind were removed: what the audit log may keep."""
        return dict(Counter(finding.kind for finding in self.findings))


def redact(text: str, *, default_region: str | None = None, also_regions: Sequence[str | None] = ()) -> Redacted:
    """Replace personal data in ``text`` with ``[KIND]`` placeholders.

    ``default_region`` (ISO 3166-1 alpha-2, e.g. "GB") lets phone numbers written in
    national form ("020 7946 0958") be recognised; without it only international
    ("+44 …") numbers are. ``also_regions`` are searched for national numbers too: a
    customer of a UK number may still write a US number in US form, and a sender whose
    region is unknown writes in the company's.

    Detection runs again on its own output until nothing new is found. Detectors look
    at context (phonenumbers refuses a number glued to a letter, ids need cue words),
    so removing one span can expose its neighbour; iterating to a fixed point is what
    makes ``redact(redact(x).text)`` a no-op, which the audit trail relies on.
    """
    regions = tuple(dict.fromkeys(r for r in (_checked_region(default_region),
                                              *(_checked_region(a) for a in also_regions)) if r))
    findings: tuple[Finding, ...] = ()
    redacted_text = text
    while True:
        candidates = _detect(redacted_text, regions)
        if not candidates:
            return Redacted(redacted_text, findings)
        original_spans = _OffsetMap(text, findings)
        findings = _resolve([*findings, *(original_spans.to_original(c) for c in candidates)])
        redacted_text = _render(text, findings)


#: How much of one customer message the models read (intent, sentiment, retrieval, LLM):
#: a pasted 100,000-character message costs seconds and tokens and says nothing more.
MODEL_INPUT_CHARS = 4000


def truncate_for_model(text: str, limit: int = MODEL_INPUT_CHARS) -> str:
    """Cut ``text`` to at most ``limit`` characters plus :data:`TRUNCATION_MARKER`.

    A customer can paste 100,000 characters; the model's context and our token bill
    should not follow. The cut falls on a word boundary so that no half-word (or half a
    ``[PLACEHOLDER]``) reaches the model, unless the only boundary would throw away
    more than half of the allowed text, in which case a hard cut keeps more context.
    """
    if limit < 1:
        raise TruncationLimitError(
            f"limit must be a positive number of characters, got {limit}; "
            "pass e.g. limit=4000"
        )
    if len(text) <= limit:
        return text
    head = text[:limit]
    if not text[limit].isspace():
        last_space = max((i for i in range(len(head) - 1, -1, -1) if head[i].isspace()), default=-1)
        if last_space >= limit // 2:
            head = head[:last_space]
    return head.rstrip() + TRUNCATION_MARKER


# --- candidates and how overlapping ones become findings -----------------------------


@dataclass(frozen=True)
class _Candidate:
    kind: str
    start: int
    end: int

    @property
    def rank(self) -> tuple[int, int, int]:
        return (self.end - self.start, _SPECIFICITY[self.kind], -self.start)


def _resolve(candidates: Iterable[_Candidate | Finding]) -> tuple[Finding, ...]:
    """Merge overlapping candidates into one finding each.

    The merged span is the union, so a partial overlap (a phone number that swallows
    the first digits of a card) cannot leave a fragment of either behind; the
    longest, then most specific, candidate names the kind.
    """
    ordered = sorted((_Candidate(c.kind, c.start, c.end) for c in candidates), key=lambda c: (c.start, c.end))
    findings: list[Finding] = []
    cluster: list[_Candidate] = []
    cluster_end = 0
    for candidate in ordered:
        if cluster and candidate.start >= cluster_end:
            findings.append(_merge(cluster))
            cluster = []
        cluster.append(candidate)
        cluster_end = max(cluster_end, candidate.end) if len(cluster) > 1 else candidate.end
    if cluster:
        findings.append(_merge(cluster))
    return tuple(findings)


def _merge(cluster: list[_Candidate]) -> Finding:
    winner = max(cluster, key=lambda c: c.rank)
    return Finding(winner.kind, min(c.start for c in cluster), max(c.end for c in cluster))


def _render(text: str, findings: tuple[Finding, ...]) -> str:
    parts: list[str] = []
    position = 0
    for finding in findings:
        parts.append(text[position:finding.start])
        parts.append(PLACEHOLDERS[finding.kind])
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


class _OffsetMap:
    """Translates spans found in a redacted text back to the original text.

    The redacted text is a sequence of pieces, each either copied from the original or
    a placeholder standing for a finding; a span that touches a placeholder grows to
    cover everything that placeholder replaced.
    """

    def __init__(self, original: str, findings: tuple[Finding, ...]) -> None:
        self._redacted_starts: list[int] = []
        # redacted start, original start, original end, is placeholder
        self._pieces: list[tuple[int, int, int, bool]] = []
        redacted_pos = original_pos = 0
        for finding in findings:
            redacted_pos = self._add(redacted_pos, original_pos, finding.start, False)
            redacted_pos = self._add(redacted_pos, finding.start, finding.end, True, len(PLACEHOLDERS[finding.kind]))
            original_pos = finding.end
        self._add(redacted_pos, original_pos, len(original), False)

    def _add(self, redacted_pos: int, original_start: int, original_end: int, is_placeholder: bool,
             redacted_length: int | None = None) -> int:
        length = original_end - original_start if redacted_length is None else redacted_length
        if length > 0:
            self._redacted_starts.append(redacted_pos)
            self._pieces.append((redacted_pos, original_start, original_end, is_placeholder))
        return redacted_pos + length

    def to_original(self, candidate: _Candidate) -> _Candidate:
        return _Candidate(candidate.kind, self._start(candidate.start), self._end(candidate.end))

    def _start(self, position: int) -> int:
        redacted_start, original_start, _, is_placeholder = self._piece_at(position)
        return original_start if is_placeholder else original_start + position - redacted_start

    def _end(self, position: int) -> int:
        redacted_start, original_start, original_end, is_placeholder = self._piece_at(position - 1)
        return original_end if is_placeholder else original_start + position - redacted_start

    def _piece_at(self, position: int) -> tuple[int, int, int, bool]:
        return self._pieces[bisect.bisect_right(self._redacted_starts, position) - 1]


# --- detectors -----------------------------------------------------------------------


def _detect(text: str, regions: Sequence[str]) -> list[_Candidate]:
    scan = _ascii_digits(text)
    candidates = [
        *_cards(scan),
        *_ibans(scan),
        *_emails(scan),
        *_phones(scan, regions),
        *_gov_ids(scan),
    ]
    return _outside_shipment_references(scan, candidates)


# Parcel tracking numbers are what customers quote most, and some hide card-length digit
# runs: a UPS "1Z" number can end in 16 digits, a USPS number is printed in groups of
# four. Neither can be a card (no card starts with "1Z" or is 20+ digits), so anything
# found wholly inside one is dropped.
_SHIPMENT_REFERENCE = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"1Z[0-9A-Z]{16}"
    r"|9[1-5][0-9]{2}(?: ?[0-9]{4}){4} ?[0-9]{2}(?: ?[0-9]{2})?"
    r")(?![A-Za-z0-9])",
    re.IGNORECASE,
)


def _outside_shipment_references(scan: str, candidates: list[_Candidate]) -> list[_Candidate]:
    references = [(m.start(), m.end()) for m in _SHIPMENT_REFERENCE.finditer(scan)]
    if not references:
        return candidates
    starts = [start for start, _ in references]

    def inside_reference(candidate: _Candidate) -> bool:
        index = bisect.bisect_right(starts, candidate.start) - 1
        return index >= 0 and candidate.end <= references[index][1]

    return [candidate for candidate in candidates if not inside_reference(candidate)]


def _ascii_digits(text: str) -> str:
    """Arabic-Indic, Devanagari, full-width … digits as ASCII, one character for one.

    WhatsApp customers type card numbers in their own script; the checksum libraries
    only read ASCII. Mapping character for character keeps every offset valid.
    """
    if text.isascii():
        return text
    return re.sub(r"\d", lambda m: str(unicodedata.decimal(m.group())), text)


# Digits broken up by whitespace, dashes or dots, at most three separator characters at
# a time ("4111 - 1111"); anything else (":", ",", "/", "$", letters) ends the run, which
# is what keeps "10:30:15", "$1,299.99" and "22/11/2026" out of card candidates.
_DIGIT_RUN = re.compile(r"[0-9]+(?:[\s.\-\u2010-\u2015\u2212\uFE63\uFF0D]{1,3}[0-9]+)*")
_DIGIT_GROUP = re.compile(r"[0-9]+")
_CARD_MIN_DIGITS, _CARD_MAX_DIGITS = 13, 19


def _cards(text: str) -> Iterator[_Candidate]:
    """Luhn-valid 13–19 digit windows that start and end on whole digit groups.

    Whole groups only: a 20-digit tracking number is not a card just because 16 of its
    digits happen to pass Luhn (one window in ten does), but "4111 1111 1111 1111"
    inside "call 555 1234 4111 1111 1111 1111" still is.
    """
    for run in _DIGIT_RUN.finditer(text):
        groups = [(g.start(), g.end()) for g in _DIGIT_GROUP.finditer(text, run.start(), run.end())]
        for first, (start, _) in enumerate(groups):
            digits = ""
            for group_start, group_end in groups[first:]:
                digits += text[group_start:group_end]
                if len(digits) > _CARD_MAX_DIGITS:
                    break
                if len(digits) >= _CARD_MIN_DIGITS and luhn.is_valid(digits):
                    yield _Candidate(CARD, start, group_end)


_IBAN_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?:[ \-]?[A-Za-z0-9]){10,32}")
_IBAN_CHUNK_END = re.compile(r"[A-Za-z0-9](?=[ \-]|$)")


def _ibans(text: str) -> Iterator[_Candidate]:
    """The longest mod-97-valid prefix of each IBAN-shaped stretch, cut between chunks.

    The candidate pattern is greedy ("DE89 3704 … 00 THANKS" runs into the next
    word), so every chunk boundary is tried, longest first.
    """
    position = 0
    while match := _IBAN_CANDIDATE.search(text, position):
        stretch = match.group()
        ends = [m.end() for m in _IBAN_CHUNK_END.finditer(stretch)]
        valid_end = next((end for end in reversed(ends) if iban.is_valid(stretch[:end])), None)
        if valid_end is None:
            position = match.start() + 1
            continue
        yield _Candidate(IBAN, match.start(), match.start() + valid_end)
        position = match.start() + valid_end


# Local part and labels are length-bounded (RFC 5321 limits) so that a 100,000-character
# message without an "@" costs linear, not quadratic, time.
_EMAIL = re.compile(
    r"\w[\w.!#$%&'*+/=?^`{|}~-]{0,63}"
    r"@(?:[^\W_][\w-]{0,62}\.){1,8}[^\W\d_][\w-]{0,62}"
)


def _emails(text: str) -> Iterator[_Candidate]:
    for match in _EMAIL.finditer(text):
        yield _Candidate(EMAIL, match.start(), match.end())


# A nationally written number right after one of these is an order/ticket reference a
# customer is quoting, not a phone number ("order 4155550100"); "+"-numbers are phones
# whatever precedes them.
_REFERENCE_WORD = (r"\b(?:order|ref|reference|ticket|case|invoice|tracking|booking|confirmation|parcel|shipment)"
                   r"(?:\s*(?:number|num|no\.?|nr\.?|id))?\s*[:#]?")
_REFERENCE_CUE = re.compile(r"(?:#|" + _REFERENCE_WORD + r")\s*$", re.IGNORECASE)
# For an id after its own cue ("DL# 123456789", "passport #…") a "#" is that id's: only
# the words say reference.
_REFERENCE_WORD_CUE = re.compile(_REFERENCE_WORD + r"\s*$", re.IGNORECASE)


# National numbering plans are dense enough that dates and amounts validate too:
# "02.01.1990" is Essen 0201 1990 and the "334.538" of "334.538,14 €" a Brandenburg
# number. Written like that, they are a date and an amount.
_DATE = re.compile(
    r"(?:[0-9]{1,2}(?P<sep1>[./\-])[0-9]{1,2}(?P=sep1)(?:[0-9]{2}|[0-9]{4})"
    r"|[0-9]{4}(?P<sep2>[./\-])[0-9]{1,2}(?P=sep2)[0-9]{1,2})"
)
_DECIMALS_AFTER = re.compile(r"[.,][0-9]{1,2}(?![0-9])")
_AMOUNT_BEFORE = re.compile(r"[$€£¥₹₽₩₺₪][0-9]{1,3}(?:[.,][0-9]{3})*[.,]$")


def _is_date_or_amount(text: str, start: int, end: int) -> bool:
    return bool(
        _DATE.fullmatch(text, start, end)
        or _DECIMALS_AFTER.match(text, end)
        or _AMOUNT_BEFORE.search(text, max(0, start - 16), start)
    )


#: Countries whose national-format numbers customers write from anywhere ("020 7946 0958"
#: texted from a US phone): tried after the sender's and the company's regions, with
#: more proof asked of each match (see :func:`_foreign_phones`).
PLAUSIBLE_REGIONS = ("GB", "IE", "DE", "FR", "ES", "IT", "NL", "BE", "PT", "AT", "CH", "SE", "DK", "NO", "PL",
                     "AU", "NZ", "IN", "ZA", "MX", "BR", "CA")
#: A word that says the digits after it are a phone number (English and the catalog's
#: languages): what a national number without a trunk "0" needs to count.
_PHONE_CUE = re.compile(
    r"\b(?:call|ring|phone|tel|telephone|mobile|cell|landline|whats\s?app|text|sms|reach|number|"
    r"n[uú]mero|tel[eé]fono|m[oó]vil|celular|t[eé]l[eé]phone|portable|nummer|telefon|handy|telefono|cellulare)\b",
    re.IGNORECASE,
)
#: A national number with a trunk prefix ("0…"), or one dialled with "00": the only kind
#: worth the other regions' matchers without a cue (they cost a pass each).
_TRUNK_NUMBER = re.compile(r"(?<![0-9+])\(?0[0-9]")
#: Seven digits or more, grouped any way: the shortest national numbers worth a pass.
_PHONE_LENGTH = re.compile(r"[0-9](?:[\s().\-]{0,2}[0-9]){6,}")


def _phones(text: str, regions: Sequence[str]) -> Iterator[_Candidate]:
    """Valid numbers in each of ``regions``' national format plus any possible "+" number,
    and numbers of other countries written the way people there write them.

    Two passes because the leniencies trade off differently: international numbers
    with an explicit "+" are phone numbers even in ranges phonenumbers does not know
    to be assigned, while national digit strings must be *valid* to be told apart
    from order numbers.
    """
    max_tries = max(65535, len(text))
    for region in regions or (None,):
        for match in PhoneNumberMatcher(text, region, leniency=Leniency.VALID, max_tries=max_tries):
            if match.raw_string.lstrip("([").startswith("+"):
                yield _Candidate(PHONE, match.start, match.end)
            elif not _is_date_or_amount(text, match.start, match.end) and not _REFERENCE_CUE.search(
                text, max(0, match.start - 40), match.start
            ):
                yield _Candidate(PHONE, match.start, match.end)
    for match in PhoneNumberMatcher(text, None, leniency=Leniency.POSSIBLE, max_tries=max_tries):
        yield _Candidate(PHONE, match.start, match.end)
    yield from _foreign_phones(text, [r for r in PLAUSIBLE_REGIONS if r not in regions], max_tries)


def _foreign_phones(text: str, regions: Sequence[str], max_tries: int) -> Iterator[_Candidate]:
    """Valid national numbers of ``regions`` that also look dialled from there: written
    with that country's trunk prefix ("020 …", "06 12 …") or international prefix
    ("0049 …"), or right after a word for a phone. A bare digit string valid somewhere
    among twenty countries proves nothing (order numbers are), so it needs one of those."""
    if not _PHONE_LENGTH.search(text):
        return  # most messages: no run of digits long enough for any country's number
    cued = _PHONE_CUE.search(text) is not None
    if not cued and not _TRUNK_NUMBER.search(text):
        return
    for region in regions:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        prefixes = tuple(p for p in (metadata.national_prefix if metadata else None, "00") if p)
        for match in PhoneNumberMatcher(text, region, leniency=Leniency.VALID, max_tries=max_tries):
            raw = match.raw_string.lstrip("([").lstrip()
            near_cue = cued and _PHONE_CUE.search(text, max(0, match.start - _CUE_BEFORE), match.start)
            # 12+ digits in one run is a barcode or an account number more often than a
            # phone someone typed: a number people dial is written in groups.
            dialled = raw.startswith(prefixes) and not (raw.isdigit() and len(raw) >= 12)
            if raw.startswith("+") or not (dialled or near_cue):
                continue
            if _is_date_or_amount(text, match.start, match.end) or _REFERENCE_CUE.search(
                    text, max(0, match.start - 40), match.start):
                continue
            yield _Candidate(PHONE, match.start, match.end)


@dataclass(frozen=True)
class _GovIdRule:
    """One national identifier: where it looks like one, and what proves it is one.

    ``cue`` is required for bare digit strings whose checksum passes by chance too
    often (one 9-digit number in ten is a valid Canadian SIN), so they only count
    next to a word that says what they are.
    """

    name: str
    pattern: re.Pattern[str]
    is_valid: Callable[[str], bool]
    cue: re.Pattern[str] | None = None
    #: Shapes an order number, a date or an amount shares: refused when the text says it
    #: is one ("order A1001", "reference 884213", "2026-11-20").
    not_a_reference: bool = False


_CUE_BEFORE, _CUE_AFTER = 40, 20

_NO_DIGIT_BEFORE = r"(?<![0-9])(?<![0-9][\-.])"
_NO_DIGIT_AFTER = r"(?![0-9])(?![\-.][0-9])"
_NO_ALNUM_BEFORE = r"(?<![A-Za-z0-9])"
_NO_ALNUM_AFTER = r"(?![A-Za-z0-9])"


def _digits_only(value: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", value)


def _us_taxpayer_number(value: str) -> bool:
    digits = _digits_only(value)
    return _ssn_shape(digits) or itin.is_valid(digits)


def _shape_is_enough(value: str) -> bool:
    """For ids without a checksum (the UK NINO) the pattern carries all the rules."""
    return True


_US_CUE = re.compile(
    r"\b(?:ssns?|itin|social\s+security|ss\s*(?:#|no\b|num))", re.IGNORECASE
)


def _ssn_shape(digits: str) -> bool:
    """Any number the SSA's rules allow (area not 000, 666 or 9xx; group and serial not
    zero), its published samples ("078-05-1120" from a wallet insert, "219-09-9999" from
    an SSA leaflet) included: stdnum's ``ssn.is_valid`` also refuses a list of such
    well-known numbers, but a customer who writes one means it as theirs (or is testing
    whether we keep it), and redacting a handful more numbers costs nothing."""
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return (len(digits) == 9 and digits.isdigit() and area not in ("000", "666") and area[0] != "9"
            and group != "00" and serial != "0000")


#: Passport numbers have no checksum anyone prints and no shape an order number lacks:
#: 6-9 capitals and digits, mostly digits, counted only next to the word.
_PASSPORT_CUE = re.compile(
    r"\b(?:passports?|passeports?|pasaportes?|passaport[eo]s?|paspoort|reisepass\w*)", re.IGNORECASE
)


def _passport_shape(value: str) -> bool:
    return sum(c.isdigit() for c in value) >= 5 and sum(c.isalpha() for c in value) <= 3


#: Driver's licence numbers: 5-20 capitals and digits, dashes between groups (Florida's
#: "F255-921-50-094-0", the UK's "MORGA657054SM9IJ"), counted only next to the words.
_LICENCE_CUE = re.compile(
    r"\b(?:driver'?s?|drivers|driving)\s+licen[cs]es?\b|\bd\.?l\b|\bd/l\b|f[uü]hrerschein\w*|"
    r"permis\s+de\s+conduire|(?:licencia|carnet|permiso)\s+de\s+conduc(?:ir|ción)|patente\s+di\s+guida",
    re.IGNORECASE,
)


def _licence_shape(value: str) -> bool:
    alnum = _digits_only(value)
    return 5 <= len(alnum) <= 20 and sum(c.isdigit() for c in alnum) >= 4

_GOV_ID_RULES: tuple[_GovIdRule, ...] = (
    _GovIdRule(
        "US SSN/ITIN, dashed",
        re.compile(_NO_DIGIT_BEFORE + r"[0-9]{3}-[0-9]{2}-[0-9]{4}" + _NO_DIGIT_AFTER),
        _us_taxpayer_number,
    ),
    _GovIdRule(
        "US SSN/ITIN, plain or spaced",
        re.compile(_NO_DIGIT_BEFORE + r"[0-9]{3}[ \-]?[0-9]{2}[ \-]?[0-9]{4}" + _NO_DIGIT_AFTER),
        _us_taxpayer_number,
        cue=_US_CUE,
    ),
    _GovIdRule(
        "Passport number, after a passport cue",
        re.compile(_NO_ALNUM_BEFORE + r"[A-Z0-9]{6,9}" + _NO_ALNUM_AFTER),
        _passport_shape,
        cue=_PASSPORT_CUE,
        not_a_reference=True,
    ),
    _GovIdRule(
        "Driver's licence number, after a licence cue",
        re.compile(_NO_ALNUM_BEFORE + r"[A-Z0-9]+(?:-[A-Z0-9]+)*" + _NO_ALNUM_AFTER, re.IGNORECASE),
        _licence_shape,
        cue=_LICENCE_CUE,
        not_a_reference=True,
    ),
    _GovIdRule(
        # First letter not D F I Q U V, second not D F I O Q U V, never BG GB KN NK NT
        # TN ZZ, suffix A–D: HMRC's allocation rules, so "AB123456C" is a candidate
        # but a product code like "QA123456X" is not.
        "UK National Insurance number",
        re.compile(
            _NO_ALNUM_BEFORE
            + r"(?!(?:BG|GB|KN|NK|NT|TN|ZZ))[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
            + r" ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]"
            + _NO_ALNUM_AFTER,
            re.IGNORECASE,
        ),
        _shape_is_enough,
    ),
    _GovIdRule(
        "Spanish DNI",
        re.compile(_NO_ALNUM_BEFORE + r"[0-9]{8}[ \-]?[A-Za-z]" + _NO_ALNUM_AFTER),
        lambda value: dni.is_valid(_digits_only(value)),
    ),
    _GovIdRule(
        "Spanish NIE",
        re.compile(_NO_ALNUM_BEFORE + r"[XYZxyz][ \-]?[0-9]{7}[ \-]?[A-Za-z]" + _NO_ALNUM_AFTER),
        lambda value: nie.is_valid(_digits_only(value)),
    ),
    _GovIdRule(
        "Italian codice fiscale",
        re.compile(
            _NO_ALNUM_BEFORE
            + r"[A-Z]{6}[0-9LMNP-V]{2}[A-Z][0-9LMNP-V]{2}[A-Z][0-9LMNP-V]{3}[A-Z]"
            + _NO_ALNUM_AFTER,
            re.IGNORECASE,
        ),
        codicefiscale.is_valid,
    ),
    _GovIdRule(
        "Dutch BSN",
        re.compile(_NO_DIGIT_BEFORE + r"(?:[0-9]{4}\.[0-9]{2}\.[0-9]{3}|[0-9]{8,9})" + _NO_DIGIT_AFTER),
        lambda value: bsn.is_valid(_digits_only(value)),
        cue=re.compile(r"\b(?:bsn|burgerservicenummer|sofi[\s-]?nummer)\b", re.IGNORECASE),
    ),
    _GovIdRule(
        "Canadian SIN",
        re.compile(_NO_DIGIT_BEFORE + r"[0-9]{3}[ \-]?[0-9]{3}[ \-]?[0-9]{3}" + _NO_DIGIT_AFTER),
        lambda value: sin.is_valid(_digits_only(value)),
        cue=re.compile(r"\b(?:sin|social\s+insurance)\b", re.IGNORECASE),
    ),
)


def _gov_ids(text: str) -> Iterator[_Candidate]:
    for rule in _GOV_ID_RULES:
        for match in rule.pattern.finditer(text):
            if rule.cue is not None and not _near_cue(text, match.start(), match.end(), rule.cue):
                continue
            if rule.not_a_reference and (_is_date_or_amount(text, match.start(), match.end())
                                         or _REFERENCE_WORD_CUE.search(text, max(0, match.start() - 40),
                                                                       match.start())):
                continue
            if rule.is_valid(match.group()):
                yield _Candidate(GOV_ID, match.start(), match.end())


def _near_cue(text: str, start: int, end: int, cue: re.Pattern[str]) -> bool:
    return bool(
        cue.search(text, max(0, start - _CUE_BEFORE), start)
        or cue.search(text, end, min(len(text), end + _CUE_AFTER))
    )


def _checked_region(default_region: str | None) -> str | None:
    if default_region is None:
        return None
    region = default_region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        hint = " (the United Kingdom is 'GB')" if region == "UK" else ""
        raise UnknownRegionError(
            f"default_region {default_region!r} is not a region phonenumbers knows{hint}; "
            "pass an ISO 3166-1 alpha-2 code such as 'GB' or 'US', or None to recognise "
            "only international '+' numbers"
        )
    return region
