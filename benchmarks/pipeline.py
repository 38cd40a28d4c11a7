"""Benchmark: the whole workflow, cold and with nothing to do, on the default study and a large one.

Clones the repository (HEAD, so uncommitted changes are not measured) into a temporary folder and
times ``snakemake --cores N`` there: a cold run, then a second run that has nothing to do. Then the
same on a generated study of ``--respondents`` service users (default 100,000) × 76 items (RSA, STAR-P,
ES) in the 6 sites, made by resampling the embedded default's respondents (new ids; the published
audit, the qualitative arm and multiple imputation switched off). The default is also run with
``imputation.enabled: false`` (the architecture targets predate the imputation stage). Prints wall
time, CPU time (user + system of every process) and peak memory side by side: the largest resident
set of any one process of the run, and the largest total of all its processes at one moment (the
jobs that ran side by side, sampled every 20 ms). The default study is run cold ``--repeat`` times,
each in a fresh clone (median shown, every run listed): on a shared machine one run can be 10-20 %
off. Targets
(architecture issue): default cold < 30 s, no-op < 2 s; 100,000 respondents end to end < 120 s and < 4 GB.

    python benchmarks/pipeline.py [--cores 2] [--repeat 3] [--respondents 100000] [--skip-large]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]

# Runs one command and reports its wall time, CPU time (children reaped) and two peaks of memory: the
# largest resident set of any one process (ru_maxrss), and the largest total resident set of the whole
# process tree at any moment (sampled from /proc every 20 ms: the jobs that ran at the same time).
_MEASURE = r"""
import json, os, resource, subprocess, sys, time

def tree_rss(root):
    children = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(pid))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            pass
    return total

t = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
together = 0
while proc.poll() is None:
    together = max(together, tree_rss(proc.pid))
    time.sleep(0.02)
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": proc.returncode, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime,
                  "peak_mb": ru.ru_maxrss / 1024, "together_mb": together / 2**20}))
"""


def measure(cmd: list[str], cwd: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(cwd / "src")}
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd], cwd=cwd, env=env, capture_output=True, text=True
    )
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd} (see {cwd}/data/derived/logs)")
    return result


def clone(dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    return dest


def make_large_study(work: Path, n: int, seed: int = 2016) -> None:
    """``n`` service users resampled from the default's, spread evenly over the six sites."""
    raw = pd.read_csv(work / "data/raw/service_users.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    big = raw.iloc[rng.integers(0, len(raw), n)].reset_index(drop=True)
    cfg = yaml.safe_load((work / "config.yaml").read_text("utf-8"))
    sites = [s["name"] for s in cfg["sites"]]
    big["site"] = [sites[i % len(sites)] for i in range(n)]
    big["id"] = [f"L{i:07d}" for i in range(n)]
    big.to_csv(work / "data/raw/large_service_users.csv", index=False)
    cfg["groups"] = {
        "service_users": {**cfg["groups"]["service_users"], "raw": "data/raw/large_service_users.csv"}
    }
    cfg["qualitative"]["enabled"] = False
    cfg["published"] = {"figures": []}
    # multiple imputation (m copies of the study) does not fit this budget at 100,000 respondents yet
    cfg.setdefault("imputation", {})["enabled"] = False
    cfg["study"]["name"] = f"Generated study ({n:,} respondents)"
    # resampled data were not calibrated to the paper: claim no calibration (issue 14)
    cfg["study"].pop("calibration", None)
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), "utf-8")


def row(label: str, cold: dict, noop: dict) -> str:
    return (
        f"{label:<30} {cold['wall']:>6.1f} s {cold['cpu']:>6.1f} s {cold['peak_mb']:>6.0f} MB "
        f"{cold['together_mb']:>6.0f} MB   {noop['wall']:>6.2f} s {noop['peak_mb']:>6.0f} MB"
    )


def cold_runs(tmp: Path, name: str, cmd: list[str], repeat: int, configure=None) -> tuple[dict, dict, str]:
    """``repeat`` cold runs, each in a fresh clone (``configure`` edits its config), then one run with
    nothing to do: the median cold run, the no-op run and the list of cold wall times."""
    runs = []
    for i in range(repeat):
        work = clone(tmp / f"{name}-{i}")
        if configure is not None:
            configure(work)
        runs.append(measure(cmd, work))
    noop = measure(cmd, work)
    walls = sorted(r["wall"] for r in runs)
    median = sorted(runs, key=lambda r: r["wall"])[(repeat - 1) // 2]
    return median, noop, ", ".join(f"{w:.1f}" for w in walls)


def _imputation_off(work: Path) -> None:
    cfg = yaml.safe_load((work / "config.yaml").read_text("utf-8"))
    cfg.setdefault("imputation", {})["enabled"] = False
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="cold runs of the default study (median shown)")
    parser.add_argument("--respondents", type=int, default=100_000)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args(argv)
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(args.cores)]
    print(
        f"{'study':<30} {'cold run: wall, CPU, peak (one process, all at once)':>44}   {'nothing to do':>16}"
    )
    repeat = max(1, args.repeat)
    with tempfile.TemporaryDirectory(prefix="cocapp-bench-") as tmp:
        for label, name, configure in [
            ("default (649 respondents)", "default", None),
            ("default, imputation off", "default-no-mi", _imputation_off),
        ]:
            cold, noop, walls = cold_runs(Path(tmp), name, cmd, repeat, configure)
            print(row(label, cold, noop), flush=True)
            if repeat > 1:
                print(f"{'':<30} (median of {repeat} cold runs: {walls} s)", flush=True)
        if not args.skip_large:
            large = clone(Path(tmp) / "large")
            t = time.perf_counter()
            make_large_study(large, args.respondents)
            made = time.perf_counter() - t
            cold, noop = measure(cmd, large), measure(cmd, large)
            print(row(f"generated ({args.respondents:,} x 76 items)", cold, noop))
            print(f"(generating the large study's raw file took {made:.1f} s, not included)")
    print("targets: default cold < 30 s, no-op < 2 s; 100,000 respondents < 120 s and < 4 GB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
