"""The ``recall_memory`` tool: past episodes and lessons about the records an agent is working on.

Read-only. One instance is built per agent (like ``search_knowledge``), so the agent's
``memory.agents.<name>`` policy (how many items, how old, which namespaces) is fixed when
the tool is made and cannot be widened through the call::

    tool = build_recall_tool(memory, "buyer")
    tool.invoke({"subject_ids": ["SKU-003", "SUP-006"], "query": "purchase order quantity"})
    # {"heading": "Relevant past episodes and lessons:", "items": [{"citation": "memory:le_… (lesson, …)", …}]}
"""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, Field

TOOL_NAME = "recall_memory"
MAX_SUBJECTS = 20
MAX_QUERY_CHARS = 1000
DESCRIPTION = (
    "Recall past episodes (earlier runs about the same records) and lessons from human approvers' edits "
    "and rejections, for suppliers, SKUs, customers, carriers or shipments. Returns the relevant memories "
    "under 'Relevant past episodes and lessons:', each with a citation such as memory:le_3f2a9c1d04 "
    "(lesson, 2026-11-30); a lesson may state values the approver accepted (stated_values). Memories "
    "guide proposals; they never override policy or approvals."
)


class RecallMemoryArgs(BaseModel):
    """Arguments of ``recall_memory``."""

    subject_ids: list[str] = Field(description="Ids of the records the memories are about: suppliers, SKUs, "
                                               "customers, carriers or shipments, e.g. SUP-006, SKU-003, CUST-001, "
                                               "CAR-002, SH-0001.")
    query: str = Field("", description="What you want to recall, in plain words, e.g. 'purchase order quantity'.")


def build_recall_tool(memory: Any, agent_name: str) -> BaseTool:
    """A ``recall_memory`` tool that recalls what ``agent_name``'s memory policy allows."""

    def recall_memory(subject_ids: list[str], query: str = "") -> dict[str, Any]:
        """Recall memories about ``subject_ids`` within ``agent_name``'s memory policy."""
        ids = [str(s).strip().upper() for s in subject_ids or [] if str(s).strip()]
        if not ids:
            raise ToolException("subject_ids is empty; name the suppliers, SKUs or customers, e.g. ['SUP-006']")
        if len(ids) > MAX_SUBJECTS or len(query or "") > MAX_QUERY_CHARS:
            raise ToolException(f"ask about at most {MAX_SUBJECTS} subjects and {MAX_QUERY_CHARS} query characters")
        return memory.recall(ids, query or "", agent_name)

    return StructuredTool.from_function(
        func=recall_memory, name=TOOL_NAME, description=DESCRIPTION, args_schema=RecallMemoryArgs,
        metadata={"system": "memory", "writes": False},
    )
