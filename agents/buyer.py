"""Buyer: the maker of procurement review; turns a purchase request into a proposed purchase order."""

from opsgraph.agents.base import AgentSpec

BUYER = AgentSpec(
    name="buyer",
    description="Drafts a purchase order proposal from a purchase request and revises it on the reviewers' feedback.",
    prompt="buyer",
    tools=("search_knowledge", "recall_memory", "list_suppliers", "get_supplier", "draft_purchase_order"),
    history="summary",
)
