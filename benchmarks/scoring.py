"""Benchmark: score 1,000,000 respondents x 76 items (RSA 36, STAR-P 12, ES 28) at five thresholds.

Prints wall time of the scoring itself (data generation excluded) and peak memory of the process.
Target (issue 3): < 5 s and < 2 GB on a 2-core machine. The core computes every scale score at every
threshold as an array (respondent x scale x threshold); ``--long`` also builds the long table that one
pipeline job writes (one threshold) and reports its time.

    python benchmarks/scoring.py [--respondents 1000000] [--long]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd

from cocapp.instruments import load_instrument
from cocapp.stats.scoring import person_means, score_group


def generate(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {
        "id": np.char.add("R", np.arange(n).astype(str)).astype(object),
        "site": rng.choice(np.array(["A", "B", "C", "D", "E", "F"], dtype=object), n),
    }
    for key in ("RSA", "STAR-P", "ES"):
        inst = load_instrument(key)
        lo, hi = int(inst.response_min), int(inst.response_max)
        for col in inst.columns():
            x = rng.integers(lo, hi + 1, n).astype(np.float32)
            x[rng.random(n, dtype=np.float32) < 0.12] = np.float32(9)
            data[col] = x
    return pd.DataFrame(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--respondents", type=int, default=1_000_000)
    parser.add_argument("--long", action="store_true", help="also build the long table of one threshold")
    args = parser.parse_args()
    items = generate(args.respondents)
    input_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    instruments = {k: load_instrument(k) for k in ("RSA", "STAR-P", "ES")}
    thresholds = [0.0, 0.2, 0.3, 0.4, 0.5]
    t0 = time.perf_counter()
    arrays = {k: person_means(items, inst).scores(thresholds) for k, inst in instruments.items()}
    elapsed = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n_items = sum(i.n_items for i in instruments.values())
    n_scores = sum(a.size for a in arrays.values())
    print(f"respondents          {args.respondents:,}")
    print(f"items                {n_items}")
    print(f"scales x thresholds  {sum(len(i.scales) for i in instruments.values())} x {len(thresholds)}")
    print(f"scores computed      {n_scores:,}")
    print(f"scoring wall time    {elapsed:.2f} s   (target < 5 s)")
    print(
        f"peak memory (RSS)    {peak_mb:,.0f} MB (target < 2048 MB; "
        f"the generated input alone: {input_mb:,.0f} MB)"
    )
    if args.long:
        del arrays
        t0 = time.perf_counter()
        long = score_group(items, instruments, [0.5])
        elapsed = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"long table, 1 threshold: {len(long):,} rows in {elapsed:.2f} s, peak {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
