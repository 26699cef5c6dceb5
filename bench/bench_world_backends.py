"""The mock enterprise on SQLite and on Postgres: seeding, reads, writes, and two writer processes.

Run: ``OPSGRAPH_TEST_POSTGRES_URL=postgresql://... python bench/bench_world_backends.py`` from
the repository root (prints a Markdown table). Postgres numbers use a database created for the
run and dropped after it.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from opsgraph.tools.world import World

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support: the fresh-database helper

REPEAT = 5
CALLS = 200
PROCESS_WRITES = 200


def _median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _per_call_ms(fn: Callable[[int], Any]) -> float:
    started = time.perf_counter()
    for i in range(CALLS):
        fn(i)
    return (time.perf_counter() - started) * 1000 / CALLS


def measure(open_world: Callable[[], World], label: str) -> dict[str, float]:
    """Seeding, a read, a write and a replayed write on one backend (milliseconds)."""
    seed_ms = _median_ms(lambda: open_world().close(), REPEAT)
    world = open_world()
    try:
        read = _per_call_ms(lambda i: world.crm.get_order(f"SO-{i % 200 + 1:04d}"))
        write = _per_call_ms(lambda i: world.notifications.send_message("CUST-001", f"{label} {i}", "bench", f"k{i}"))
        replay = _per_call_ms(lambda i: world.notifications.send_message("CUST-001", f"{label} {i}", "bench", f"k{i}"))
    finally:
        world.close()
    return {"seed (open a fresh world)": seed_ms, "read (get_order)": read, "write (send_message)": write,
            "replayed write (same key)": replay}


def _writer(url: str, schema: str, who: str, out: Any) -> None:
    world = World(url, schema=schema)
    started = time.perf_counter()
    for i in range(PROCESS_WRITES):
        world.crm.create_ticket("CUST-002", f"{who} {i}", "bench", "technical", f"{who}-{i}")
    out.put(time.perf_counter() - started)
    world.close()


def two_writers(url: str, schema: str) -> float:
    """Writes per second of two processes creating tickets (each write takes the world lock)."""
    World.open(url, schema=schema).close()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, schema, who, out)) for who in ("a", "b")]
    for proc in procs:
        proc.start()
    elapsed = max(out.get(timeout=600) for _ in procs)
    for proc in procs:
        proc.join()
    return 2 * PROCESS_WRITES / elapsed


def main() -> None:
    """Print the table."""
    from tests.support.pgdb import fresh_database

    if not os.environ.get("OPSGRAPH_TEST_POSTGRES_URL"):
        raise SystemExit("set OPSGRAPH_TEST_POSTGRES_URL to a Postgres URL")
    with tempfile.TemporaryDirectory() as tmp, fresh_database("opsgraph_bench") as url:
        counter = iter(range(10_000))
        sqlite = measure(lambda: World.open(Path(tmp) / f"w{next(counter)}.db"), "sqlite")
        postgres = measure(lambda: World.open(url, schema=f"bench_{next(counter)}"), "postgres")
        rate = two_writers(url, "bench_writers")
    print("| operation | SQLite (ms) | Postgres (ms) |\n|---|---|---|")
    for name in sqlite:
        print(f"| {name} | {sqlite[name]:.2f} | {postgres[name]:.2f} |")
    print(f"\ntwo Postgres writer processes: {rate:.0f} writes/s together ({PROCESS_WRITES} each)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
