"""Deterministic clause parsing of supplier agreements and the rule check against our standards.

``extract_terms`` reads the numbered sections of a contract and pulls each commercial term
from the section it belongs to, so text elsewhere in the document (a note, a schedule, an
instruction planted in a clause) cannot supply or overwrite a term. It extracts; it does not
judge: implausible values are returned as written and left to validation.

``check_terms`` compares extracted terms with the standards in policy.yaml (``contracts:``)
and lists every deviation with the clause, our position, the supplier's and a risk rating.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

RISK_ORDER = ("none", "low", "medium", "high")
REQUIRED_TERMS = ("supplier_name", "effective_date", "expiry_date", "annual_value_usd", "payment_terms_days",
                  "liability_cap_usd", "governing_law")

_HEADING = re.compile(r"^\s*(\d{1,2})\.\s+([A-Z][A-Z ,&/'-]{2,})\s*$", re.MULTILINE)
_HEADER = re.compile(r"^(Contract ID|Supplier ID|Supplier):\s*(.+?)\s*$", re.MULTILINE)
_DAYS = re.compile(r"\bnet\s+(\d+)\b|\((\d+)\)\s*(?:calendar\s+|business\s+)?days?\b|\b(\d+)\s*days?\b", re.I)
_MONTHS = re.compile(r"\((\d+)\)\s*[- ]?months?\b|\b(\d+)\s*[- ]?months?\b", re.I)
_PERCENT = re.compile(r"\((\d+(?:\.\d+)?)\s*%\)|\b(\d+(?:\.\d+)?)\s*%")
_MONEY = re.compile(r"(?:US\$|USD|\$)\s?(-?\d[\d,]*(?:\.\d+)?)(?![\d,]*[^\s\d,.])")
_ISO_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
_LONG_DATE = re.compile(r"\b(\d{1,2}\s+[A-Z][a-z]+\s+\d{4}|[A-Z][a-z]+\s+\d{1,2},\s+\d{4})\b")
_LAW = re.compile(r"governed by the laws of (?:the )?(.+?)(?:,|\.\s|\.$|\s+without\b)", re.I | re.S)
_SECTION_WORDS = {
    "term": ("TERM", "RENEWAL"), "value": ("VOLUME", "VALUE"), "price": ("PRICES", "PRICE", "PRICING"),
    "payment": ("PAYMENT",), "liability": ("LIABILITY",), "termination": ("TERMINATION",),
    "law": ("LAW", "JURISDICTION"),
}


def sections(text: str) -> dict[str, str]:
    """Body of each recognised section (term, value, price, payment, liability, termination, law)."""
    found: dict[str, str] = {}
    heads = list(_HEADING.finditer(text))
    for index, head in enumerate(heads):
        end = heads[index + 1].start() if index + 1 < len(heads) else len(text)
        words = set(re.split(r"[^A-Z]+", head.group(2)))
        clause = next((c for c, keys in _SECTION_WORDS.items() if words & set(keys)), None)
        if clause and clause not in found:  # the first section of a kind is the operative one
            found[clause] = text[head.end():end]
    return found


def _first_number(pattern: re.Pattern, text: str) -> float | None:
    match = pattern.search(text or "")
    if not match:
        return None
    return float(next(g for g in match.groups() if g is not None))


def _as_int(value: float | None) -> int | None:
    return None if value is None else int(value)


def parse_date(text: str) -> str | None:
    """First date in ``text`` as written in ISO form (``2026-02-30`` stays as is for validation)."""
    iso = _ISO_DATE.search(text or "")
    if iso:
        return iso.group(1)
    long = _LONG_DATE.search(text or "")
    if not long:
        return None
    for fmt in ("%d %B %Y", "%B %d, %Y"):
        try:
            return datetime.strptime(long.group(1), fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _dates(term: str) -> tuple[str | None, str | None]:
    found = [m.group(1) for m in _ISO_DATE.finditer(term)] or [d for d in map(parse_date, _split_dates(term)) if d]
    return (found[0] if found else None, found[1] if len(found) > 1 else None)


def _split_dates(term: str) -> list[str]:
    return [m.group(1) for m in _LONG_DATE.finditer(term)]


def _money(text: str) -> float | None:
    match = _MONEY.search(text or "")
    return float(match.group(1).replace(",", "")) if match else None


def _sentences(text: str) -> list[str]:
    # Sub-clause numbers ("6.2 ") also start a sentence.
    flat = " ".join((text or "").split())
    return [s.strip() for s in re.split(r"(?<=[.;])\s+|\s(?=\d+\.\d+\s)", flat) if s.strip()]


def _renewal(term: str) -> dict[str, Any]:
    flat = " ".join(term.split())
    if re.search(r"\b(?:does|shall|will) not renew|\bno automatic renewal", flat, re.I):
        return {"auto_renewal": False, "renewal_term_months": None, "non_renewal_notice_days": None}
    sentence = next((s for s in _sentences(term) if re.search(r"renews? automatically|automatically renew", s, re.I)), None)
    if sentence is None:
        return {"auto_renewal": False, "renewal_term_months": None, "non_renewal_notice_days": None}
    return {"auto_renewal": True, "renewal_term_months": _as_int(_first_number(_MONTHS, sentence)),
            "non_renewal_notice_days": _as_int(_first_number(_DAYS, sentence))}


def _termination(section: str) -> dict[str, Any]:
    notice: dict[str, int | None] = {"buyer": None, "supplier": None}
    for sentence in _sentences(section):
        if "convenience" not in sentence.lower():
            continue
        days = _as_int(_first_number(_DAYS, sentence))
        lowered = sentence.lower()
        for party in ("buyer", "supplier"):
            if re.search(rf"\b(?:{party}|either party)\b[^.]*\bterminate", lowered) and notice[party] is None:
                notice[party] = days
    return {"buyer_convenience_notice_days": notice["buyer"], "supplier_convenience_notice_days": notice["supplier"]}


def _price(section: str) -> dict[str, Any]:
    flat = " ".join((section or "").split())
    capped = re.search(r"no more than[^.]*?(\(\d+(?:\.\d+)?\s*%\)|\d+(?:\.\d+)?\s*%)", flat, re.I)
    if capped:
        return {"price_adjustment": "capped", "price_increase_cap_pct": _first_number(_PERCENT, capped.group(1))}
    if re.search(r"sole discretion|at any time", flat, re.I):
        return {"price_adjustment": "uncapped", "price_increase_cap_pct": None}
    if re.search(r"\bfixed for the (?:term|duration)", flat, re.I):
        return {"price_adjustment": "fixed", "price_increase_cap_pct": 0.0}
    return {"price_adjustment": None, "price_increase_cap_pct": None}


def _payment(section: str) -> dict[str, Any]:
    discount = next((_first_number(_PERCENT, s) for s in _sentences(section) if "discount" in s.lower()), None)
    return {"payment_terms_days": _as_int(_first_number(_DAYS, section)), "early_payment_discount_pct": discount}


def _liability(section: str, annual_value: float | None) -> dict[str, Any]:
    sentence = next((s for s in _sentences(section) if re.search(r"not exceed|limited to|capped at", s, re.I)), "")
    months = _first_number(_MONTHS, sentence) if re.search(r"\bfees\b", sentence, re.I) else None
    if months is not None:
        cap = round(annual_value * months / 12, 2) if annual_value is not None else None
        return {"liability_cap_basis": f"fees of {int(months)} months", "liability_cap_months": int(months),
                "liability_cap_usd": cap}
    amount = _money(sentence)
    basis = "fixed amount" if amount is not None else None
    return {"liability_cap_basis": basis, "liability_cap_months": None, "liability_cap_usd": amount}


def _law(section: str) -> str | None:
    match = _LAW.search(" ".join((section or "").split()))
    if not match:
        return None
    return re.sub(r"^State of\s+", "", match.group(1).strip(), flags=re.I)


def extract_terms(contract_id: str, text: str) -> dict[str, Any]:
    """The commercial terms of one contract, each read from its own section; None when absent."""
    parts = sections(text)
    header = {m.group(1): m.group(2) for m in _HEADER.finditer(text[:2000])}
    effective, expiry = _dates(parts.get("term", ""))
    annual = _money(parts.get("value", ""))
    terms: dict[str, Any] = {
        "contract_id": header.get("Contract ID", contract_id), "supplier_id": header.get("Supplier ID"),
        "supplier_name": header.get("Supplier"), "effective_date": effective, "expiry_date": expiry,
        "annual_value_usd": annual, **_payment(parts.get("payment", "")), **_liability(parts.get("liability", ""), annual),
        **_termination(parts.get("termination", "")), **_renewal(parts.get("term", "")), **_price(parts.get("price", "")),
        "governing_law": _law(parts.get("law", "")),
    }
    terms["sections_found"] = sorted(parts)
    terms["missing_fields"] = [name for name in REQUIRED_TERMS if terms.get(name) is None]
    return terms


@dataclass(frozen=True)
class ContractStandards:
    """Our standard positions, read from policy.yaml ``contracts:``."""

    payment_standard_days: int
    payment_min_days: int
    net30_min_discount_pct: float
    liability_min_months: int
    buyer_notice_days: int
    supplier_min_notice_days: int
    max_renewal_months: int
    max_non_renewal_notice_days: int
    max_price_increase_pct: float
    governing_law: str

    @classmethod
    def from_policy(cls, policy: Any) -> "ContractStandards":
        """Read every standard from ``policy`` (a :class:`Policy`)."""
        get = policy.get
        return cls(
            get("contracts.payment_terms.standard_days"), get("contracts.payment_terms.min_days"),
            float(get("contracts.payment_terms.min_discount_for_net_30_pct")),
            get("contracts.liability.min_cap_months_of_fees"), get("contracts.termination.buyer_convenience_notice_days"),
            get("contracts.termination.supplier_min_convenience_notice_days"),
            get("contracts.auto_renewal.max_renewal_term_months"), get("contracts.auto_renewal.max_non_renewal_notice_days"),
            float(get("contracts.price_adjustment.max_annual_increase_pct")), str(get("contracts.governing_law")),
        )


def _deviation(clause: str, standard: str, position: str, risk: str) -> dict[str, str]:
    return {"clause": clause, "standard": standard, "supplier_position": position, "risk": risk}


def _payment_rule(t: dict, s: ContractStandards) -> list[dict]:
    days, discount = t.get("payment_terms_days"), t.get("early_payment_discount_pct") or 0
    standard = (f"net {s.payment_standard_days} days; net {s.payment_min_days} only with a discount of at least "
                f"{s.net30_min_discount_pct:g}%")
    if days is None or days >= s.payment_standard_days:
        return []
    if days < s.payment_min_days:
        return [_deviation("payment_terms", standard, f"net {days} days (needs finance approval)", "high")]
    risk = "low" if discount >= s.net30_min_discount_pct else "medium"
    return [_deviation("payment_terms", standard, f"net {days} days with a {discount:g}% discount", risk)]


def _liability_rule(t: dict, s: ContractStandards) -> list[dict]:
    cap, annual = t.get("liability_cap_usd"), t.get("annual_value_usd")
    if cap is None or annual is None:
        return []
    floor = annual * s.liability_min_months / 12
    if cap >= floor:
        return []
    return [_deviation("liability_cap", f"at least the fees of {s.liability_min_months} months (${floor:,.0f})",
                       f"capped at ${cap:,.0f} ({t.get('liability_cap_basis')})", "high")]


def _termination_rule(t: dict, s: ContractStandards) -> list[dict]:
    found = []
    buyer, supplier = t.get("buyer_convenience_notice_days"), t.get("supplier_convenience_notice_days")
    if buyer is None or buyer > s.buyer_notice_days:
        position = "no right for us to terminate for convenience" if buyer is None else f"{buyer} days' notice"
        found.append(_deviation("buyer_termination", f"we may terminate for convenience on {s.buyer_notice_days} days' notice",
                                position, "medium"))
    if supplier is not None and supplier < s.supplier_min_notice_days:
        found.append(_deviation("supplier_termination", f"supplier convenience termination needs at least "
                                f"{s.supplier_min_notice_days} days' notice", f"{supplier} days' notice", "high"))
    return found


def _renewal_rule(t: dict, s: ContractStandards) -> list[dict]:
    if not t.get("auto_renewal"):
        return []
    months, notice = t.get("renewal_term_months"), t.get("non_renewal_notice_days")
    too_long = months is not None and months > s.max_renewal_months
    late_notice = notice is not None and notice > s.max_non_renewal_notice_days
    if not (too_long or late_notice):
        return []
    return [_deviation("auto_renewal", f"renewal terms of at most {s.max_renewal_months} months, non-renewal notice of "
                       f"at most {s.max_non_renewal_notice_days} days",
                       f"renews for {months} months unless notice {notice} days before expiry", "medium")]


def _price_rule(t: dict, s: ContractStandards) -> list[dict]:
    kind, cap = t.get("price_adjustment"), t.get("price_increase_cap_pct")
    standard = f"increases of at most {s.max_price_increase_pct:g}% a year"
    if kind == "uncapped":
        return [_deviation("price_adjustment", standard, "supplier may change prices at any time, uncapped", "high")]
    if cap is not None and cap > s.max_price_increase_pct:
        return [_deviation("price_adjustment", standard, f"increases of up to {cap:g}% a year", "medium")]
    return []


def _law_rule(t: dict, s: ContractStandards) -> list[dict]:
    law = t.get("governing_law")
    if law is None or law.strip().lower() == s.governing_law.lower():
        return []
    return [_deviation("governing_law", f"laws of {s.governing_law}", f"laws of {law}", "medium")]


RULES = (_payment_rule, _liability_rule, _termination_rule, _renewal_rule, _price_rule, _law_rule)


def highest_risk(deviations: list[dict]) -> str:
    """The most severe risk among ``deviations`` ('none' when there are none)."""
    return max((d["risk"] for d in deviations), key=RISK_ORDER.index, default="none")


def recommendation_for(risk: str) -> str:
    """What a reviewer should do with a contract whose worst deviation is ``risk``."""
    return {"high": "escalate_to_legal", "medium": "negotiate"}.get(risk, "sign")


def check_terms(terms: dict[str, Any], standards: ContractStandards) -> dict[str, Any]:
    """Every deviation of ``terms`` from ``standards``, the worst risk and the recommendation."""
    deviations = [d for rule in RULES for d in rule(terms, standards)]
    worst = highest_risk(deviations)
    return {"contract_id": terms.get("contract_id"), "compliant": worst in ("none", "low"), "highest_risk": worst,
            "recommendation": recommendation_for(worst), "deviation_count": len(deviations), "deviations": deviations}


def parse_iso(value: Any) -> date | None:
    """``value`` as a date when it is one (or an ISO string of one); None otherwise."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None
