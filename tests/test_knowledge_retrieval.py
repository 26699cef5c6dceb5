"""Retrieval over the shipped corpus: ranking, permission filtering, citations, tool, CLI, eval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import ToolException
from typer.testing import CliRunner

from opsgraph.evals.retrieval.run import TARGETS, evaluate, load_dataset
from opsgraph.governance.policy import Policy, load_policy
from opsgraph.knowledge.cli import kb_app
from opsgraph.knowledge.embeddings import MiniLMOnnxEmbedding
from opsgraph.knowledge.errors import KnowledgeError, UnknownAgentError
from opsgraph.knowledge.ingest import ingest
from opsgraph.knowledge.retrieval import DEFAULT_MODE, Retriever
from opsgraph.settings import load_settings
from opsgraph.tools.retrieval import build_retrieval_tool

CASES = load_dataset()


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for CLI runs: this data home, and no store URL or embedding from the caller's shell."""
    return {"OPSGRAPH_HOME": str(home), "OPSGRAPH_CHROMA_URL": "", "OPSGRAPH_EMBEDDING": "",
            "OPSGRAPH_CONFIG": "", **extra}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kb-home")


@pytest.fixture(scope="module")
def settings(home: Path) -> Any:
    return load_settings(env={"OPSGRAPH_HOME": str(home)}, cwd=home)


@pytest.fixture(scope="module")
def policy(settings: Any) -> Policy:
    return load_policy(settings.policy_path)


@pytest.fixture(scope="module")
def retriever(settings: Any, policy: Policy) -> Retriever:
    ef = MiniLMOnnxEmbedding()
    ingest(None, settings, policy=policy, embedding_function=ef)
    return Retriever(settings, policy, embedding_function=ef, auto_ingest=False)


def test_kb_search_puts_the_po_approval_policy_first(retriever, home):
    result = CliRunner().invoke(kb_app, ["search", "who must approve a large purchase order", "--json", "-k", "3"],
                                env=cli_env(home))
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert hits[0]["source"] == "procurement/po-approval.md"
    assert hits[0]["citation"].startswith("[procurement/po-approval.md § ")


def test_kb_search_table_shows_citations(retriever, home):
    result = CliRunner().invoke(kb_app, ["search", "refund window", "--as", "procurement", "-k", "2"],
                                env=cli_env(home, COLUMNS="200"))
    assert result.exit_code == 0, result.output
    assert "[finance/refund-policy.md § " in result.output and "as procurement" in result.output


def test_unknown_agent_is_a_clear_cli_error(retriever, home):
    result = CliRunner().invoke(kb_app, ["search", "refunds", "--as", "intern"], env=cli_env(home))
    assert result.exit_code == 1
    assert "unknown agent 'intern'" in result.output and "Traceback" not in result.output
    with pytest.raises(UnknownAgentError):
        retriever.search("refunds", agent="intern")


def _allowed(policy: Policy, agent: str) -> tuple[set[str], int]:
    knowledge = policy.agent(agent).knowledge
    return set(knowledge.departments), policy.access_rank(knowledge.max_access)


def test_agents_never_receive_chunks_outside_their_permissions(retriever, policy):
    for agent in policy.agent_names:
        departments, max_rank = _allowed(policy, agent)
        for case in CASES:
            for hit in retriever.search(case.question, agent=agent, k=10):
                assert hit.department in departments, (agent, case.id, hit.citation)
                assert policy.access_rank(hit.access) <= max_rank, (agent, case.id, hit.citation)


def test_customer_support_agent_never_sees_restricted_hr_or_security(retriever, policy):
    seen = set()
    for case in CASES:
        for mode in ("hybrid", "vector", "lexical"):
            for hit in retriever.search(case.question, agent="customer_comms", k=10, mode=mode):
                assert hit.access != "restricted" and hit.department not in ("hr", "security"), (case.id, hit)
                seen.add(hit.department)
    assert seen <= {"customer_support", "logistics"}
    # The operator, by contrast, does get them.
    assert retriever.search("salary band for a manager", k=1)[0].department == "hr"


def test_permission_filter_runs_inside_chroma_and_the_lexical_index(retriever, monkeypatch):
    collection = retriever._ready()
    calls: list[dict[str, Any]] = []
    for name in ("query", "get"):
        original = getattr(collection, name)

        def spy(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            calls.append({"op": _name, "where": kwargs.get("where"), "include": kwargs.get("include")})
            return _original(*args, **kwargs)

        monkeypatch.setattr(collection, name, spy)
    lexical_scopes: list[Any] = []
    top = retriever.store.lexical.top
    monkeypatch.setattr(retriever.store.lexical, "top",
                        lambda q, scope, n: lexical_scopes.append(scope) or top(q, scope, n))
    monkeypatch.setattr(retriever, "_ready", lambda: collection)
    hits = retriever.search("what is the pay range for a manager grade role", agent="customer_comms", k=5)
    hits += retriever.search("salary band manager grade", agent="customer_comms", k=5, mode="lexical")
    reads_text = [c for c in calls if "documents" in (c["include"] or [])]
    assert {c["op"] for c in reads_text} == {"query"}  # lexical hits come with their text from the index
    assert all(c["where"] is not None for c in reads_text)
    assert all(c["include"] == ["embeddings"] for c in calls if c["op"] == "get")  # by id, vectors only
    where = json.dumps(reads_text[0]["where"])
    assert '"$in": ["customer_support", "logistics"]' in where and '"$lte": 1' in where
    assert lexical_scopes and all(s.departments == ("customer_support", "logistics") and s.max_rank == 1
                                  for s in lexical_scopes)
    assert hits and all(h.department in ("customer_support", "logistics") for h in hits)


def test_agent_with_no_departments_gets_nothing(settings, retriever):
    raw = json.loads(json.dumps(retriever.policy.raw))
    raw["agents"]["auditor"] = {"tier": "small", "tools": [], "knowledge": {"departments": [], "max_access": "public"}}
    blind = Retriever(settings, Policy(raw=raw), embedding_function=retriever.store.embedding_function,
                      auto_ingest=False)
    assert blind.search("refund window", agent="auditor") == []
    raw["agents"]["auditor"]["knowledge"] = {"departments": ["finance"], "max_access": "top-secret"}
    with pytest.raises(KnowledgeError, match="unknown max_access 'top-secret'"):
        Retriever(settings, Policy(raw=raw), auto_ingest=False).search("refund window", agent="auditor")


def test_hits_carry_metadata_and_citations(retriever):
    hits = retriever.search("error 401 after changing the password", k=3)
    top = hits[0]
    assert top.source == "technical_support/sync-error-401.md"
    assert top.title.startswith("Troubleshooting: Sync Error 401")
    assert top.citation == f"[{top.source} § {top.heading}]"
    assert top.department == "technical_support" and top.access == "public"
    assert 0 < top.score <= 1 and len(hits) == 3


def test_eval_targets_are_met(retriever):
    result = evaluate(retriever, CASES, DEFAULT_MODE, k=5)
    assert result["recall_at_5"] >= TARGETS["recall_at_5"], result["misses"]
    assert result["mrr"] >= TARGETS["mrr"], result["misses"]


def test_retrieval_tool_schema_and_results(retriever):
    tool = build_retrieval_tool(retriever, "procurement")
    assert tool.name == "search_knowledge"
    assert tool.metadata == {"system": "knowledge", "writes": False}
    schema = tool.args_schema.model_json_schema()["properties"]
    assert set(schema) == {"query", "k"} and all(p.get("description") for p in schema.values())
    out = tool.invoke({"query": "who must approve a purchase order above the threshold"})
    assert len(out["results"]) == 4
    first = out["results"][0]
    assert set(first) == {"citation", "title", "department", "score", "text"}
    assert first["citation"].startswith("[procurement/po-approval.md")
    assert all(r["department"] in ("procurement", "finance") for r in out["results"])


def test_retrieval_tool_filters_per_agent(retriever):
    tool = build_retrieval_tool(retriever, "logistics")
    out = tool.invoke({"query": "what is the pay range for a manager grade role", "k": 10})
    assert out["results"] and all(r["department"] == "logistics" for r in out["results"])


def test_retrieval_tool_rejects_bad_queries(retriever):
    tool = build_retrieval_tool(retriever, "customer_comms")
    with pytest.raises(ToolException, match="query is empty"):
        tool.invoke({"query": "   "})
    with pytest.raises(ToolException, match="keep it under 2000"):
        tool.invoke({"query": "x" * 2001})
    with pytest.raises(ToolException, match="k must be between 1 and 10"):
        tool.invoke({"query": "refund", "k": 50})
    with pytest.raises(UnknownAgentError):
        build_retrieval_tool(retriever, "intern")


def test_stats_command(retriever, home):
    result = CliRunner().invoke(kb_app, ["stats", "--json"], env=cli_env(home))
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["documents"] >= 28 and stats["chunks"] > stats["documents"]
    assert stats["embedding"] == "onnx:all-MiniLM-L6-v2" and stats["embedding_dim"] == 384
    assert set(stats["departments"]) >= {"procurement", "hr", "security", "technical_support"}
    assert stats["store"] == str(home / "chroma")
