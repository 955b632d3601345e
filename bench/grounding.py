"""Value grounding at the real catalogue's size: 1.2 M titles and 3 M people.

Builds `api.grounding.index.ValueIndex` over generated names (deterministic), then times
lookups of misspelt, partial and lower-case names against an exact-match dict lookup of the
same values in the same run (the baseline). Reports the index's memory (its arrays and
vocabulary, and the process's resident growth while building it) and the build time.
Goals: lookup p95 <= 50 ms, index memory <= 500 MB.

Run: .venv/bin/python bench/grounding.py [--titles 1200000] [--people 3000000]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.grounding.index import ValueIndex, normalize  # noqa: E402

SYLLABLES = str.split(
    "ka ri to mi na sa le on ar el in us ba do ge ha jo ku lo ma ne pi ro si ta vi wa ya zo"
    " bri cla dre fra gra kle pro sta tre vor ste lin mar son ber ton ley ric har wen dal"
)
WORDS = str.split(
    "the of a night day love war last dark city house blood star man woman girl boy secret"
    " road river summer winter king queen life death world return black white red blue"
)


def _name(rng: random.Random, parts: int) -> str:
    return " ".join(
        "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        for _ in range(parts)
    )


def people(n: int, seed: int = 7):
    rng = random.Random(seed)
    for _ in range(n):
        yield "person", _name(rng, 2), rng.randint(1, 60)


def titles(n: int, seed: int = 11):
    rng = random.Random(seed)
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(0, 2))]
        words.append(_name(rng, 1))
        yield "title", " ".join(words).capitalize(), rng.randint(0, 30000)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def _typo(value: str) -> str:
    longest = max(value.split(), key=len)
    return value.replace(longest, longest[:2] + longest[3:], 1)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=1_200_000)
    parser.add_argument("--people", type=int, default=3_000_000)
    parser.add_argument("--lookups", type=int, default=300)
    args = parser.parse_args()

    gc.collect()
    before = _rss_mb()
    started = time.perf_counter()
    index = ValueIndex(
        entry for source in (people(args.people), titles(args.titles)) for entry in source
    )
    build_s = time.perf_counter() - started
    gc.collect()
    grown = _rss_mb() - before

    rng = random.Random(3)
    sample = [index.value(rng.randrange(len(index))) for _ in range(args.lookups)]
    exact = {}  # the baseline: an exact-match dict of the sampled values
    for value in sample:
        exact.setdefault(normalize(value), value)
    queries = []
    for i, value in enumerate(sample):
        form = i % 3
        queries.append(
            _typo(value) if form == 0 else value.split()[-1] if form == 1 else value.lower()
        )

    timings, baseline, found = [], [], [0, 0, 0]
    for i, (query, value) in enumerate(zip(queries, sample, strict=True)):
        started = time.perf_counter()
        matches = index.lookup(query, limit=5)
        timings.append((time.perf_counter() - started) * 1000)
        found[i % 3] += any(m.value == value for m in matches)
        started = time.perf_counter()
        exact.get(normalize(value))
        baseline.append((time.perf_counter() - started) * 1000)

    print(f"Value grounding: {args.people:,} people + {args.titles:,} titles = {len(index):,}")
    print(f"  build {build_s:.1f} s; index {index.nbytes() / 1e6:.0f} MB (arrays + vocabulary),")
    print(f"  resident growth while building {grown:.0f} MB  (goal <= 500 MB)")
    print(
        f"  lookup (misspelt / surname / lower case) p50 {pct(timings, 50):.1f} ms"
        f"  p95 {pct(timings, 95):.1f} ms  (goal p95 <= 50 ms)"
    )
    print(
        f"  exact dict lookup p50 {pct(baseline, 50) * 1000:.1f} µs (baseline):"
        f" {pct(timings, 50) / max(pct(baseline, 50), 1e-6):,.0f}x"
    )
    n = [len(queries[k::3]) for k in range(3)]
    print(
        f"  the sampled value among the top 5: misspelt {found[0]}/{n[0]}, lower case"
        f" {found[2]}/{n[2]}, surname alone {found[1]}/{n[1]} (a surname many people share"
        " ranks them by weight)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
