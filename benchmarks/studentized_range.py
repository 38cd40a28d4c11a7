"""Benchmark: the studentized range calls of the default run — cocapp.stats.studentized_range vs SciPy vs R.

Replays every ``sf``/``ppf`` call the site comparisons make (Tukey–Kramer, Games–Howell with one Welch df
per pair, Tukey-adjusted ANCOVA pairs), collected by running ``cocapp.stats.compare.compare_sites`` and
``cocapp.stats.adjusted.compare_adjusted`` on the default run's derived files (``snakemake --cores 2``
first; without them a realistic set is used: k = 6, df = 640 and Games–Howell dfs between 20 and 300).
It times

* cocapp: every call as the pipeline makes it (one vectorised call per family of pairs);
* SciPy: ``scipy.stats.studentized_range.sf``/``.ppf`` on a sample of the same values (SciPy takes
  ~10 ms per sf value and ~0.2 s per quantile, so all of them would take minutes; the total is
  extrapolated from the per-value time, ``--scipy-sample`` sets the sample, 0 = all);
* R: ``ptukey(q, k, df, lower.tail = FALSE)`` and ``qtukey(p, k, df)`` on every value (``Rscript``);

prints the three side by side with the speed-up (target: cocapp ≥ 100× SciPy), the largest differences
between them, and the far-tail error of SciPy and cocapp against the exact k = 2 form. The whole
workflow's times are ``benchmarks/pipeline.py``.

    python benchmarks/studentized_range.py [--scipy-sample 300] [--no-r]
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special, stats

from cocapp.stats import studentized_range as sr

ROOT = Path(__file__).resolve().parents[1]
DERIVED = ROOT / "data" / "derived"
JOB = ("service_users", "0.5")  # the largest compare_sites job of the default run

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
s <- d[d$kind == "sf", ]; p <- d[d$kind == "ppf", ]
t0 <- proc.time()[["elapsed"]]
ps <- ptukey(s$x, s$k, s$df, lower.tail = FALSE)
t1 <- proc.time()[["elapsed"]]
qs <- qtukey(p$x, p$k, p$df)
t2 <- proc.time()[["elapsed"]]
cat(sprintf("R_SF %.6f\nR_PPF %.6f\n", t1 - t0, t2 - t1))
write.csv(data.frame(sf = ps), args[2], row.names = FALSE)
write.csv(data.frame(ppf = qs), args[3], row.names = FALSE)
"""


# -- the calls ---------------------------------------------------------------------------------------------
def collect_default_run() -> list[tuple[str, np.ndarray, float, np.ndarray]] | None:
    """(kind, x, k, df) of every sf/ppf call of the default run's site comparisons and ANCOVA, or None
    when there is no finished default run (``data/derived``)."""
    if not (DERIVED / "scores").is_dir():
        return None
    from cocapp.config import format_threshold, load_config, site_names
    from cocapp.contracts import read
    from cocapp.stats.adjusted import compare_adjusted
    from cocapp.stats.compare import compare_sites

    config = load_config(ROOT / "config.yaml")
    st = config["statistics"]
    calls: list[tuple[str, np.ndarray, float, np.ndarray]] = []
    original = {"sf": sr.sf, "ppf": sr.ppf}

    def recorder(kind):
        def call(x, k, df):
            x_, k_, df_ = np.broadcast_arrays(
                np.asarray(x, float), np.asarray(k, float), np.asarray(df, float)
            )
            calls.append((kind, x_.ravel().copy(), float(np.unique(k_)[0]), df_.ravel().copy()))
            return original[kind](x, k, df)

        return call

    sr.sf, sr.ppf = recorder("sf"), recorder("ppf")
    try:
        for group, spec in config["groups"].items():
            scores = read("scores", DERIVED / "scores" / f"{group}.csv")
            resp = read("respondents", DERIVED / "ingest" / f"{group}_respondents.csv")
            for t in map(format_threshold, config["scoring"]["thresholds"]):
                common = dict(alpha=st["significance_level"], confidence=st["confidence_level"])
                compare_sites(scores, spec["instruments"], site_names(config), group, t, **common)
                compare_adjusted(
                    scores,
                    resp,
                    spec["instruments"],
                    site_names(config),
                    group,
                    t,
                    covariates=spec["covariates"],
                    models=spec["ancova_models"],
                    posthoc=st["post_hoc"]["ancova"],
                    **common,
                )
    finally:
        sr.sf, sr.ppf = original["sf"], original["ppf"]
    return calls


def realistic_set(n_outcomes: int = 110, seed: int = 147) -> list[tuple[str, np.ndarray, float, np.ndarray]]:
    """Per outcome: Tukey (15 pairs, df 640), Games–Howell (15 Welch dfs), two ANCOVA models (df ~630)."""
    rng = np.random.default_rng(seed)
    calls = []
    for _ in range(n_outcomes):
        gh_df = rng.uniform(20, 300, 15)
        calls += [
            ("sf", rng.uniform(0.2, 6.0, 15), 6.0, np.full(15, 640.0)),
            ("ppf", np.array([0.95]), 6.0, np.array([640.0])),
        ]
        calls += [("sf", rng.uniform(0.2, 6.0, 15), 6.0, gh_df), ("ppf", np.full(15, 0.95), 6.0, gh_df)]
        for df in (630.0, 636.0):
            calls += [
                ("sf", rng.uniform(0.2, 6.0, 15), 6.0, np.full(15, df)),
                ("ppf", np.array([0.95]), 6.0, np.array([df])),
            ]
    return calls


# -- timings ----------------------------------------------------------------------------------------------
def time_cocapp(calls, repeats: int = 3) -> tuple[float, float, list[np.ndarray]]:
    """Best of ``repeats`` wall times of all sf calls and of all ppf calls, as the pipeline makes them."""
    best = {"sf": math.inf, "ppf": math.inf}
    results = []
    for _ in range(repeats):
        spent = {"sf": 0.0, "ppf": 0.0}
        results = []
        for kind, x, k, df in calls:
            t0 = time.perf_counter()
            results.append(np.atleast_1d(getattr(sr, kind)(x, k, df)))
            spent[kind] += time.perf_counter() - t0
        best = {key: min(best[key], spent[key]) for key in best}
    return best["sf"], best["ppf"], results


def flatten(calls, kind):
    rows = [(x, np.full(len(x), k), df) for c, x, k, df in calls if c == kind]
    return tuple(np.concatenate(col) for col in zip(*rows, strict=True)) if rows else (np.empty(0),) * 3


def time_scipy(x, k, df, kind: str, sample: int, rng) -> tuple[float, np.ndarray, np.ndarray]:
    """Seconds per value of SciPy's sf/ppf on a random sample (all if ``sample`` is 0); the sample's index
    and SciPy's values."""
    idx = np.arange(len(x)) if sample == 0 or sample >= len(x) else rng.choice(len(x), sample, replace=False)
    fun = getattr(stats.studentized_range, kind)
    t0 = time.perf_counter()
    vals = np.array([fun(x[i], k[i], df[i]) for i in idx])
    return (time.perf_counter() - t0) / max(len(idx), 1), idx, vals


def time_r(calls) -> tuple[dict[str, float], np.ndarray, np.ndarray] | None:
    if shutil.which("Rscript") is None:
        print("Rscript not found: R timing skipped")
        return None
    frames = []
    for kind in ("sf", "ppf"):
        x, k, df = flatten(calls, kind)
        frames.append(pd.DataFrame({"kind": kind, "x": x, "k": k, "df": df}))
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        pd.concat(frames).to_csv(tmpd / "calls.csv", index=False, float_format="%.17g")
        (tmpd / "bench.R").write_text(R_SCRIPT)
        out = subprocess.run(
            [
                "Rscript",
                str(tmpd / "bench.R"),
                str(tmpd / "calls.csv"),
                str(tmpd / "sf.csv"),
                str(tmpd / "ppf.csv"),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        r_sf = pd.read_csv(tmpd / "sf.csv")["sf"].to_numpy()
        r_ppf = pd.read_csv(tmpd / "ppf.csv")["ppf"].to_numpy()
    times = {line.split()[0]: float(line.split()[1]) for line in out.splitlines() if line.startswith("R_")}
    return times, r_sf, r_ppf


# -- report -----------------------------------------------------------------------------------------------
def far_tail_errors() -> list[str]:
    """Relative error of SciPy's and cocapp's sf against the exact k = 2 form 2 P(T_ν > q/√2)."""
    lines = []
    for p, df in [(1e-6, 30.0), (1e-9, 30.0), (1e-11, 30.0), (1e-11, 640.0)]:
        q = math.sqrt(2) * stats.t.isf(p / 2, df)
        exact = 2 * special.stdtr(df, -q / math.sqrt(2))
        e_sp = stats.studentized_range.sf(q, 2, df) / exact - 1
        e_co = float(sr.sf(q, 2, df)) / exact - 1
        lines.append(f"  k=2 df={df:<5g} p={p:<6g}  SciPy {e_sp:+.1e}   cocapp {e_co:+.1e}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scipy-sample", type=int, default=300, help="values timed with SciPy per kind (0: all)"
    )
    parser.add_argument("--no-r", action="store_true", help="skip R")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    calls = collect_default_run()
    source = "the default run (data/derived)"
    if calls is None:
        calls, source = (
            realistic_set(),
            "a realistic set (no data/derived: run snakemake first for the real one)",
        )
    sr.sf(3.0, 6, 640.0)  # first-call costs (the k = 6 table, ~20 ms) are not what we measure
    n_sf = sum(len(c[1]) for c in calls if c[0] == "sf")
    n_ppf = sum(len(c[1]) for c in calls if c[0] == "ppf")
    n_calls = {kind: sum(c[0] == kind for c in calls) for kind in ("sf", "ppf")}
    print(f"calls from {source}")
    print(f"  sf : {n_calls['sf']} calls, {n_sf} values;  ppf: {n_calls['ppf']} calls, {n_ppf} values")
    ks = sorted({c[2] for c in calls})
    dfs = np.concatenate([c[3] for c in calls])
    print(f"  k in {ks}, df {dfs.min():.1f} .. {dfs.max():.1f}")

    co_sf, co_ppf, co_vals = time_cocapp(calls, args.repeats)
    rng = np.random.default_rng(1)
    per, scipy_total, diffs = {}, {}, {}
    for kind, n in (("sf", n_sf), ("ppf", n_ppf)):
        x, k, df = flatten(calls, kind)
        ours = np.concatenate([v for c, v in zip(calls, co_vals, strict=True) if c[0] == kind])
        per[kind], idx, sp = time_scipy(x, k, df, kind, args.scipy_sample, rng)
        scipy_total[kind] = per[kind] * n
        diffs[kind] = (np.max(np.abs(ours[idx] / sp - 1)), np.max(np.abs(ours[idx] - sp)), len(idx), ours)
    r = None if args.no_r else time_r(calls)

    print()
    print(f"{'':18}{'cocapp':>12}{'SciPy':>14}{'R':>12}{'SciPy/cocapp':>15}{'R/cocapp':>11}")
    rows = [("sf (upper tail)", co_sf, scipy_total["sf"], r[0]["R_SF"] if r else math.nan)]
    rows.append(("ppf (quantile)", co_ppf, scipy_total["ppf"], r[0]["R_PPF"] if r else math.nan))
    rows.append(
        ("all", co_sf + co_ppf, scipy_total["sf"] + scipy_total["ppf"], sum(r[0].values()) if r else math.nan)
    )
    for label, c, s, rt in rows:
        print(f"{label:18}{c:>10.3f} s{s:>12.1f} s{rt:>10.3f} s{s / c:>14.0f}x{rt / c:>10.1f}x")
    speedup = rows[-1][2] / rows[-1][1]
    print(f"speed-up over SciPy: {speedup:.0f}x  (target >= 100x: {'met' if speedup >= 100 else 'MISSED'})")
    print(
        f"  SciPy per value: sf {per['sf'] * 1e3:.1f} ms, ppf {per['ppf'] * 1e3:.0f} ms (timed on "
        f"{diffs['sf'][2]} sf and {diffs['ppf'][2]} ppf values, total extrapolated); cocapp per value: "
        f"sf {co_sf / n_sf * 1e6:.0f} us, ppf {co_ppf / n_ppf * 1e6:.0f} us"
    )
    print()
    print("agreement (the same values)")
    print(f"  cocapp vs SciPy  sf: max rel {diffs['sf'][0]:.1e} (abs {diffs['sf'][1]:.1e});"
          f"  ppf: max rel {diffs['ppf'][0]:.1e}")  # fmt: skip
    if r:
        r_sf, r_ppf = r[1], r[2]
        ours_sf, ours_ppf = diffs["sf"][3], diffs["ppf"][3]
        e_sf, e_ppf = np.max(np.abs(ours_sf - r_sf)), np.max(np.abs(ours_ppf / r_ppf - 1))
        print(f"  cocapp vs R      sf: max abs {e_sf:.1e};  ppf: max rel {e_ppf:.1e} (qtukey: 4 decimals)")
    print("far tail, relative error against the exact k = 2 form (cocapp keeps it; SciPy's sf is 1 - cdf)")
    print("\n".join(far_tail_errors()))

    return 0


if __name__ == "__main__":
    sys.exit(main())
