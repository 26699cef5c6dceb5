"""What safe initialisation costs: opening stores under the data-home lock, the world integrity
check, and twelve processes starting on one fresh data home at once.

Run: ``python bench/bench_init.py`` from the repository root (prints a Markdown table).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opsgraph.governance.audit import AuditStore
from opsgraph.tools.world import World, _check_intact

ROOT = Path(__file__).resolve().parents[1]
REPEAT = 30
PROCESSES = 12


def _median_ms(fn, repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_opens(home: Path) -> dict[str, float]:
    """Median milliseconds to open the world (with its integrity check) and the audit store."""
    World.open(home / "world.db").close()
    world = World(home / "world.db")
    with world._db.read() as conn:
        check = _median_ms(lambda: _check_intact(conn))
    world.close()
    return {"world open (incl. integrity check)": _median_ms(lambda: World.open(home / "world.db").close()),
            "world integrity check alone": check,
            "audit store open (under the lock)": _median_ms(lambda: AuditStore(home / "audit.db").close())}


def bench_fresh_home(tmp: Path) -> float:
    """Seconds from releasing twelve waiting workers to the last one finishing its writes."""
    home, go = tmp / "fresh", tmp / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSGRAPH_", "OPENAI_"))}
    env["OPSGRAPH_HOME"] = str(home)
    procs = [subprocess.Popen([sys.executable, "-m", "tests.support.init_worker", str(i), str(go)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for i in range(PROCESSES)]
    time.sleep(15)  # let every worker finish its imports before the start signal
    started = time.perf_counter()
    go.touch()
    failed = [p for p in procs if p.wait() != 0]
    if failed:
        raise SystemExit(f"{len(failed)} workers failed")
    return time.perf_counter() - started


def main() -> None:
    """Print the measurements as Markdown rows."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, ms in bench_opens(Path(tmp) / "home").items():
            print(f"| {name} | {ms:.1f} ms (median of {REPEAT}) |")
        seconds = bench_fresh_home(Path(tmp))
        print(f"| {PROCESSES} processes, fresh data home, world + audit + run + checkpoint + Chroma "
              f"| {seconds:.1f} s wall from start signal |")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
