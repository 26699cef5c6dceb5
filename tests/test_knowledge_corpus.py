"""The shipped knowledge corpus: front matter, policy placeholders, chunking (no model needed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from opsgraph.governance.policy import Policy, load_policy
from opsgraph.knowledge.chunking import chunk_document, split_sections, split_text
from opsgraph.knowledge.corpus import (
    PLACEHOLDER,
    REQUIRED_FIELDS,
    DocumentDefaults,
    corpus_files,
    format_policy_value,
    load_corpus,
    read_document,
    render_placeholders,
)
from opsgraph.knowledge.errors import CorpusError
from opsgraph.knowledge.retrieval import citation_for
from tests.support.paths import PROJECT_ROOT

KNOWLEDGE = PROJECT_ROOT / "knowledge"
DEPARTMENTS = {"procurement", "logistics", "inventory", "finance", "customer_support", "technical_support", "hr",
               "security", "retail"}


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(PROJECT_ROOT / "policy.yaml")


def test_corpus_covers_every_department_with_valid_front_matter(policy):
    docs = load_corpus(KNOWLEDGE, policy)
    assert len(docs) >= 28
    assert {d.department for d in docs} == DEPARTMENTS
    assert {d.access for d in docs} == set(policy.access_levels)
    for doc in docs:
        assert doc.source.split("/")[0] == doc.department, doc.source
        assert all(getattr(doc, name) for name in REQUIRED_FIELDS), doc.source


def test_every_placeholder_resolves_from_policy(policy):
    used = 0
    for path in corpus_files(KNOWLEDGE):
        raw = path.read_text(encoding="utf-8")
        for match in PLACEHOLDER.finditer(raw):
            policy.get(match.group(1))  # raises PolicyError if the path does not exist
            used += 1
        rendered = read_document(path, KNOWLEDGE, policy).body
        assert "{{" not in rendered and "policy:" not in rendered, path
    assert used >= 25


def test_procurement_approval_doc_states_the_policy_threshold(policy):
    threshold = policy.get("approvals.purchase_order.threshold_usd")
    doc = read_document(KNOWLEDGE / "procurement" / "po-approval.md", KNOWLEDGE, policy)
    assert f"${threshold:,}" in doc.body
    assert policy.get("approvals.purchase_order.approver_role") in doc.body
    raw = (KNOWLEDGE / "procurement" / "po-approval.md").read_text()
    assert "{{policy:approvals.purchase_order.threshold_usd}}" in raw


def _money_values(node: Any, path: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _money_values(value, f"{path}.{key}" if path else key)
    elif path.endswith("_usd"):
        yield path, node


def test_no_document_types_a_policy_amount_literally(policy):
    forms = {}
    for path, value in _money_values(policy.raw):
        amount = int(value or 0)
        if amount < 100:  # small caps such as a $2 run budget are not document material
            continue
        forms[path] = {f"${amount:,}", f"${amount}"} | ({f"{amount:,}", str(amount)} if amount >= 1000 else set())
    for file in corpus_files(KNOWLEDGE):
        raw = file.read_text(encoding="utf-8")
        for path, variants in forms.items():
            # Whole numbers only: "125,000" in a salary table is not "25,000".
            found = [v for v in variants if re.search(rf"(?<![\d,.]){re.escape(v)}(?![.,]?\d)", raw)]
            assert not found, f"{file.name} types {found} literally; use {{{{policy:{path}}}}}"


def test_placeholder_formats(policy):
    assert format_policy_value("a.threshold_usd", 25000) == "$25,000"
    assert format_policy_value("a.premium_pct", 15) == "15%"
    assert format_policy_value("a.sla", 0.92, "percent") == "92%"
    assert format_policy_value("a.role", "operations manager", "capitalize") == "Operations manager"
    assert render_placeholders("{{ policy:approvals.refund.auto_limit_usd }} max", policy) == "$500 max"


def test_unknown_placeholder_names_file_line_and_path(policy):
    with pytest.raises(CorpusError, match=r"x\.md:2: .*no value at 'approvals\.nope'"):
        render_placeholders("intro\nlimit {{policy:approvals.nope}}", policy, "x.md")
    with pytest.raises(CorpusError, match="malformed placeholder"):
        render_placeholders("limit {{policy approvals}}", policy, "x.md")
    with pytest.raises(CorpusError, match="unknown placeholder format"):
        render_placeholders("{{policy:approvals.refund.window_days|euro}}", policy, "x.md")


def test_bad_front_matter_is_a_clear_error(tmp_path, policy):
    bad = tmp_path / "dept" / "doc.md"
    bad.parent.mkdir()
    bad.write_text("---\ntitle: T\ndepartment: dept\naccess: secret\nowner: o\neffective_date: 2026-01-01\n---\n# T\n")
    with pytest.raises(CorpusError, match="access 'secret' is not one of"):
        read_document(bad, tmp_path, policy)
    bad.write_text("---\ntitle: [unclosed\n---\n# T\n")
    with pytest.raises(CorpusError, match="dept/doc.md: front matter is not valid YAML"):
        read_document(bad, tmp_path, policy)
    bad.write_text("---\ntitle: T\n# never closed\n")
    with pytest.raises(CorpusError, match="front matter is not closed"):
        read_document(bad, tmp_path, policy)


def test_missing_metadata_comes_from_the_defaults(tmp_path, policy):
    doc = tmp_path / "notes" / "doc.md"
    doc.parent.mkdir()
    doc.write_text("---\ntitle: T\n---\n# T\nbody\n")
    partial = read_document(doc, tmp_path, policy)
    assert (partial.title, partial.department, partial.access) == ("T", "general", "internal")
    doc.write_text("# Heading title\n\nno front matter at all\n")
    bare = read_document(doc, tmp_path, policy, DocumentDefaults(department="research", access="public"))
    assert (bare.title, bare.department, bare.access, bare.owner) == ("Heading title", "research", "public",
                                                                      "unassigned")


def test_only_exact_placeholders_render_and_backslash_escapes(policy):
    latex = r"$\frac{{a}}{b}$ and {{ name }} stay; \{{policy:approvals.refund.auto_limit_usd}} is literal"
    assert render_placeholders(latex, policy) == latex.replace("\\{{", "{{")
    assert render_placeholders("limit {{policy:approvals.refund.auto_limit_usd}}", policy) == "limit $500"
    assert render_placeholders(r"\{{ not a placeholder", policy) == "{{ not a placeholder"


def test_chunks_follow_headings_and_carry_citations(policy):
    doc = read_document(KNOWLEDGE / "procurement" / "po-approval.md", KNOWLEDGE, policy)
    chunks = chunk_document(doc)
    headings = [c.heading for c in chunks]
    assert "Approval limits" in headings and "Emergency purchases" in headings
    approval = chunks[headings.index("Approval limits")]
    assert "must be approved by the" in approval.text
    assert citation_for(doc.source, approval.heading) == "[procurement/po-approval.md § Approval limits]"
    assert len({c.id for c in chunks}) == len(chunks)
    for doc in load_corpus(KNOWLEDGE, policy):
        assert all(len(c.text) <= 800 for c in chunk_document(doc)), doc.source


def test_nested_headings_and_code_fences():
    sections = split_sections("# T\nintro\n## A\na\n### B\nb\n```\n# not a heading\n```\n## C\nc\n")
    assert [s.path for s in sections] == [("T",), ("T", "A"), ("T", "A", "B"), ("T", "C")]
    assert "# not a heading" in sections[2].text


def test_long_sections_split_with_overlap():
    sentences = [f"Sentence number {i} talks about purchase orders and approvals." for i in range(40)]
    pieces = split_text(" ".join(sentences), size=300, overlap=80)
    assert len(pieces) > 5 and all(len(p) <= 300 for p in pieces)
    # The last sentence of one chunk starts the next one.
    assert pieces[0].splitlines()[-1] == pieces[1].splitlines()[0]
    joined = " ".join(pieces)
    assert all(s in joined for s in sentences)


def test_load_corpus_rejects_a_missing_directory(policy, tmp_path):
    with pytest.raises(CorpusError, match="is not a directory"):
        load_corpus(tmp_path / "missing", policy)


def test_eval_dataset_points_at_real_documents(policy):
    from opsgraph.evals.retrieval.run import load_dataset

    sources = {d.source for d in load_corpus(KNOWLEDGE, policy)}
    cases = load_dataset()
    assert len(cases) >= 45
    assert len({c.id for c in cases}) == len(cases)
    for case in cases:
        assert set(case.relevant) <= sources, case.id


def test_doc_hash_changes_with_access_level(tmp_path, policy):
    doc = tmp_path / "hr" / "x.md"
    doc.parent.mkdir()
    text = "---\ntitle: X\ndepartment: hr\naccess: {}\nowner: o\neffective_date: 2026-01-01\n---\n# X\nbody\n"
    doc.write_text(text.format("internal"))
    first = read_document(doc, tmp_path, policy).doc_hash
    doc.write_text(text.format("restricted"))
    assert read_document(doc, tmp_path, policy).doc_hash != first
    assert Path(doc).exists()


def test_contract_and_risk_documents_render_policy_standards(policy):
    contract = read_document(KNOWLEDGE / "procurement" / "contract-standard-terms.md", KNOWLEDGE, policy).body
    assert f"net {policy.get('contracts.payment_terms.standard_days')} days" in contract
    assert str(policy.get("contracts.governing_law")) in contract
    risk = read_document(KNOWLEDGE / "procurement" / "supplier-risk-assessment.md", KNOWLEDGE, policy).body
    assert f"from {policy.get('supplier_risk.bands.high_from')}" in risk
    assert f"{policy.get('supplier_risk.weights.financial') * 100:.0f}%" in risk
