"""A run is ``completed`` only when it did its job: failures, lost checkpoints and damaged worlds say so."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from opsgraph.errors import ModelDecisionError, RunFailed
from opsgraph.runner import open_runner
from opsgraph.settings import Settings
from opsgraph.tools.connectors.base import WorldError
from opsgraph.tools.world import World
from tests.support.scripted import ScriptedChatModel

GRAPH = "supply_chain_exception"
EVENT = {"event": {"shipment_id": "SH-0002", "delay_days": 4, "description": "SH-0002 is 4 days late"}}
WRITES = ("report_shipment_delay", "create_purchase_order", "notify_customers")


class FailingModel(ScriptedChatModel):
    """The offline engine, except that call number ``fail_on`` raises ``error`` (once)."""

    fail_on: int = 3
    error: Any = None
    calls: int = 0

    def _generate(self, messages: list, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == self.fail_on:
            raise self.error
        return super()._generate(messages, stop, run_manager, **kwargs)


@contextmanager
def _runner(settings: Settings, model: Any = None) -> Iterator[Any]:
    options: dict[str, Any] = {"with_knowledge": False}
    if model is not None:
        options["model_factory"] = lambda tier, spec: model
    with open_runner(settings, **options) as runner:
        yield runner


def _write_counts(runner: Any, thread: str) -> dict[str, int]:
    done = [e.name for e in runner.context.audit.events(thread, "tool_call") if e.ok]
    return {name: done.count(name) for name in WRITES}


def _failed_events(runner: Any, thread: str) -> list:
    return [e for e in runner.context.audit.events(thread) if e.kind == "run_failed"]


def test_a_model_that_cannot_decide_fails_the_run_and_resume_finishes_it_once(settings):
    model = FailingModel(fail_on=4, error=ModelDecisionError("no valid Route after the retry and the escalation",
                                                            agent="supervisor"))
    with _runner(settings, model) as runner:
        with pytest.raises(RunFailed) as failed:
            runner.start(GRAPH, EVENT, thread_id="undecided-1")
        assert "supervisor: no valid Route" in str(failed.value)
        assert "opsgraph runs resume undecided-1" in str(failed.value)
        info = runner.context.audit.run("undecided-1")
        assert info.status == "failed" and "supervisor: no valid Route" in info.reason
        # Inspecting the run does not turn the failure into "interrupted" or "completed".
        shown = runner.status("undecided-1")
        assert shown.status == "failed" and "no valid Route" in shown.reason
        [event] = _failed_events(runner, "undecided-1")
        assert event.result["agent"] == "supervisor" and event.result["resumable"] is True and not event.ok
        before = _write_counts(runner, "undecided-1")
        assert sum(before.values()) >= 1  # it failed after doing some of its work
        # Not ended: no episode yet, so the resumed run does not recall its own first half.
        assert runner.context.memory.items(kind="episode") == []

        done = runner.resume("undecided-1")
        assert done.status == "completed" and done.reason is None
        assert _write_counts(runner, "undecided-1") == {name: 1 for name in WRITES}
        assert runner.context.audit.run("undecided-1").reason is None
        assert runner.context.world.tms.get_shipment("SH-0002")["total_delay_days"] == 4
        assert "recall_memory" not in {e.name for e in runner.context.audit.events("undecided-1", "tool_call")}
        [episode] = runner.context.memory.items(kind="episode")
        assert episode["thread_id"] == "undecided-1" and episode["outcome"] == "completed"


def test_a_failure_that_cannot_be_resumed_says_start_a_new_run(settings):
    model = FailingModel(fail_on=1, error=ModelDecisionError("prompt asks for a field the schema lacks",
                                                            agent="supervisor", resumable=False))
    with _runner(settings, model) as runner:
        with pytest.raises(RunFailed) as failed:
            runner.start(GRAPH, EVENT, thread_id="undecided-2")
    assert "start a new run" in str(failed.value) and "runs resume" not in str(failed.value)


def test_an_unexpected_error_in_a_node_fails_the_run_with_its_reason(settings):
    model = FailingModel(fail_on=2, error=OSError("disk quota exceeded"))
    with _runner(settings, model) as runner:
        with pytest.raises(RunFailed) as failed:
            runner.start(GRAPH, EVENT, thread_id="oops-1")
        assert "disk quota exceeded" in failed.value.reason
        assert runner.context.audit.run("oops-1").status == "failed"


def test_a_run_killed_before_its_first_checkpoint_is_not_completed_and_resume_starts_it(settings):
    with _runner(settings) as runner:
        # What a process leaves behind when it dies between registering the run and its first step.
        runner.claim_thread("killed-1", GRAPH, "killed before its first step")
        runner._record_input("killed-1", EVENT, None)
        shown = runner.status("killed-1")
        assert shown.status == "failed" and shown.reason.startswith("never started")
        assert runner.context.audit.run("killed-1").status == "failed"
        done = runner.resume("killed-1")
        assert done.status == "completed" and done.report
        assert _write_counts(runner, "killed-1") == {name: 1 for name in WRITES}


def test_a_run_whose_checkpoints_were_lost_is_not_completed_and_resume_redoes_nothing_twice(settings):
    with _runner(settings) as runner:
        assert runner.start(GRAPH, EVENT, thread_id="lost-1").status == "completed"
        pos = len(runner.context.world.erp.list_purchase_orders()["purchase_orders"])
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.data_home / 'checkpoints.db'}{suffix}").unlink(missing_ok=True)
    with _runner(settings) as runner:
        shown = runner.status("lost-1")
        assert shown.status == "failed" and "never started" in shown.reason
        assert runner.resume("lost-1").status == "completed"
        # The replayed writes carry the same idempotency keys: the world does not change twice.
        assert len(runner.context.world.erp.list_purchase_orders()["purchase_orders"]) == pos
        assert runner.context.world.tms.get_shipment("SH-0002")["total_delay_days"] == 4


def test_a_run_registered_without_its_input_cannot_start_again_and_says_so(settings):
    with _runner(settings) as runner:
        runner.context.audit.register_run("legacy-1", GRAPH, "old run")
        with pytest.raises(RunFailed) as failed:
            runner.resume("legacy-1")
        assert "no input was recorded" in str(failed.value) and failed.value.resumable is False
        assert runner.context.audit.run("legacy-1").status == "failed"


def test_a_world_database_that_breaks_mid_run_fails_the_run(settings, monkeypatch):
    with _runner(settings) as runner:
        def broken(*_args: Any, **_kwargs: Any) -> Any:
            raise sqlite3.DatabaseError("database disk image is malformed")

        monkeypatch.setattr(runner.context.world._db, "read", broken)
        monkeypatch.setattr(runner.context.world._db, "transaction", broken)
        with pytest.raises(RunFailed) as failed:
            runner.start(GRAPH, EVENT, thread_id="broken-1")
        assert "database disk image is malformed" in failed.value.reason
        info = runner.context.audit.run("broken-1")
        assert info.status == "failed" and "malformed" in info.reason


def damage(path: Path) -> None:
    """Overwrite one page in the middle of a SQLite file, as a bad disk would; its meta table still reads."""
    page = (path.stat().st_size // 2) // 4096
    with path.open("r+b") as fh:
        fh.seek(page * 4096 + 8)
        fh.write(b"\xde\xad\xbe\xef" * 200)


def test_a_damaged_world_file_is_refused_when_opened(tmp_path):
    World.open(tmp_path / "world.db").close()
    damage(tmp_path / "world.db")
    with pytest.raises(WorldError, match="malformed|not an opsgraph world"):
        World.open(tmp_path / "world.db")


def test_a_deleted_world_under_existing_runs_is_an_error_not_a_silent_reseed(settings):
    with _runner(settings) as runner:
        assert runner.start(GRAPH, EVENT, thread_id="kept-1").status == "completed"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.world_path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(WorldError) as missing:
        with _runner(settings):
            pass
    assert "missing but 1 run that used it exists" in str(missing.value) and "world reset" in str(missing.value)
    assert not settings.world_path.exists()


def test_a_fresh_data_home_still_seeds_its_world(settings):
    with _runner(settings) as runner:
        assert runner.context.world.counts()["shipments"] > 0
    shutil.rmtree(settings.data_home)
    with _runner(settings) as runner:
        assert runner.context.world.counts()["shipments"] > 0


class _BrokenStore:
    """A retriever whose store cannot answer (a Chroma server gone, a damaged index)."""

    def scope(self, agent: str) -> None:
        return None

    def search(self, *_args: Any, **_kwargs: Any) -> Any:
        raise sqlite3.OperationalError("unable to open database file")


def test_a_knowledge_store_that_fails_mid_run_fails_the_run_not_completes_it(settings):
    with open_runner(settings, retriever=_BrokenStore()) as runner:
        with pytest.raises(RunFailed) as failed:
            runner.start(GRAPH, EVENT, thread_id="kb-broken-1")
        assert "knowledge store failed" in failed.value.reason and failed.value.agent
        info = runner.context.audit.run("kb-broken-1")
        assert info.status == "failed" and "knowledge store failed" in info.reason


def test_a_run_stopped_with_ctrl_c_is_interrupted_audited_and_resumable(settings):
    model = FailingModel(fail_on=4, error=KeyboardInterrupt())
    with _runner(settings, model) as runner:
        with pytest.raises(KeyboardInterrupt):
            runner.start(GRAPH, EVENT, thread_id="ctrl-c-1")
        info = runner.context.audit.run("ctrl-c-1")
        assert info.status == "interrupted" and info.reason == "interrupted by the operator"
        [event] = [e for e in runner.context.audit.events("ctrl-c-1") if e.kind == "run_interrupted"]
        assert event.result["resumable"] is True and "by the operator" in event.result["reason"]
        done = runner.resume("ctrl-c-1")
        assert done.status == "completed"
        assert _write_counts(runner, "ctrl-c-1") == {name: 1 for name in WRITES}
