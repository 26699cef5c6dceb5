"""Checkpointers: SQLite by default, the machine's real Postgres when its URL is given."""

from __future__ import annotations

import uuid

import pytest

from opsgraph.persistence import CheckpointURLError, checkpoint_kind
from opsgraph.runner import open_runner
from tests.conftest import make_settings


def test_checkpoint_url_kinds():
    assert checkpoint_kind("sqlite:////tmp/x.db") == "sqlite"
    assert checkpoint_kind("postgresql://u@h/db") == "postgres"
    with pytest.raises(CheckpointURLError):
        checkpoint_kind("mysql://x")


def test_sqlite_checkpoints_survive_a_new_process_handle(tmp_path):
    settings = make_settings(tmp_path / "home")
    event = {"event": {"shipment_id": "SH-0001", "delay_days": 5, "description": ""}}
    with open_runner(settings, with_knowledge=False) as runner:
        runner.start("supply_chain_exception", event, thread_id="persist-1")
    with open_runner(settings, with_knowledge=False) as runner:  # fresh connection, same file
        assert runner.pending("persist-1")[0]["kind"] == "purchase_order"
        done = runner.resume("persist-1", {"decision": "approve"})
    assert done.status == "completed"
    assert (tmp_path / "home" / "checkpoints.db").exists()


def test_postgres_checkpointer_interrupt_and_resume(tmp_path, postgres_url):
    settings = make_settings(tmp_path / "home", OPSGRAPH_CHECKPOINT_URL=postgres_url)
    thread = f"pg-{uuid.uuid4().hex[:8]}"
    event = {"event": {"shipment_id": "SH-0001", "delay_days": 5, "description": ""}}
    with open_runner(settings, with_knowledge=False) as runner:
        assert type(runner.checkpointer).__name__ == "PostgresSaver"
        first = runner.start("supply_chain_exception", event, thread_id=thread)
        assert first.status == "awaiting_approval"
    with open_runner(settings, with_knowledge=False) as runner:
        done = runner.resume(thread, {"decision": "reject", "reason": "budget freeze"})
        history = list(runner.graph("supply_chain_exception").get_state_history(runner.config(thread)))
    assert done.status == "completed" and done.report["purchase_orders"][0]["status"] == "rejected"
    assert len(history) > 10
    assert not (tmp_path / "home" / "checkpoints.db").exists()
