"""Benchmark: CLI cold start — ``opsgraph --help`` and the time until ``opsgraph chat`` shows its prompt.

Each sample is a new process on a pseudo-terminal (as a person starts it): the clock starts
just before the process is spawned and stops when the prompt character appears on the
terminal (``›``), or when ``--help`` exits. Cursor-position requests from prompt_toolkit
are answered as a terminal would. ``chat --thread`` is also timed to the moment the
reopened thread's recap appears (runner, checkpointer and graph loaded in the background).

Usage: ``python bench/bench_startup.py [-n 7] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pexpect

OPSGRAPH = str(Path(sys.executable).with_name("opsgraph"))
CPR_REQUEST, CPR_ANSWER = "\x1b[6n", "\x1b[1;1R"
PROMPT = "›"
HEAVY = ("langgraph", "chromadb", "onnxruntime", "langchain_openai", "matplotlib", "prompt_toolkit")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSGRAPH_", "OPENAI_", "LANGSMITH_"))}
    return {**env, "OPSGRAPH_HOME": str(home), "TERM": "xterm-256color"}


def time_until(args: list[str], home: Path, marks: list[str], timeout: float = 60) -> list[float]:
    """Seconds from spawn until each of ``marks`` has appeared on the terminal, in order."""
    started = time.perf_counter()
    child = pexpect.spawn(OPSGRAPH, args, env=_env(home), cwd=str(home.parent), encoding="utf-8",
                          codec_errors="replace", dimensions=(40, 140))
    seen, times = "", []
    try:
        while len(times) < len(marks):
            try:
                chunk = child.read_nonblocking(65536, timeout=0.01)
            except pexpect.TIMEOUT:
                chunk = ""
            if CPR_REQUEST in chunk:
                child.send(CPR_ANSWER)  # what a real terminal does
            seen += chunk
            while len(times) < len(marks) and marks[len(times)] in seen:
                times.append(time.perf_counter() - started)
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"{args}: waited {timeout}s for {marks[len(times)]!r}; saw {seen[-500:]!r}")
        # Typed, not Ctrl-D: output printed above the prompt briefly puts the tty in cooked mode,
        # where a Ctrl-D sent at that instant is swallowed by the line discipline.
        child.send("/exit\r")
        child.expect(pexpect.EOF, timeout=60)
    finally:
        child.close(force=True)
    return times


def time_help(home: Path) -> float:
    """Seconds for ``opsgraph --help`` to run to completion."""
    started = time.perf_counter()
    subprocess.run([OPSGRAPH, "--help"], env=_env(home), stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def heavy_imports_of_help(home: Path) -> list[str]:
    """Heavy packages imported by ``opsgraph --help`` (should be none)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "opsgraph", "--help"], env=_env(home),
                          capture_output=True, text=True, check=True)
    names = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    return sorted(names & set(HEAVY))


def summary(samples: list[float]) -> dict[str, float]:
    """Median, min and max in seconds."""
    return {"median_s": round(statistics.median(samples), 3), "min_s": round(min(samples), 3),
            "max_s": round(max(samples), 3), "n": len(samples)}


def main() -> None:
    """Run the benchmark and print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=7, help="samples per measurement")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        subprocess.run([OPSGRAPH, "run", "supply_chain_exception", "--shipment", "SH-0002", "--delay-days", "4",
                        "--thread", "bench-1", "--json"], env=_env(home), stdout=subprocess.DEVNULL, check=True)
        time_until(["chat", "-g", "supply_chain_exception"], home, [PROMPT])  # warm the OS file cache
        rows = {"opsgraph --help (to exit)": [], "opsgraph chat (to prompt)": [],
                "opsgraph chat --thread (to prompt)": [], "opsgraph chat --thread (to recap, services loaded)": []}
        for _ in range(args.n):
            rows["opsgraph --help (to exit)"].append(time_help(home))
            rows["opsgraph chat (to prompt)"] += time_until(["chat", "-g", "supply_chain_exception"], home, [PROMPT])
            prompt, ready = time_until(["chat", "--thread", "bench-1"], home, [PROMPT, "active agent"])
            rows["opsgraph chat --thread (to prompt)"].append(prompt)
            rows["opsgraph chat --thread (to recap, services loaded)"].append(ready)
        heavy = heavy_imports_of_help(home)
    result = {"date": date.today().isoformat(), "python": platform.python_version(), "cpus": os.cpu_count(),
              "load_avg_1m": round(os.getloadavg()[0], 2), "heavy_imports_of_help": heavy,
              "results": {name: summary(samples) for name, samples in rows.items()}}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['date']}  python {result['python']}  {result['cpus']} CPUs  load {result['load_avg_1m']}")
    for name, stats in result["results"].items():
        print(f"{name:52} median {stats['median_s']:.2f} s  (min {stats['min_s']:.2f}, max {stats['max_s']:.2f}, n={stats['n']})")
    print(f"heavy modules imported by --help: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
