"""Graph input for ``demand_sensing`` from CLI options (``--sku``) or chat text ("sense demand for SKU-003")."""

from __future__ import annotations

import re
from typing import Any

from opsgraph.errors import UserError
from opsgraph.registry import checked_text, connector_errors_as_user_errors, found_id

_SKU = re.compile(r"\bSKU-\d{3}\b", re.IGNORECASE)


def demand_sensing_input(options: dict[str, Any], world: Any) -> dict[str, Any]:
    """``--sku SKU-001`` (or a SKU id in ``--request``/``--event`` text), checked against the demand feeds."""
    text = checked_text(options.get("request") or options.get("event") or options.get("message"), "the request")
    sku = str(options.get("sku") or found_id(_SKU, text) or "").strip().upper()
    if not sku:
        raise UserError("name the SKU with --sku SKU-001 (SKUs with demand feeds: SKU-001, SKU-002, SKU-003, "
                        "SKU-004, SKU-007)")
    with connector_errors_as_user_errors():
        world.demand.sales_history(sku)
    return {"sku_id": sku}


def demand_sensing_chat(text: str, world: Any) -> dict[str, Any]:
    """A chat line such as 'sense demand for SKU-003' as ``demand_sensing`` input."""
    return demand_sensing_input({"request": text}, world)
