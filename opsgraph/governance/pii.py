"""Finding personal data in text: e-mail addresses, phone numbers, payment cards, names, postal addresses.

E-mail, phone and card detection are Presidio's pattern recognizers (presidio-analyzer),
used directly, without an NLP engine, so no spaCy model is ever loaded or downloaded:
phones are matched by Google's ``phonenumbers`` (international formats, validity checked
per region) and card numbers are Luhn-checked. Names and postal addresses need NER, which
is not available offline; they are found from what the system knows (the names of the
mock enterprise's customers, matched case-insensitively), from cue words ("my name is",
"Dear", "Regards,", titles) and from the usual address shapes (number + street + suffix,
German ``...straße 12``, ``PO Box``, UK postcodes, US state + ZIP). A name nobody
introduces and the system has never seen is not found: see docs/privacy.md.

Ids and amounts the agents work with (SH-0001, INV-0001, SKU-003, PO-00001, $42,380.00,
2026-03-05) are never reported, whatever a recognizer thinks of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Callable, Iterable, Sequence

EMAIL, PHONE, CARD, NAME, ADDRESS = "EMAIL", "PHONE", "CARD", "NAME", "ADDRESS"
PII_TYPES = (EMAIL, PHONE, CARD, NAME, ADDRESS)
PLACEHOLDER = re.compile(r"<(?:EMAIL|PHONE|CARD|NAME|ADDRESS)_\d+>")
# Phone regions tried for numbers written without a country code (international ones always parse).
DEFAULT_REGIONS = ("US", "GB", "DE", "FR", "IN", "CA", "AU", "BR", "ES", "IT", "NL")

# What the agents need to read: record ids (also lower-case), ISO and written dates, money amounts.
_PROTECTED = re.compile(
    r"\b[A-Za-z]{1,6}-\d{2,}(?:-\d+)*\b"                # SH-0001, INV-0001, SKU-003, PO-00001, TCK-0001
    r"|#?W\d{7}\b"                                      # retail order ids (#W0000000)
    r"|\b\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+Z?)?\b"          # 2026-03-05, timestamps
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b"                     # 03/05/2026
    r"|[$€£]\s?\d[\d,]*(?:\.\d+)?"                      # $42,380.00
    r"|\b\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|usd|dollars|units|pcs|kg)\b")

_STREET_SUFFIX = (r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
                  r"Terrace|Ter|Parkway|Pkwy|Highway|Hwy|Square|Sq|Circle|Cir|Crescent|Close|Row|Trail|Alley)")
_US_STATES = ("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC "
              "ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC").split()
_CITY = r"[A-Z][a-zà-ÿ][\wà-ÿ.'-]*(?:\s[A-Z][a-zà-ÿ][\wà-ÿ.'-]*){0,2}"
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}"
_TAIL = (rf"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Floor|Fl)\.?\s*#?\w+|,?\s+#\d+\w?)?"
         rf"(?:,\s*{_CITY})?(?:,?\s+(?:{'|'.join(_US_STATES)})\b)?(?:,?\s+(?:\d{{5}}(?:-\d{{4}})?|{_UK_POSTCODE}))?")
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z0-9][\w.'-]*\s+){{0,4}}{_STREET_SUFFIX}\b\.?{_TAIL}"
    r"|\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|damm|ring)\s+\d{1,4}[a-z]?"
    r"(?:,\s*\d{4,5}\s+[A-ZÄÖÜ][\wäöü-]+)?"
    r"|\b\d{1,4},?\s+(?:rue|avenue|boulevard|place|chemin)\s+(?:[\w'-]+\s?){1,4}(?:,\s*\d{5}\s+[A-Z][\w-]+)?"
    rf"|\bP\.?\s?O\.?\s+Box\s+\d+{_TAIL}"
    rf"|\b{_UK_POSTCODE}\b"
    rf"|\b{_CITY},\s+(?:{'|'.join(_US_STATES)})\s+\d{{5}}(?:-\d{{4}})?\b")

_WORD = r"(?:[A-Z]['’])?[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:['’-][A-ZÀ-ÖØ-Þ]?[a-zß-öø-ÿ]+)?"
_TITLE = r"(?:(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+)?"
_FULL = rf"{_WORD}(?:\s(?:[A-Z]\.\s)?{_WORD}){{1,2}}"
# Cue words that introduce a person. "I am" needs a first and a last name ("I am Happy" is no name).
_NAME_CUES = re.compile(
    rf"(?:\b(?:[Mm]y name is|[Nn]ame:|[Cc]ontact:|[Cc]ontact person:?|[Ss]igned,?|[Aa]sk for|[Ss]poke (?:to|with)|"
    rf"[Cc]all me|[Tt]his is|From:|To:|Cc:)\s+{_TITLE}(?P<a>{_WORD}(?:\s{_WORD}){{0,2}})"
    rf"|\b(?:I am|I'm)\s+(?P<b>{_FULL})"
    rf"|\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+(?P<c>{_WORD}(?:\s{_WORD})?)"
    rf"|\bDear\s+{_TITLE}(?P<d>{_WORD}(?:\s{_WORD}){{0,2}})"
    rf"|\b(?:Regards|Thanks|Thank you|Sincerely|Best|Cheers|Kind regards|Best regards),?\s*\n+\s*(?P<e>{_FULL}|{_WORD})\b)")
_NOT_NAMES = frozenset(
    "customer customers sir madam team support billing all there friend friends valued colleague colleagues "
    "hello hi sorry happy glad writing calling contacting following checking still not just also here operations "
    "manager the a an our your we you they i account technical accounts payable receivable procurement".split())


@dataclass(frozen=True)
class Span:
    """One piece of personal data: where it is in the text, its type and the text itself."""

    start: int
    end: int
    kind: str
    text: str


class PiiDetector:
    """Finds personal data of the enabled ``types`` in text (see the module doc for how, and the limits).

    ``known_names`` returns the names the system knows (customers of the mock enterprise); it
    is called once, on first use, so building a detector costs nothing.
    """

    def __init__(self, types: Sequence[str] = PII_TYPES, *, known_names: Callable[[], Iterable[str]] | None = None,
                 regions: Sequence[str] = DEFAULT_REGIONS):
        unknown = set(types) - set(PII_TYPES)
        if unknown:
            raise ValueError(f"unknown PII types {sorted(unknown)}; known: {', '.join(PII_TYPES)}")
        self.types, self.regions = tuple(types), tuple(regions)
        self._known_names = known_names or (lambda: ())

    def find(self, text: str, names: Sequence[str] = ()) -> list[Span]:
        """Non-overlapping spans in ``text``, left to right; placeholders and protected ids are never inside one.

        ``names``: more names to find anywhere, as the known ones (those a thread has already seen).
        """
        if not text or not text.strip():
            return []
        found = [s for kind in self.types for s in self._finders[kind](text)]
        if names and NAME in self.types:
            found += [Span(m.start(), m.end(), NAME, m.group()) for m in _names_pattern(tuple(names)).finditer(text)]
        blocked = [(m.start(), m.end()) for m in PLACEHOLDER.finditer(text)]
        protected = [(m.start(), m.end()) for m in _PROTECTED.finditer(text)]
        kept = [s for s in found if not _overlaps(s, blocked) and not _protected_hit(s, protected)]
        return _resolve(kept)

    @cached_property
    def _finders(self) -> dict[str, Callable[[str], list[Span]]]:
        return {EMAIL: self._emails, PHONE: self._phones, CARD: self._cards, NAME: self._names,
                ADDRESS: self._addresses}

    @cached_property
    def _presidio(self) -> dict[str, object]:
        """Presidio's pattern recognizers, built on first use (the import is not free)."""
        from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, EmailRecognizer, PhoneRecognizer

        return {EMAIL: _offline_email_recognizer(EmailRecognizer), CARD: CreditCardRecognizer(),
                PHONE: PhoneRecognizer(supported_regions=self.regions)}

    def _run_presidio(self, kind: str, entity: str, text: str) -> list[Span]:
        recognizer = self._presidio[kind]
        results = recognizer.analyze(text, entities=[entity], nlp_artifacts=None)  # type: ignore[attr-defined]
        return [Span(r.start, r.end, kind, text[r.start:r.end]) for r in results if r.score > 0.05]

    def _emails(self, text: str) -> list[Span]:
        return self._run_presidio(EMAIL, "EMAIL_ADDRESS", text) if "@" in text else []

    def _phones(self, text: str) -> list[Span]:
        found = self._run_presidio(PHONE, "PHONE_NUMBER", text) if _digits_at_least(text, 7) else []
        return [s for s in found if _reads_as_phone(s, text)]

    def _cards(self, text: str) -> list[Span]:
        return self._run_presidio(CARD, "CREDIT_CARD", text) if _digits_at_least(text, 12) else []

    def _addresses(self, text: str) -> list[Span]:
        return [Span(m.start(), m.end(), ADDRESS, m.group()) for m in _ADDRESS.finditer(text)]

    def _names(self, text: str) -> list[Span]:
        spans = [Span(m.start(), m.end(), NAME, m.group()) for m in self._known.finditer(text)] if self._known else []
        for match in _NAME_CUES.finditer(text):
            group = next(g for g in "abcde" if match.group(g))
            name = _trim_name(match.group(group))
            if name:
                start = match.start(group)
                spans.append(Span(start, start + len(name), NAME, name))
        return spans

    @cached_property
    def _known(self) -> re.Pattern[str] | None:
        """One case-insensitive pattern for every known name, longest first (so a full name wins)."""
        names = tuple(self._known_names())
        return _names_pattern(names) if any(len(n.strip()) >= 4 for n in names if n) else None


# Quantities and amounts in data ("liability_cap_usd": 360000.0) are digit runs that some region's
# numbering plan accepts; a phone written for people is formatted or carries the full number.
MIN_BARE_PHONE_DIGITS = 10
# An amount: 1377.64, 1,377.64, 42,380 (one decimal point; a phone with dots has several).
_DECIMAL = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+")


def _reads_as_phone(span: Span, text: str) -> bool:
    """False for a number that only looks like a phone: a short bare digit run, or the whole part of a decimal."""
    if re.match(r"[.,]\d", text[span.end:span.end + 2]) or _DECIMAL.fullmatch(span.text):
        return False
    return not (span.text.isdigit() and len(span.text) < MIN_BARE_PHONE_DIGITS)


@lru_cache(maxsize=256)
def _names_pattern(names: Sequence[str]) -> re.Pattern[str]:
    """Case-insensitive, whole-word pattern for ``names`` (four characters or more), longest first."""
    kept = sorted({n.strip() for n in names if n and len(n.strip()) >= 4}, key=len, reverse=True)
    body = "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in kept) or r"(?!x)x"
    return re.compile(r"(?<![\w@.])(?:" + body + r")(?![\w@])", re.IGNORECASE)


def _offline_email_recognizer(base: type) -> object:
    """Presidio's e-mail recognizer with its domain check made offline.

    Presidio validates a match with ``tldextract.extract``, whose default extractor fetches the
    public suffix list over the network on first use; this one reads the snapshot shipped in
    the tldextract wheel and never goes online.
    """
    import tldextract

    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(base):  # type: ignore[misc, valid-type]
        def validate_result(self, pattern_text: str) -> bool:
            return extract(pattern_text).fqdn != ""

    return OfflineEmailRecognizer()


def _trim_name(candidate: str) -> str:
    """The name a cue introduced, without trailing non-name words; "" when it is no name at all."""
    words = list(re.finditer(r"\S+", candidate))
    while words and words[-1].group().lower() in _NOT_NAMES:
        words.pop()
    if not words or words[0].group().lower() in _NOT_NAMES:
        return ""
    return candidate[: words[-1].end()]


def _digits_at_least(text: str, count: int) -> bool:
    return sum(ch.isdigit() for ch in text) >= count


def _overlaps(span: Span, ranges: list[tuple[int, int]]) -> bool:
    return any(span.start < end and start < span.end for start, end in ranges)


def _protected_hit(span: Span, protected: list[tuple[int, int]]) -> bool:
    """Whether a number-like span is really an id, a date or an amount (names and e-mails never are)."""
    if span.kind in (NAME, EMAIL):
        return False
    return _overlaps(span, protected)


def _resolve(spans: list[Span]) -> list[Span]:
    """Longest span wins where spans overlap; ties go to the more specific type (card, e-mail, phone...)."""
    rank = {CARD: 0, EMAIL: 1, PHONE: 2, ADDRESS: 3, NAME: 4}
    ordered = sorted(spans, key=lambda s: (-(s.end - s.start), rank[s.kind], s.start))
    chosen: list[Span] = []
    for span in ordered:
        if not _overlaps(span, [(c.start, c.end) for c in chosen]):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)
