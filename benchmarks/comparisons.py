"""Benchmark: site comparisons on a generated study of 1,000,000 respondents at 6 sites.

Runs, for each of three outcomes, the one-way ANOVA (with the Levene and Welch columns cocapp always
reports) and Tukey–Kramer pairs, then the Pearson correlations of the three outcomes pooled and per site,
in cocapp; then the same work in R via ``Rscript`` (``aov`` + ``summary``, ``TukeyHSD``, ``cor.test``).
Prints both wall times (data generation and file transfer excluded on both sides), their ratio, and
cocapp's peak memory. Targets (issue 6): cocapp >= 5x faster than R, < 4 GB peak.

    python benchmarks/comparisons.py [--respondents 1000000] [--no-r]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from cocapp.stats.anova import oneway_anova, site_codes, summarise_groups
from cocapp.stats.correlation import pearson_table
from cocapp.stats.posthoc import tukey_kramer

SITES = ["Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence"]
OUTCOMES = ["RSA", "STAR_P", "ES"]

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]; n <- as.integer(args[2])
sites <- c("Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence")
outcomes <- c("RSA", "STAR_P", "ES")
con <- file(file.path(dir, "site.bin"), "rb"); code <- readBin(con, "integer", n, size = 4); close(con)
d <- data.frame(site = factor(sites[code + 1L], levels = sites))
for (o in outcomes) {
  con <- file(file.path(dir, paste0(o, ".bin")), "rb"); d[[o]] <- readBin(con, "double", n); close(con)
}
t0 <- proc.time()[["elapsed"]]
for (o in outcomes) {
  fit <- aov(as.formula(paste(o, "~ site")), data = d)
  tab <- summary(fit)
  hsd <- TukeyHSD(fit, "site")
}
t1 <- proc.time()[["elapsed"]]
for (s in c("All", sites)) {
  w <- if (s == "All") d else d[d$site == s, ]
  for (i in 1:2) for (j in (i + 1):3) {
    ct <- cor.test(w[[outcomes[i]]], w[[outcomes[j]]])
  }
}
t2 <- proc.time()[["elapsed"]]
cat(sprintf("R_ANOVA_TUKEY %.6f\nR_CORRELATIONS %.6f\nR_TOTAL %.6f\n", t1 - t0, t2 - t1, t2 - t0))
cat(sprintf("R_CHECK_F %.17g\n", tab[[1]][["F value"]][1]))
"""


def generate(n: int, seed: int = 147) -> pd.DataFrame:
    """Respondents at six sites (unequal sizes), three correlated outcomes with site effects, ~5 % missing."""
    rng = np.random.default_rng(seed)
    site = rng.choice(6, n, p=[0.15, 0.17, 0.16, 0.14, 0.2, 0.18]).astype(np.int32)
    latent = rng.normal(0, 1, n)
    effects = np.array([0.0, 0.05, -0.02, 0.01, 0.03, -0.04])
    data = {"site": np.array(SITES, dtype=object)[site]}
    for i, name in enumerate(OUTCOMES):
        y = 3.0 + effects[site] * (i + 1) + 0.6 * latent + rng.normal(0, 0.8, n)
        y[rng.random(n) < 0.05] = np.nan
        data[name] = y
    df = pd.DataFrame(data)
    df.attrs["codes"] = site
    return df


def run_cocapp(df: pd.DataFrame) -> tuple[float, float, float, float]:
    """Wall time of ANOVA + Tukey (three outcomes) and of the correlations; F of the last outcome."""
    t0 = time.perf_counter()
    codes_all = site_codes(df["site"], SITES)
    for name in OUTCOMES:
        y = df[name].to_numpy()
        ok = np.isfinite(y)
        res = oneway_anova(y[ok], codes_all[ok], SITES)
        tukey_kramer(summarise_groups(y[ok], codes_all[ok], SITES))
    t1 = time.perf_counter()
    pearson_table(df, OUTCOMES, SITES)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, t2 - t0, float(res["F"])


def run_r(df: pd.DataFrame) -> dict[str, float] | None:
    if shutil.which("Rscript") is None:
        print("Rscript not found: R timing skipped")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        df.attrs["codes"].astype("<i4").tofile(tmpd / "site.bin")
        for name in OUTCOMES:
            df[name].to_numpy(dtype="<f8").tofile(tmpd / f"{name}.bin")
        (tmpd / "bench.R").write_text(R_SCRIPT)
        out = subprocess.run(
            ["Rscript", str(tmpd / "bench.R"), tmp, str(len(df))], capture_output=True, text=True, check=True
        ).stdout
    return {line.split()[0]: float(line.split()[1]) for line in out.splitlines() if line.startswith("R_")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--respondents", type=int, default=1_000_000)
    parser.add_argument("--no-r", action="store_true", help="skip the R comparison")
    args = parser.parse_args()
    df = generate(args.respondents)
    input_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    run_cocapp(df.head(1000))  # warm-up: imports and first-call overheads are not what we measure
    anova_s, corr_s, total_s, f_last = run_cocapp(df)
    tracemalloc.start()  # a second, untimed run measures what the analysis itself allocates
    run_cocapp(df)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"respondents              {args.respondents:,} at {len(SITES)} sites, {len(OUTCOMES)} outcomes")
    print(f"cocapp ANOVA+Tukey       {anova_s:.3f} s  (with Levene and Welch columns)")
    print(f"cocapp correlations      {corr_s:.3f} s  (3 pairs, pooled + 6 sites)")
    print(f"cocapp total             {total_s:.3f} s")
    print(
        f"cocapp peak memory       {peak_mb:,.0f} MB process RSS (generated input alone {input_mb:,.0f} MB); "
        f"{traced_peak / 2**20:,.0f} MB allocated by the analysis (tracemalloc)"
    )
    if not args.no_r:
        r = run_r(df)
        if r is not None:
            print(f"R aov+TukeyHSD           {r['R_ANOVA_TUKEY']:.3f} s")
            print(f"R cor.test               {r['R_CORRELATIONS']:.3f} s")
            print(f"R total                  {r['R_TOTAL']:.3f} s")
            print(f"ratio R / cocapp         {r['R_TOTAL'] / total_s:.1f}x   (target >= 5x)")
            print(f"same F (last outcome)    cocapp {f_last:.12g}  R {r['R_CHECK_F']:.12g}")
    print(f"memory target            {'met' if peak_mb < 4096 else 'MISSED'} (< 4096 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
