"""Spotting instructions hidden in untrusted text (customer messages, knowledge-base
articles) so they can be flagged in the audit log.

Detection is a tripwire, not the defence: the defence is that no text ever decides an
action (the policy engine decides from verified data). A flagged message still gets
an ordinary answer; it just never starts an action, and the attempt is on record.
Obfuscation is undone before matching: zero-width and format characters, homoglyphs
(Cyrillic/Greek look-alikes, full-width forms via NFKC), leetspeak and base64.
"""
from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass

#: Look-alike letters an attacker swaps in so "ignore" does not match; NFKC handles
#: full-width and mathematical letters, these are the common cross-script ones.
HOMOGLYPHS = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "ԁ": "d", "ɡ": "g", "һ": "h", "ӏ": "l", "ո": "n", "ս": "u", "ν": "v", "ο": "o", "α": "a", "ε": "e",
    "ι": "i", "κ": "k", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "А": "A", "Е": "E", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "Х": "X", "І": "I", "Ι": "I", "Ο": "O", "Α": "A", "Ε": "E",
})
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i",
                      "|": "l", "+": "t"})
BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")

_RULES: list[tuple[str, re.Pattern[str]]] = [(name, re.compile(pattern)) for name, pattern in [
    ("override", r"\b(ignore|disregard|forget|override|bypass|skip)\b[\w\s,']{0,30}\b(previous|prior|above|earlier|"
                 r"all|any|your|the|these|those|system|safety|security)\b[\w\s,']{0,20}\b(instructions?|rules?|"
                 r"prompts?|guidelines?|polic(y|ies)|directions?|context|checks?|verification)\b"),
    ("role_play", r"\b(you are now|from now on,? you|act as|pretend (to be|you are)|developer mode|jailbreak|"
                  r"\bdan mode)\b"),
    ("system_prompt", r"\b(system prompt|system message|hidden instructions?|new instructions?|"
                      r"assistant:|system:|<\s*/?\s*system\s*>|\[\s*inst\s*\])"),
    ("response_directive", r"\b(in|to|into|within|from|at the end of|throughout) your (response|reply|answer|"
                           r"output|message)s?\b(?! (you|u) (said|wrote|told|mentioned|gave|sent))"),
    ("response_directive", r"\byour (response|reply|answer|output)s? (should|must|needs? to)\b"),
    ("response_directive", r"\b(provide|render|modify|augment|enhance|rewrite|format|write|give|end|begin|start|"
                           r"sign|jumble|translate)\b[^.\n]{0,25}\byour (response|reply|answer|message|output)s?\b"),
    ("response_directive", r"\b(letters?|words?|characters?|spaces?) of your (response|reply|answer|message)"),
    ("response_directive", r"\breplace (every|all|each|the)? ?(\w+ )?(letters?|vowels?|consonants?|words?|"
                           r"characters?)\b"),
    ("response_directive", r"\b(respond|reply|answer) (only )?(in|with|using)\b.{0,40}\b(code|base64|symbols?|"
                           r"numbers?|anagrams?|typos?)\b"),
    ("tool_directive", r"\b(call|invoke|use|run|execute|trigger) (the )?(tool|function|action)\b"),
    ("money_directive", r"\b(refund|credit|transfer|send|pay|wire)\b[^.\n]{0,30}(\$|usd|eur|gbp|€|£)\s?\d+"
                        r"[^.\n]{0,40}\b(to|into) (another|this|the following|my friend|account|customer|user)\b"),
    ("money_directive", r"\b(approve|issue|grant|process)\b[^.\n]{0,20}\brefunds? (of|for) (\$|usd|€|£)?\s?\d{3,}"),
]]


@dataclass(frozen=True)
class Finding:
    rule: str
    variant: str  # plain, normalised, leetspeak, base64
    excerpt: str


def strip_invisible(text: str) -> str:
    """Zero-width spaces/joiners, bidi marks and other format characters (category Cf)."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", strip_invisible(text)).translate(HOMOGLYPHS)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", text).lower()


def _variants(text: str) -> list[tuple[str, str]]:
    plain = normalise(text)
    out = [("normalised", plain)]
    # Leetspeak only inside words (digits next to letters), so "order A1001" and "$50"
    # keep their meaning while "1gn0r3 pr3v10us" becomes "ignore previous".
    leet = re.sub(r"\S*[a-z]\S*", lambda m: m.group(0).translate(LEET), plain)
    if leet != plain:
        out.append(("leetspeak", leet))
    spaced = re.sub(r"\b(\w) (?=\w\b)", r"\1", plain)  # "i g n o r e" → "ignore"
    if spaced != plain:
        out.append(("spaced", spaced))
    for run in BASE64_RUN.findall(strip_invisible(text)):
        try:
            decoded = base64.b64decode(run + "=" * (-len(run) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded.isprintable() or "\n" in decoded:
            out.append(("base64", normalise(decoded)))
    return out


def detect(text: str) -> list[Finding]:
    """Every injection pattern found in ``text`` or its de-obfuscated variants."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for variant, candidate in _variants(text or ""):
        for rule, pattern in _RULES:
            match = pattern.search(candidate)
            if match and rule not in seen:
                seen.add(rule)
                findings.append(Finding(rule, variant, candidate[max(0, match.start() - 20):match.end() + 20]))
    return findings
