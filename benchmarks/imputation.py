"""Benchmark: the multiple-imputation stage on the default study (m = 20 unless --m), and the whole run.

Clones the repository (HEAD, so uncommitted changes are not measured) into a temporary folder, runs
the workflow up to the ingest files, then times ``snakemake --cores N`` of the ``impute`` rule alone
(imputation, 20 × (1 + δ) analyses, pooling; the rule runs ``--workers {threads}``, here with
``--set-threads impute=N``: the workflow gives it one core so that it runs beside the other stages)
and finally the rest of a cold run. Prints wall time, CPU time (user + system of all processes:
independent of how busy the machine is) and the load average at the start, and the stage's own phase
timings from its log.
Target (issue 15): the impute stage of the default study, m = 20, under 60 s on 2 cores.

    python benchmarks/imputation.py [--cores 2] [--m 20]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# one measuring helper for every benchmark (wall, CPU, peak RSS of a command's process tree)
from pipeline import measure  # noqa: E402 - benchmarks/ is the script's folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--m", type=int, default=20)
    args = parser.parse_args(argv)
    snake = [sys.executable, "-m", "snakemake", "--cores", str(args.cores)]
    with tempfile.TemporaryDirectory(prefix="cocapp-bench-mi-") as tmp:
        work = Path(tmp) / "default"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(work)], check=True)
        cfg = yaml.safe_load((work / "config.yaml").read_text("utf-8"))
        cfg.setdefault("imputation", {})["m"] = args.m
        (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), "utf-8")
        ingest = [
            f"data/derived/ingest/{g}_{kind}.csv" for g in cfg["groups"] for kind in ("items", "respondents")
        ]
        measure([*snake, *ingest], work)
        load = os.getloadavg()[0]
        alone = ["--set-threads", f"impute={args.cores}"]
        stage = measure([*snake, *alone, "data/derived/sensitivity/mi_tipping.csv"], work)
        rest = measure(snake, work)
        log = (work / "data/derived/logs/impute.log").read_text("utf-8")
    phases = re.findall(r"cocapp impute: ((?:imputed in|\d+ completed datasets).*|done in .*)", log)
    print(f"load average (1 min) before the impute stage: {load:.2f} on {os.cpu_count()} CPUs")
    print(
        f"impute stage (m = {args.m}, --cores {args.cores}): wall {stage['wall']:.1f} s, "
        f"CPU {stage['cpu']:.1f} s, peak {stage['peak_mb']:.0f} MB"
    )
    for p in phases:
        print(f"  {p}")
    print(f"rest of the cold run: wall {rest['wall']:.1f} s, CPU {rest['cpu']:.1f} s")
    print("target: impute stage of the default study with m = 20 under 60 s on 2 cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
