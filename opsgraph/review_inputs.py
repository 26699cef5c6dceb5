"""Graph input for the review workflows (``contract_review``, ``supplier_risk``) from CLI options or chat text.

Ids are checked against the mock enterprise before a run starts, so a typo is a one-line
error rather than a run that fails half-way.
"""

from __future__ import annotations

import re
from typing import Any

from opsgraph.errors import UserError
from opsgraph.registry import checked_text, connector_errors_as_user_errors, found_id

_CONTRACT = re.compile(r"\bCTR-\d{4}\b", re.IGNORECASE)
_SUPPLIER = re.compile(r"\bSUP-\d{3}\b", re.IGNORECASE)


def _named_id(options: dict[str, Any], option: str, pattern: re.Pattern, missing: str) -> str:
    """The id given with ``--<option>``, else the first one in ``--event``; a UserError saying ``missing`` if none."""
    named = options.get(option) or found_id(pattern, checked_text(options.get("event"), "the request"))
    named = (named or "").strip().upper()
    if not named:
        raise UserError(missing)
    return named


def contract_review_input(options: dict[str, Any], world: Any) -> dict[str, Any]:
    """``--contract CTR-1001`` (or a contract id in ``--event``) -> ``{"contract_id": ...}``."""
    contract = _named_id(options, "contract", _CONTRACT,
                         "name the contract to review with --contract CTR-1001 (samples: CTR-1001 to CTR-1006)")
    with connector_errors_as_user_errors():
        world.contracts.read_contract(contract)
    return {"contract_id": contract}


def supplier_risk_input(options: dict[str, Any], world: Any) -> dict[str, Any]:
    """``--supplier SUP-001`` (or a supplier id in ``--event``) -> ``{"supplier_id": ...}``."""
    supplier = _named_id(options, "supplier", _SUPPLIER,
                         "name the supplier with --supplier SUP-001 (or mention its id in --event)")
    with connector_errors_as_user_errors():
        world.erp.get_supplier(supplier)
    return {"supplier_id": supplier}


def contract_review_chat(text: str, world: Any) -> dict[str, Any]:
    """A chat line such as 'review CTR-1002' as ``contract_review`` input."""
    return contract_review_input({"event": text}, world)


def supplier_risk_chat(text: str, world: Any) -> dict[str, Any]:
    """A chat line such as 'how risky is SUP-019?' as ``supplier_risk`` input."""
    return supplier_risk_input({"event": text}, world)
