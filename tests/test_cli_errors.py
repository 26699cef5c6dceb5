"""Every CLI error is one line on stderr with a non-zero exit; the traceback goes to the data home's log."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from opsgraph.governance.audit import AuditStore
from opsgraph.tools.world import World
from tests.support.cli import one_error_line, opsgraph
from tests.test_outcomes import damage

pytestmark = pytest.mark.slow




def _garbage(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 200)


def test_a_corrupt_audit_store_is_one_line_and_debug_shows_the_traceback(tmp_path):
    home = tmp_path / "home"
    _garbage(home / "audit.db")
    line = one_error_line(opsgraph(home, "runs", "list"), "audit store")
    assert "damaged" in line and str(home / "logs" / "opsgraph.log") in line
    assert "Traceback" in (home / "logs" / "opsgraph.log").read_text()
    one_error_line(opsgraph(home, "audit", "some-thread"), "audit store")
    debug = opsgraph(home, "--debug", "runs", "list")
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("error: audit store")


def test_a_corrupt_checkpoint_database_is_one_line(tmp_path):
    home = tmp_path / "home"
    _garbage(home / "checkpoints.db")
    one_error_line(opsgraph(home, "runs", "show", "any-thread"), "checkpoint database")
    one_error_line(opsgraph(home, "run", "supply_chain_exception", "--shipment", "SH-0002", "--delay-days", "4"),
              "checkpoint database")


def test_an_unreachable_postgres_is_one_line(tmp_path):
    home = tmp_path / "home"
    line = one_error_line(opsgraph(home, "runs", "show", "any-thread",
                              OPSGRAPH_CHECKPOINT_URL="postgresql://ops:secret@127.0.0.1:1/nowhere"),
                     "cannot connect to Postgres")
    assert "secret" not in line


def test_out_of_range_limit_and_an_eval_out_that_is_a_file_are_one_line(tmp_path):
    home = tmp_path / "home"
    one_error_line(opsgraph(home, "runs", "list", "--limit", "99999999999999999999"), "--limit")
    one_error_line(opsgraph(home, "runs", "list", "--limit", "0"), "--limit")
    taken = tmp_path / "report.json"
    taken.write_text("keep me")
    proc = opsgraph(home, "eval", "--out", str(taken))
    one_error_line(proc, "is a file")
    assert taken.read_text() == "keep me"
    assert "supply_chain_exception" not in proc.stderr  # refused before any suite ran


def test_a_damaged_world_fails_the_run_in_one_line_and_nothing_is_completed(tmp_path):
    home = tmp_path / "home"
    World.open(home / "world.db").close()
    damage(home / "world.db")
    one_error_line(opsgraph(home, "run", "supply_chain_exception", "--shipment", "SH-0002", "--delay-days", "4"),
              "malformed")
    listed = json.loads(opsgraph(home, "runs", "list", "--json").stdout)
    assert all(r["status"] != "completed" for r in listed)
    one_error_line(opsgraph(home, "world", "show", "shipment", "SH-0002"), "malformed")


def test_a_deleted_world_under_existing_runs_is_one_line_and_not_reseeded(tmp_path):
    home = tmp_path / "home"
    World.open(home / "world.db").close()
    audit = AuditStore(home / "audit.db")
    audit.register_run("old-1", "supply_chain_exception", "an earlier run")
    audit.close()
    (home / "world.db").unlink()
    line = one_error_line(opsgraph(home, "world", "show", "shipment", "SH-0002"), "is missing but 1 run")
    assert "world reset" in line
    one_error_line(opsgraph(home, "run", "supply_chain_exception", "--shipment", "SH-0002", "--delay-days", "4"),
              "is missing but 1 run")
    assert not (home / "world.db").exists()
