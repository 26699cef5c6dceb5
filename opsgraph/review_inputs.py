"""Graph input for the review workflows (``contract_review``, ``supplier_risk``) from CLI options or chat text.

Ids are checked against the mock enterprise before a run starts, so a typo is a one-line
error rather than a run that fails half-way.
"""

from __future__ import annotations

import re
from typing import Any

from opsgraph.errors import UserError

_CONTRACT = re.compile(r"\bCTR-\d{4}\b", re.IGNORECASE)
_SUPPLIER = re.compile(r"\bSUP-\d{3}\b", re.IGNORECASE)
MAX_TEXT_CHARS = 4000


def _text(options: dict[str, Any]) -> str:
    text = (options.get("event") or "").strip()
    if len(text) > MAX_TEXT_CHARS:
        raise UserError(f"the request is {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    return text


def _found(pattern: re.Pattern, text: str) -> str | None:
    match = pattern.search(text)
    return match.group(0).upper() if match else None


def contract_review_input(options: dict[str, Any], world: Any) -> dict[str, Any]:
    """``--contract CTR-1001`` (or a contract id in ``--event``) -> ``{"contract_id": ...}``."""
    from tools.connectors.base import ConnectorError

    contract = (options.get("contract") or _found(_CONTRACT, _text(options)) or "").strip().upper()
    if not contract:
        raise UserError("name the contract to review with --contract CTR-1001 (samples: CTR-1001 to CTR-1006)")
    try:
        world.contracts.read_contract(contract)
    except ConnectorError as exc:
        raise UserError(str(exc)) from None
    return {"contract_id": contract}


def supplier_risk_input(options: dict[str, Any], world: Any) -> dict[str, Any]:
    """``--supplier SUP-001`` (or a supplier id in ``--event``) -> ``{"supplier_id": ...}``."""
    from tools.connectors.base import ConnectorError

    supplier = (options.get("supplier") or _found(_SUPPLIER, _text(options)) or "").strip().upper()
    if not supplier:
        raise UserError("name the supplier with --supplier SUP-001 (or mention its id in --event)")
    try:
        world.erp.get_supplier(supplier)
    except ConnectorError as exc:
        raise UserError(str(exc)) from None
    return {"supplier_id": supplier}


def contract_review_chat(text: str, world: Any) -> dict[str, Any]:
    """A chat line such as 'review CTR-1002' as ``contract_review`` input."""
    return contract_review_input({"event": text}, world)


def supplier_risk_chat(text: str, world: Any) -> dict[str, Any]:
    """A chat line such as 'how risky is SUP-019?' as ``supplier_risk`` input."""
    return supplier_risk_input({"event": text}, world)
