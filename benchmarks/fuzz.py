"""Fuzz the study's inputs: 10,000 mutated copies of the default study, each run in-process.

Each case mutates one input file of the default study -- a raw file (.sav as shipped, or the CSV
export), the codebook, an instrument file or config.yaml; bytes, cells or structure -- and runs config
and instrument loading, ``cocapp ingest`` and ``cocapp score`` (tests/fuzz_harness.py says what is
checked). Prints how many cases ran, how many were refused with a message, how many ran, and every
crash found (a traceback, an output left behind, an error naming no file, a neutral mutation that
changed an output).

    python benchmarks/fuzz.py [--cases 10000] [--jobs 2] [--seed 0] [--max-minutes M]

Progress lines go to stderr every ``--every`` cases of each worker, and every crash as it is found;
``--max-minutes`` stops the workers after that time and prints the summary of the cases run.
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


def worker(args: tuple[int, int, int, float]) -> dict:
    n_cases, seed, every, deadline = args
    import fuzz_harness
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

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
            if time.time() > deadline:
                raise TimeoutError("out of time")
            case, outcome = fuzzer.case(data)
            counts[outcome.kind] += 1
            targets[(case.target, outcome.kind)] += 1
            if outcome.kind == "crash":
                crashes.append(
                    {"target": outcome.target, "mutation": outcome.mutation, "message": outcome.message}
                )
                print(
                    f"[seed {seed}] CRASH {outcome.target}: {outcome.mutation}\n{outcome.message}",
                    file=sys.stderr,
                    flush=True,
                )
            done = sum(counts.values())
            if done % every == 0:
                rate = done / (time.perf_counter() - started)
                print(
                    f"[seed {seed}] {done} cases, {dict(counts)}, {rate:.2f} cases/s",
                    file=sys.stderr,
                    flush=True,
                )

        try:
            run()
        except Exception:
            if time.time() <= deadline:
                raise
            # out of time (Hypothesis may report it as flaky data generation): stop here
            print(
                f"[seed {seed}] out of time after {sum(counts.values())} cases", file=sys.stderr, flush=True
            )
    return {
        "counts": counts,
        "targets": targets,
        "crashes": crashes,
        "seconds": time.perf_counter() - started,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after this time")
    args = parser.parse_args(argv)
    shares = [args.cases // args.jobs + (1 if i < args.cases % args.jobs else 0) for i in range(args.jobs)]
    deadline = time.time() + 60 * args.max_minutes if args.max_minutes else float("inf")
    tasks = [(n, args.seed + i, args.every, deadline) for i, n in enumerate(shares)]
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
    stopped = " -- stopped by --max-minutes" if total < args.cases else ""
    seeds = f"seeds {args.seed}..{args.seed + args.jobs - 1}"
    print(f"cases: {total} of {args.cases} ({args.jobs} worker(s), {seeds}){stopped}")
    print(f"ran (exit 0): {counts['ok']}")
    print(f"refused with a message naming the file (exit 1, nothing written): {counts['refused']}")
    what = "traceback, output left behind, no file named, neutral mutation changed output"
    print(f"crashes ({what}): {len(crashes)}")
    print("by target file:")
    for target in ("raw", "codebook", "instrument", "config"):
        print(
            f"  {target:<10} ran {targets[(target, 'ok')]:>5}  refused {targets[(target, 'refused')]:>5}"
            f"  crashed {targets[(target, 'crash')]:>3}"
        )
    print(f"wall time: {time.perf_counter() - started:.0f} s")
    for c in crashes[:20]:
        print(f"\nCRASH {c['target']}: {c['mutation']}\n{c['message']}")
    return 1 if crashes else 0


if __name__ == "__main__":
    raise SystemExit(main())
