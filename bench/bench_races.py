"""Race trials on SQLite and Postgres: approve vs reject at once, two starts on one thread id.

Each trial releases two runners (own connections) together on one thread and checks the
outcome against the audit trail and the mock enterprise (see tests/support/races.py).

    python bench/bench_races.py --trials 50 --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import make_settings  # noqa: E402
from tests.support.races import run_trials  # noqa: E402


def measure(backend: str, url: str | None, trial: str, trials: int) -> dict:
    """Run ``trials`` trials of ``trial`` on a fresh data home; checkpoints on ``url`` when given."""
    home = Path(tempfile.mkdtemp(prefix="opsgraph-races-")) / "home"
    settings = make_settings(home, **({"OPSGRAPH_CHECKPOINT_URL": url} if url else {}))
    started = time.perf_counter()
    tally = run_trials(settings, trial, trials, f"bench-{trial}-{uuid.uuid4().hex[:8]}")
    return {"backend": backend, "trial": trial, "trials": tally.trials, "double_wins": tally.double_wins,
            "no_winner": tally.no_winner, "winners": tally.winners, "problems": len(tally.problems),
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    """Print one JSON line per (backend, trial kind)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--postgres", default=None, help="Postgres URL; omitted = SQLite only")
    args = parser.parse_args()
    backends = [("sqlite", None)] + ([("postgres", args.postgres)] if args.postgres else [])
    for backend, url in backends:
        for trial in ("approve_vs_reject", "two_starts"):
            print(json.dumps(measure(backend, url, trial, args.trials)), flush=True)


if __name__ == "__main__":
    main()
