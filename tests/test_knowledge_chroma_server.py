"""Knowledge on a real ``chroma run`` server, through the CLI, from two data homes.

One process ingests the shipped corpus into the server; searches are cited and filtered by
the agent's permissions; a second process with another ``OPSGRAPH_HOME`` (another machine,
as far as opsgraph can tell) finds the same store and embeds nothing again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opsgraph.knowledge.store import KnowledgeStore
from tests.conftest import make_settings
from tests.support.chroma_server import chroma_server

SALARY = "salary bands and the compensation review of a carrier"


def _opsgraph(home: Path, chroma_url: str, *args: str) -> Any:
    env = {**os.environ, "OPSGRAPH_HOME": str(home), "OPSGRAPH_CHROMA_URL": chroma_url, "OPSGRAPH_CONFIG": "",
           "OPSGRAPH_EMBEDDING": "", "OPSGRAPH_DATABASE_URL": "", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "opsgraph", *args, "--json"], env=env, text=True,
                          capture_output=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_ingest_search_and_a_second_home_share_one_chroma_server(tmp_path):
    with chroma_server(tmp_path / "chroma-data") as url:
        first, second = tmp_path / "home-1", tmp_path / "home-2"
        report = _opsgraph(first, url, "kb", "ingest")
        assert report["files_added"] >= 30 and report["chunks_embedded"] > 0 and report["store"] == url
        assert not (first / "chroma").exists()  # the vectors live on the server only

        operator = _opsgraph(first, url, "kb", "search", SALARY, "-k", "5")
        assert operator[0]["source"] == "hr/salary-bands.md"
        assert operator[0]["citation"].startswith("[hr/salary-bands.md")
        as_logistics = _opsgraph(first, url, "kb", "search", SALARY, "--as", "logistics", "-k", "20")
        assert as_logistics and all(h["department"] == "logistics" for h in as_logistics)
        assert all(h["citation"] == f"[{h['source']} § {h['heading']}]" for h in as_logistics)

        revision = KnowledgeStore(make_settings(first, OPSGRAPH_CHROMA_URL=url)).describe()["revision"]
        again = _opsgraph(second, url, "kb", "ingest")
        assert again["chunks_embedded"] == 0 and again["files_unchanged"] == report["files_added"]
        from_second = _opsgraph(second, url, "kb", "search", SALARY, "-k", "5")
        assert [h["chunk_id"] for h in from_second] == [h["chunk_id"] for h in operator]
        hidden = _opsgraph(second, url, "kb", "search", SALARY, "--as", "logistics", "-k", "20")
        assert [h["chunk_id"] for h in hidden] == [h["chunk_id"] for h in as_logistics]
        # Nothing was written to the collection by the second home: same revision, no local vectors.
        assert KnowledgeStore(make_settings(second, OPSGRAPH_CHROMA_URL=url)).describe()["revision"] == revision
        assert not (second / "chroma").exists()
