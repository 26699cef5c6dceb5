"""Benchmark: precision and recall of the PII recognizers per type, and their cost per string.

Runs the detector over the labelled corpus (tests/data/pii_corpus.yaml: international phone
formats, e-mails in prose, card numbers with spaces and dashes, postal addresses, names, and
hard negatives such as order ids, SKU and invoice numbers, dates and amounts). A labelled
value counts as found only when one detected span of its type covers all of it; a detected
span counts as correct when it overlaps a labelled value of its type. Also reports the
misses, the false alarms, any protected id or amount a span touched, and the median time to
scan one corpus string (first call excluded: it builds the recognizers).

Usage: ``python bench/bench_pii.py [--corpus FILE] [--repeat N]``
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

from opsgraph.governance.pii import PII_TYPES
from opsgraph.governance.pii_scoring import corpus_detector, load_corpus, score_corpus

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "pii_corpus.yaml"


def main() -> None:
    """Score the corpus and print a Markdown table plus the misses and false alarms."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=5, help="passes over the corpus for the timing")
    args = parser.parse_args()
    corpus = load_corpus(args.corpus)
    detector = corpus_detector(corpus)
    started = time.perf_counter()
    detector.find("warm-up: call +1 415-555-0132, mail a@b.com, card 4111 1111 1111 1111")
    warmup_ms = (time.perf_counter() - started) * 1000
    score = score_corpus(detector, corpus)
    per_string = _timings(detector, [case["text"] for case in corpus["cases"]], args.repeat)
    print(f"corpus: {score.cases} strings, {sum(len(c['pii']) for c in corpus['cases'])} labelled values; "
          f"{platform.python_version()} on {platform.machine()}\n")
    print("| type | labelled | found | missed | false alarms | precision | recall |")
    print("|---|---|---|---|---|---|---|")
    for kind in PII_TYPES:
        t = score.types[kind]
        print(f"| {kind} | {t.true_positives + t.false_negatives} | {t.true_positives} | {t.false_negatives} | "
              f"{t.false_positives} | {t.precision:.3f} | {t.recall:.3f} |")
    print(f"\nprotected ids/amounts/dates touched: {len(score.damaged)} {score.damaged or ''}")
    print(f"first call (builds the recognizers): {warmup_ms:.0f} ms; per string after that: median "
          f"{statistics.median(per_string):.2f} ms, max {max(per_string):.2f} ms")
    print("\nmissed:", *(f"  {kind}: {text!r}" for kind, text in score.missed), sep="\n")
    print("\nfalse alarms:", *(f"  {kind}: {text!r}" for kind, text in score.spurious), sep="\n")


def _timings(detector, texts: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(max(1, repeat)):
        for text in texts:
            started = time.perf_counter()
            detector.find(text)
            times.append((time.perf_counter() - started) * 1000)
    return times


if __name__ == "__main__":
    main()
