"""The ``search_knowledge`` tool: policy and SOP look-up for one agent, with citations.

One tool instance is built per agent, so the permission scope is fixed when the tool is
created and a model cannot widen it through the call arguments::

    tool = build_retrieval_tool(retriever, "procurement")
    tool.invoke({"query": "who approves a purchase order above the threshold?"})
    # {"results": [{"citation": "[procurement/po-approval.md § Approval limits]", ...}]}
"""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, Field

from opsgraph.errors import RunFailed

TOOL_NAME = "search_knowledge"
MAX_QUERY_CHARS = 2000
MAX_K = 10
DESCRIPTION = (
    "Search the company's policies and standard operating procedures (approval thresholds, supplier "
    "rules, carrier SLAs, notification windows, refund rules, troubleshooting guides). Returns the most "
    "relevant passages you are permitted to read, each with a citation such as "
    "[procurement/po-approval.md § Approval limits]. Quote the citation when you rely on a passage."
)


class SearchKnowledgeArgs(BaseModel):
    """Arguments of ``search_knowledge``."""

    query: str = Field(description="What you want to know, in plain words, e.g. "
                                   "'who must approve a purchase order above the threshold'. At most 2000 characters.")
    k: int = Field(4, description="How many passages to return (1-10, default 4).")


def build_retrieval_tool(retriever: Any, agent_name: str) -> BaseTool:
    """A ``search_knowledge`` tool that searches only what ``agent_name`` may read.

    Raises the retriever's ``UnknownAgentError`` at once when policy.yaml does not define the agent,
    so a misconfigured graph fails when it is built rather than on its first search.
    """
    retriever.scope(agent_name)

    def search_knowledge(query: str, k: int = 4) -> dict[str, Any]:
        """Search the knowledge base within ``agent_name``'s permissions."""
        _check(query, k)
        try:
            hits = retriever.search(query, agent=agent_name, k=k)
        except Exception as exc:  # noqa: BLE001 - the arguments were checked above: what is left is the store
            # A store that cannot answer is not something the agent can fix by rephrasing, and an
            # agent that carried on without its policies could act against them: the run fails.
            raise RunFailed(f"knowledge store failed during {agent_name}'s search: {exc}", agent=agent_name) from exc
        return {"results": [{"citation": h.citation, "title": h.title, "department": h.department,
                             "score": round(h.score, 3), "text": h.text} for h in hits]}

    return StructuredTool.from_function(
        func=search_knowledge, name=TOOL_NAME, description=DESCRIPTION, args_schema=SearchKnowledgeArgs,
        metadata={"system": "knowledge", "writes": False},
    )


def _check(query: str, k: int) -> None:
    """Reject unusable arguments with a message the model can act on."""
    if not isinstance(query, str) or not query.strip():
        raise ToolException("query is empty; describe what you are looking for, e.g. 'refund approval limit'")
    if len(query) > MAX_QUERY_CHARS:
        raise ToolException(f"query is {len(query)} characters; keep it under {MAX_QUERY_CHARS} "
                            "by asking about one topic at a time")
    if not 1 <= int(k) <= MAX_K:
        raise ToolException(f"k must be between 1 and {MAX_K}, got {k}")
