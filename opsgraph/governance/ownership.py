"""Customer scope: a conversation on behalf of one customer may only change that customer's records.

Text in a ticket or a message can name any invoice, ticket or account; a write is only
allowed when the record it changes belongs to the customer the conversation is about.
"""

from __future__ import annotations

from typing import Any, Callable

# How to find the owning customer of the record a tool argument names.
_OWNER_LOOKUPS: dict[str, Callable[[Any, str], dict]] = {
    "invoice_id": lambda world, value: world.billing.get_invoice(value),
    "ticket_id": lambda world, value: world.crm.get_ticket(value),
    "order_id": lambda world, value: world.crm.get_order(value),
}


def owners(args: dict[str, Any], world: Any) -> set[str]:
    """Customers owning the records named by ``args`` (unknown ids are left to the tool to reject)."""
    found = {str(args["customer_id"]).upper()} if args.get("customer_id") else set()
    for key, lookup in _OWNER_LOOKUPS.items():
        if not args.get(key):
            continue
        try:
            found.add(str(lookup(world, str(args[key]))["customer_id"]).upper())
        except Exception:  # noqa: BLE001 - the tool itself reports unknown ids clearly
            continue
    return found


def scope_violation(args: dict[str, Any], customer: str | None, world: Any) -> str | None:
    """Why a write with ``args`` falls outside ``customer``'s records, or None when it does not."""
    if not customer:
        return None
    others = sorted(owners(args, world) - {customer.upper()})
    if not others:
        return None
    return f"this conversation is about {customer}; the record belongs to {', '.join(others)}"


def customer_of(results: list[Any]) -> str | None:
    """The customer a conversation is about, from the first record read that names one."""
    for result in results:
        if isinstance(result, dict) and isinstance(result.get("customer_id"), str):
            return result["customer_id"].upper()
    return None
