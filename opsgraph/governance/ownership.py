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


class OwnerUnknown(Exception):
    """The owner of a named record could not be established (a transient failure): the write is refused."""


def owners(args: dict[str, Any], world: Any) -> set[str]:
    """Customers owning the records named by ``args``; unknown ids are left to the tool to reject.

    Raises OwnerUnknown when a lookup fails for any other reason: doubt never widens scope.
    """
    from opsgraph.tools.connectors.base import NotFound

    found = {str(args["customer_id"]).strip().upper()} if args.get("customer_id") else set()
    for key, lookup in _OWNER_LOOKUPS.items():
        if not args.get(key):
            continue
        try:
            found.add(str(lookup(world, str(args[key]))["customer_id"]).upper())
        except NotFound:
            continue
        except Exception as exc:  # noqa: BLE001 - any other failure is doubt about whose record it is
            raise OwnerUnknown(f"could not confirm who owns {key} {args[key]!r} ({type(exc).__name__})") from None
    return found


def scope_violation(args: dict[str, Any], customer: str | None, world: Any) -> str | None:
    """Why a write with ``args`` falls outside ``customer``'s records, or None when it does not."""
    if not customer:
        return None
    try:
        others = sorted(owners(args, world) - {customer.upper()})
    except OwnerUnknown as exc:
        return str(exc)
    if not others:
        return None
    return f"this conversation is about {customer}; the record belongs to {', '.join(others)}"


IDENTITY_HELP = ("the customer's identity is not verified on this channel, so nothing on their account can be "
                 "changed; to verify it, ask them to sign in to the support portal or chat, or have an operator start the "
                 "conversation with --customer CUST-xxx after checking who they are")


def identity_refusal(customer: str | None, writes: bool) -> str | None:
    """Why a write cannot run without a customer identity verified by the channel, or None.

    The identity comes from the channel (the ``--customer`` option, the chat session, the
    API caller), never from message text: a message saying "this is Atlas" proves nothing.
    """
    return IDENTITY_HELP if writes and not customer else None


def customer_of(results: list[Any]) -> str | None:
    """The customer a conversation is about, from the first record read that names one."""
    for result in results:
        if isinstance(result, dict) and isinstance(result.get("customer_id"), str):
            return result["customer_id"].upper()
    return None
