"""PII detection, placeholders, the vault, the model boundary and the privacy policy switch."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from opsgraph.context import build_context
from opsgraph.governance.pii import PiiDetector
from opsgraph.governance.pii_scoring import corpus_detector, load_corpus, score_corpus
from opsgraph.governance.pii_vault import PiiVault, load_secret
from opsgraph.governance.policy import PolicyError, load_policy
from opsgraph.governance.privacy import PiiMasker
from opsgraph.models.gateway import ModelGateway
from opsgraph.settings import Settings
from tests.conftest import make_settings
from tests.support.pgdb import world_database  # noqa: F401 - fixture
from tests.support.scripted import ScriptedChatModel

CORPUS = Path(__file__).parent / "data" / "pii_corpus.yaml"
IDS = ["SH-0001", "INV-0001", "SKU-003", "PO-00001", "TCK-0004", "SO-0042", "CUST-005", "SUP-019", "CTR-1003",
       "REF-0003", "DC-EAST", "sh-0002", "$42,380.00", "$1,250.00", "$480", "38,450.75 USD", "2026-03-10", "03/05/2026",
       "BK-4155550198", "4155550198 USD",
       '{"liability_cap_usd": 360000.0}', "quantity 360000", '{"total_usd": 1377.64}', "1,377,640.50 USD"]  # amounts and quantities in data are not phones  # the last two hold a valid US phone number: only the protection saves them


@pytest.fixture(scope="module")
def corpus() -> dict:
    return load_corpus(CORPUS)


@pytest.fixture
def masker(tmp_path: Path) -> PiiMasker:
    vault = PiiVault(tmp_path / "vault.db", b"test-secret")
    return PiiMasker(PiiDetector(known_names=lambda: ["Lakeside Packaging Ltd."]), vault)


def test_corpus_is_big_enough_and_labels_are_in_the_text(corpus):
    cases = corpus["cases"]
    assert len(cases) >= 100
    kinds = {kind for case in cases for kind, _ in case["pii"]}
    assert kinds == {"EMAIL", "PHONE", "CARD", "NAME", "ADDRESS"}
    assert sum(1 for case in cases if not case["pii"]) >= 30  # hard negatives
    for case in cases:
        for _, value in case["pii"]:
            assert value in case["text"]


def test_recognizers_meet_their_floors_on_the_corpus(corpus):
    score = score_corpus(corpus_detector(corpus), corpus)
    types = score.types
    for kind in ("EMAIL", "CARD", "PHONE"):
        assert types[kind].recall >= 0.95, (kind, score.missed)
        assert types[kind].precision >= 0.95, (kind, score.spurious)
    assert types["ADDRESS"].recall >= 0.9 and types["ADDRESS"].precision >= 0.9, (score.missed, score.spurious)
    assert types["NAME"].recall >= 0.8 and types["NAME"].precision >= 0.9, (score.missed, score.spurious)
    assert score.damaged == []  # no id, amount or date was ever touched


def test_hard_negatives_are_left_alone(corpus):
    detector = corpus_detector(corpus)
    found = {case["text"]: detector.find(case["text"]) for case in corpus["cases"] if not case["pii"]}
    assert {text: spans for text, spans in found.items() if spans} == {}


@pytest.mark.parametrize("value", IDS)
def test_ids_amounts_and_dates_are_never_masked(masker, value):
    text = f"Customer Maria Gonzalez (my name is Maria Gonzalez) asks about {value} today, call +44 20 7946 0958."
    masked = masker.mask_text("t-ids", text)
    assert value in masked and "+44 20 7946 0958" not in masked


def test_same_value_gets_the_same_placeholder_in_a_thread_and_numbering_is_per_type(masker):
    first = masker.mask_text("t1", "Card 4111 1111 1111 1111, mail A.B@Example.com, phone +1 415-555-0132.")
    second = masker.mask_text("t1", "Again 4111-1111-1111-1111 and a.b@example.com, (415) 555-0132, also x@y.org.")
    assert first == "Card <CARD_1>, mail <EMAIL_1>, phone <PHONE_1>."
    assert second == "Again <CARD_1> and <EMAIL_1>, <PHONE_1>, also <EMAIL_2>."
    # Another thread numbers its own values from 1 and resolves only its own placeholders.
    assert masker.mask_text("t2", "x@y.org") == "<EMAIL_1>"
    assert masker.unmask_text("t2", "<EMAIL_1> <EMAIL_2>") == "x@y.org <EMAIL_2>"
    assert masker.unmask_text("t1", "<EMAIL_2> paid with <CARD_1>") == "x@y.org paid with 4111 1111 1111 1111"


def test_masking_is_not_applied_twice_and_placeholders_survive(masker):
    once = masker.mask_text("t3", "my name is Maria Gonzalez, maria@example.com")
    assert masker.mask_text("t3", once) == once
    assert masker.mask("t3", {"a": [once, 5, None], "b": ("Dear Maria Gonzalez",)}) == {
        "a": [once, 5, None], "b": ("Dear <NAME_1>",)}


def test_vault_holds_no_value_in_clear_and_needs_its_key(tmp_path: Path):
    path = tmp_path / "vault.db"
    vault = PiiVault(path, b"key-one")
    placeholder = vault.placeholder("t", "EMAIL", "maria@example.com", "Maria@Example.com")
    assert placeholder == "<EMAIL_1>" and vault.reveal("t", placeholder) == "Maria@Example.com"
    vault.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("vault.db"))
    assert b"maria" not in raw.lower() and b"example" not in raw.lower()
    from cryptography.fernet import InvalidToken

    with pytest.raises(InvalidToken):
        PiiVault(path, b"another-key").reveal("t", placeholder)


def test_secret_file_is_created_once_and_private(tmp_path: Path):
    first = load_secret(tmp_path / "pii.key")
    assert first == load_secret(tmp_path / "pii.key") and (tmp_path / "pii.key").stat().st_mode & 0o077 == 0
    assert load_secret(tmp_path / "pii.key", "configured") == b"configured"


def test_every_message_a_model_receives_is_masked(settings: Settings, masker: PiiMasker):
    policy = load_policy(settings.policy_path)
    model = ScriptedChatModel(script={"billing": [AIMessage("ok")]})
    gateway = ModelGateway(settings, policy, factory=lambda tier, spec: model, masker=masker)
    call = {"name": "get_customer", "args": {"note": "ring +44 20 7946 0958"}, "id": "c1", "type": "tool_call"}
    messages = [SystemMessage("You are the billing agent. Escalations go to ops.lead@ourco.com."),
                HumanMessage("my name is Maria Gonzalez, card 4111 1111 1111 1111"),
                AIMessage("", tool_calls=[call]),
                ToolMessage('{"name": "Lakeside Packaging Ltd.", "email": "ops@lakeside.example.com"}', tool_call_id="c1")]
    gateway.invoke("billing", messages)
    sent = model.received[0]["messages"]
    assert [type(m) for m in sent[:4]] == [SystemMessage, HumanMessage, AIMessage, ToolMessage]
    text = " ".join(str(m.content) for m in sent) + str(sent[2].tool_calls)
    for raw in ("ops.lead@ourco.com", "Maria Gonzalez", "4111", "7946", "Lakeside", "ops@lakeside"):
        assert raw not in text
    assert sent[2].tool_calls[0]["args"] == {"note": "ring <PHONE_1>"}
    assert "<NAME_1>" in str(sent[1].content) and "<NAME_2>" in str(sent[3].content)
    assert "Maria Gonzalez" in str(messages[1].content)  # the caller's messages are not changed


def _policy_with(tmp_path: Path, settings: Settings, privacy: object) -> Path:
    raw = yaml.safe_load(settings.policy_path.read_text())
    raw["privacy"] = privacy
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_policy_switch_turns_masking_off_and_picks_types(tmp_path: Path, settings: Settings):
    off = make_settings(settings.data_home, OPSGRAPH_POLICY=str(_policy_with(tmp_path, settings, {"mask_pii": False})))
    assert build_context(off, with_knowledge=False).privacy is None
    only = make_settings(settings.data_home, OPSGRAPH_POLICY=str(_policy_with(tmp_path, settings, {"types": ["CARD"]})))
    ctx = build_context(only, with_knowledge=False)
    assert ctx.privacy.mask_text("t", "a@b.com 4111 1111 1111 1111") == "a@b.com <CARD_1>"
    assert ctx.audit.redact is not None and ctx.gateway.masker is ctx.privacy
    on = build_context(settings, with_knowledge=False)
    assert on.privacy is not None and on.privacy.detector.types == ("EMAIL", "PHONE", "CARD", "NAME", "ADDRESS")


@pytest.mark.parametrize("privacy", [{"mask_pii": "yes"}, {"types": ["SSN"]}, {"types": []}, {"mask": True}])
def test_policy_schema_rejects_bad_privacy_sections(tmp_path: Path, settings: Settings, privacy: object):
    with pytest.raises(PolicyError, match="privacy"):
        load_policy(_policy_with(tmp_path, settings, privacy))


def test_a_name_learned_in_a_thread_is_masked_later_without_a_cue(masker):
    assert masker.mask_text("t4", "Hannah Schmidt signs today") == "Hannah Schmidt signs today"  # no cue, not known
    assert masker.mask_text("t4", "Regards,\nHannah Schmidt") == "Regards,\n<NAME_1>"
    assert masker.mask_text("t4", "Hannah Schmidt signs today") == "<NAME_1> signs today"  # learned: cache refreshed
    assert masker.mask_text("t5", "Hannah Schmidt signs today") == "Hannah Schmidt signs today"  # other thread


def test_audit_records_are_masked_whoever_writes_them(settings: Settings):
    ctx = build_context(settings, with_knowledge=False)
    ctx.audit.record("t-audit", "approval:1", "approval", agent="ops", name="issue_refund",
                     args={"note": "customer on +44 20 7946 0958"}, result={"by": "my name is Maria Gonzalez"})
    [event] = ctx.audit.events("t-audit")
    assert event.args == {"note": "customer on <PHONE_1>"} and event.result == {"by": "my name is <NAME_1>"}
    raw = settings.audit_path.read_bytes() + Path(f"{settings.audit_path}-wal").read_bytes()
    assert b"7946" not in raw and b"Gonzalez" not in raw


def test_known_names_come_from_the_crm_on_sqlite_and_on_postgres(world_database: str, tmp_path: Path):  # noqa: F811
    from opsgraph.tools.world import World
    from tests.support.pgdb import unique_schema

    with World.open(world_database, schema=unique_schema()) as shared, World.open(tmp_path / "world.db") as local:
        names = local.crm.customer_names()
        assert len(names) == 100 and "Lakeside Packaging Ltd." in names
        assert sorted(shared.crm.customer_names()) == sorted(names)


def test_a_shared_database_keeps_a_threads_placeholders_for_every_machine(world_database: str,  # noqa: F811
                                                                         tmp_path: Path):
    """Two data homes on one database URL: machine B resolves what machine A masked, no key file needed."""
    from opsgraph.context import open_vault
    from opsgraph.settings import load_settings
    from tests.support.pg import rows

    machine_a = open_vault(load_settings({"OPSGRAPH_HOME": str(tmp_path / "a"), "OPSGRAPH_DATABASE_URL": world_database}))
    machine_b = open_vault(load_settings({"OPSGRAPH_HOME": str(tmp_path / "b"), "OPSGRAPH_DATABASE_URL": world_database}))
    placeholder = machine_a.placeholder("thread-x", "EMAIL", "maria@example.com", "Maria@Example.com")
    assert machine_b.reveal("thread-x", placeholder) == "Maria@Example.com"
    assert machine_b.placeholder("thread-x", "EMAIL", "maria@example.com", "maria@example.com") == placeholder
    assert machine_b.placeholder("thread-x", "EMAIL", "ops@example.org", "ops@example.org") == "<EMAIL_2>"
    assert machine_a.values("thread-x", "EMAIL") == ["Maria@Example.com", "ops@example.org"]
    assert not (tmp_path / "a" / "pii_vault.db").exists() and not (tmp_path / "b" / "pii.key").exists()
    stored = rows(world_database, "SELECT digest, sealed FROM opsgraph.pii_placeholders")
    assert stored and all(b"example" not in bytes(sealed).lower() and "example" not in digest
                          for digest, sealed in stored)
    machine_a.close()
    machine_b.close()
