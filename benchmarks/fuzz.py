"""Fuzz the study's inputs: 10,000 mutated copies of the default study, each run in-process.

Each case mutates one input file of the default study -- a raw file (.sav as shipped, or the CSV
export), the codebook, an instrument file or config.yaml; bytes, cells or structure -- and runs config
and instrument loading, ``cocapp ingest`` and ``cocapp score`` (tests/fuzz_harness.py says what is
checked). Prints how many cases ran, how many were refused with a message, how many ran, and every
crash found (a traceback, an output left behind, an error naming no file, a neutral mutation that
changed an output).

    python benchmarks/fuzz.py [--cases 10000] [--jobs 2] [--seed 0]

Progress lines go to stderr every ``--every`` cases of each worker.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def worker(args: tuple[int, int, int]) -> dict:
    n_cases, seed, every = args
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    import fuzz_harness

    counts: collections.Counter = collections.Counter()
    targets: collections.Counter = collections.Counter()
    crashes: list[dict] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cocapp-fuzz-") as tmp:
        fuzzer = fuzz_harness.Fuzzer(Path(tmp))

        @hypothesis_seed(seed)
        @settings(
            max_examples=n_cases,
            deadline=None,
            database=None,
            phases=[Phase.generate],  # every case counts; crashes are collected, not shrunk
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def run(data):
            case, outcome = fuzzer.case(data)
            counts[outcome.kind] += 1
            targets[(case.target, outcome.kind)] += 1
            if outcome.kind == "crash":
                crashes.append(
                    {"target": outcome.target, "mutation": outcome.mutation, "message": outcome.message}
                )
            done = sum(counts.values())
            if done % every == 0:
                rate = done / (time.perf_counter() - started)
                print(f"[seed {seed}] {done} cases, {dict(counts)}, {rate:.2f} cases/s", file=sys.stderr, flush=True)

        run()
    return {"counts": counts, "targets": targets, "crashes": crashes, "seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=250)
    args = parser.parse_args(argv)
    shares = [args.cases // args.jobs + (1 if i < args.cases % args.jobs else 0) for i in range(args.jobs)]
    tasks = [(n, args.seed + i, args.every) for i, n in enumerate(shares)]
    started = time.perf_counter()
    if args.jobs == 1:
        results = [worker(tasks[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            results = pool.map(worker, tasks)
    counts: collections.Counter = collections.Counter()
    targets: collections.Counter = collections.Counter()
    crashes: list[dict] = []
    for r in results:
        counts.update(r["counts"])
        targets.update(r["targets"])
        crashes += r["crashes"]
    total = sum(counts.values())
    print(f"cases: {total} ({args.jobs} worker(s), seeds {args.seed}..{args.seed + args.jobs - 1})")
    print(f"ran (exit 0): {counts['ok']}")
    print(f"refused with a message naming the file (exit 1, nothing written): {counts['refused']}")
    print(f"crashes (traceback, output left behind, no file named, neutral mutation changed output): {len(crashes)}")
    print("by target file:")
    for target in ("raw", "codebook", "instrument", "config"):
        print(f"  {target:<10} ran {targets[(target, 'ok')]:>5}  refused {targets[(target, 'refused')]:>5}"
              f"  crashed {targets[(target, 'crash')]:>3}")
    print(f"wall time: {time.perf_counter() - started:.0f} s")
    for c in crashes[:20]:
        print(f"\nCRASH {c['target']}: {c['mutation']}\n{c['message']}")
    return 1 if crashes else 0


if __name__ == "__main__":
    raise SystemExit(main())
