"""Benchmark: a national study end to end -- 250 sites, 1,000,000 service users -- and its site
comparisons side by side with R on the same data (issue 16).

1. Clones the repository (HEAD: uncommitted changes are not measured) into a temporary folder and
   generates the study there: ``cocapp synthesize --sites K --respondents N`` (illustrative data:
   the default's answers, missing codes and covariates resampled into K sites of skewed sizes with
   site effects; cocapp.synthetic.national), with ``intermediate_format: parquet``.
2. Times ``snakemake --cores C`` there (wall, CPU, peak resident memory of any process of the run;
   not counting the generation) and lists each stage's own time from its log.
3. R on the same scores: for every scale at every threshold, one-way ANOVA (``aov`` + ``summary``),
   Tukey–Kramer (``TukeyHSD``), Games–Howell (base R, vectorised over the pairs, ``ptukey``/``qtukey``)
   and the Pearson correlations of the instrument totals pooled and per site (``cor.test``) -- the
   work of cocapp's ``compare-sites`` stage, whose own time (reading its input included) is set beside
   R's (reading excluded).

Targets (issue 16): 1M x 250 sites end to end < 10 min and < 8 GB; the analysis stages >= 5x faster
than R. Do not run the full size on a shared machine: it takes the machine for many minutes.

    python benchmarks/national.py [--sites 250] [--respondents 1000000] [--cores 2] [--no-r] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import clone, measure  # noqa: E402

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]; conf <- 0.95
files <- sort(list.files(dir, pattern = "^scores_.*\\.csv$", full.names = TRUE))
totals <- strsplit(args[2], ",")[[1]]
elapsed <- 0; n_pairs <- 0; n_families <- 0
for (f in files) {
  d <- read.csv(f, check.names = FALSE)
  d$site <- factor(d$site)
  t0 <- proc.time()[["elapsed"]]
  for (o in setdiff(names(d), c("id", "site"))) {
    x <- d[!is.na(d[[o]]), c("site", o)]
    x$site <- droplevels(x$site)
    names(x) <- c("site", "score")
    fit <- aov(score ~ site, data = x)
    tab <- summary(fit)
    hsd <- TukeyHSD(fit, "site", conf.level = conf)
    k <- nlevels(x$site)
    m <- tapply(x$score, x$site, mean); v <- tapply(x$score, x$site, var)
    nn <- tapply(x$score, x$site, length)
    p <- which(upper.tri(matrix(0, k, k)), arr.ind = TRUE)
    a <- p[, 1]; b <- p[, 2]
    ua <- v[a] / nn[a]; ub <- v[b] / nn[b]
    se <- sqrt(ua + ub); df <- (ua + ub)^2 / (ua^2 / (nn[a] - 1) + ub^2 / (nn[b] - 1))
    q <- abs(m[a] - m[b]) / (se / sqrt(2))
    gh_p <- ptukey(q, k, df, lower.tail = FALSE)
    gh_crit <- qtukey(conf, k, df) / sqrt(2)
    n_pairs <- n_pairs + 2 * length(a); n_families <- n_families + 1
  }
  have <- intersect(totals, names(d))
  for (s in c("All", levels(d$site))) {
    w <- if (s == "All") d else d[d$site == s, ]
    if (length(have) >= 2) for (i in 1:(length(have) - 1)) for (j in (i + 1):length(have)) {
      ok <- complete.cases(w[[have[i]]], w[[have[j]]])
      if (sum(ok) >= 3) ct <- cor.test(w[[have[i]]][ok], w[[have[j]]][ok])
    }
  }
  elapsed <- elapsed + proc.time()[["elapsed"]] - t0
}
cat(sprintf("R_COMPARE_SITES %.3f\nR_PAIRS %d\nR_FAMILIES %d\n", elapsed, n_pairs, n_families))
"""


def make_study(work: Path, sites: int, respondents: int, fmt: str, seed: int) -> float:
    """Generate the study in the clone ``work`` (its config.yaml is the template); seconds taken."""
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cocapp",
            "synthesize",
            "--sites",
            str(sites),
            "--respondents",
            str(respondents),
        ]
        + ["--out", str(work), "--config", str(work / "config.yaml"), "--seed", str(seed)],
        cwd=work,
        env={"PYTHONPATH": str(work / "src"), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    cfg_path = work / "config.yaml"
    text = cfg_path.read_text("utf-8")
    cfg = yaml.safe_load(text)
    cfg["intermediate_format"] = fmt
    # the clone's default raw files beside the generated ones (data/raw/service_users.sav next to the
    # generated service_users.csv): ingest rightly refuses a second copy with different data
    for spec in cfg["groups"].values():
        raw = work / spec["raw"]
        for sibling in raw.parent.glob(f"{raw.stem}.*"):
            if sibling != raw and sibling.suffix in (".sav", ".dta", ".sas7bdat", ".csv"):
                sibling.unlink()
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), "utf-8")
    return time.perf_counter() - t


def stage_times(work: Path) -> dict[str, float]:
    """Each stage's own time from its log (``cocapp <stage>: done in X s``)."""
    out = {}
    for log in sorted((work / "data" / "derived" / "logs").glob("*.log")):
        m = re.search(r"cocapp ([\w-]+): done in ([0-9.]+) s", log.read_text("utf-8", "replace"))
        if m:
            out[log.stem] = float(m.group(2))
    return out


def export_for_r(work: Path, out: Path, n_thresholds: int | None = None) -> list[str]:
    """The scores table as one wide CSV per threshold (id, site, one column per instrument_scale), not
    timed; returns the names of the instrument totals (for the correlations). Read one threshold at
    a time (the whole table is 8e7 rows at 1M respondents)."""
    sys.path.insert(0, str(work / "src"))
    from cocapp.stages.common import scores_by_threshold

    cfg = yaml.safe_load((work / "config.yaml").read_text("utf-8"))
    path = next((work / "data" / "derived" / "scores").glob("service_users.*"))
    thresholds = [str(t) for t in cfg["scoring"]["thresholds"]][:n_thresholds]
    totals: set[str] = set()
    for t, part in scores_by_threshold(str(path), thresholds, None):
        part = part.assign(outcome=part["instrument"].astype(str) + "_" + part["scale"].astype(str))
        wide = part.pivot(index=["id", "site"], columns="outcome", values="score").reset_index()
        wide.to_csv(out / f"scores_{t}.csv", index=False)
        totals |= {o for o in wide.columns if o.endswith("_total")}
        del part, wide
    return sorted(totals)


def run_r(work: Path, tmp: Path, n_thresholds: int | None = None) -> dict[str, float] | None:
    if shutil.which("Rscript") is None:
        print("Rscript not found: R timing skipped")
        return None
    totals = export_for_r(work, tmp, n_thresholds)
    (tmp / "national.R").write_text(R_SCRIPT)
    proc = subprocess.run(
        ["Rscript", str(tmp / "national.R"), str(tmp), ",".join(totals)],
        capture_output=True,
        text=True,
        check=True,
    )
    return {k: float(v) for k, v in re.findall(r"^(R_\w+) ([0-9.]+)$", proc.stdout, re.M)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=250)
    parser.add_argument("--respondents", type=int, default=1_000_000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="intermediate_format")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--no-r", action="store_true", help="skip the R comparison")
    parser.add_argument("--keep", type=Path, help="copy the study folder (with its outputs) here")
    parser.add_argument(
        "--study",
        type=Path,
        help="a study folder kept by an earlier run (--keep): only the R side is run, against its scores "
        "(the site comparisons and one ANCOVA model)",
    )
    parser.add_argument(
        "--r-thresholds",
        type=int,
        help="R on the first N thresholds only (R's Games-Howell takes over a minute per family at "
        "k = 250); compared per family (outcome x threshold) with cocapp's compare-sites",
    )
    args = parser.parse_args(argv)
    if args.study:
        return r_only(args.study, args.r_thresholds)
    with tempfile.TemporaryDirectory(prefix="cocapp-national-") as tmp:
        tmp = Path(tmp)
        work = clone(tmp / "study")
        made = make_study(work, args.sites, args.respondents, args.format, args.seed)
        cmd = [sys.executable, "-m", "snakemake", "--cores", str(args.cores)]
        run = measure(cmd, work)
        stages = stage_times(work)
        r = None if args.no_r else run_r(work, tmp, args.r_thresholds)
        result = {
            "sites": args.sites,
            "respondents": args.respondents,
            "intermediate_format": args.format,
            "generate_s": round(made, 1),
            "pipeline_wall_s": round(run["wall"], 1),
            "pipeline_cpu_s": round(run["cpu"], 1),
            "pipeline_peak_mb": round(run["peak_mb"]),
            "stages_s": stages,
        }
        print(f"national study: {args.respondents:,} service users in {args.sites} sites ({args.format})")
        print(f"  generated in {made:.1f} s (not included)")
        print(
            f"  pipeline end to end: {run['wall']:.1f} s wall, {run['cpu']:.1f} s CPU, "
            f"{run['peak_mb']:.0f} MB peak"
        )
        for name, secs in sorted(stages.items(), key=lambda kv: -kv[1]):
            print(f"    {name:<28} {secs:8.1f} s")
        if r and args.r_thresholds:
            result |= compare_per_family(work, r)
        elif r:
            ours = stages.get("compare_sites", float("nan"))
            result |= {
                "r_compare_sites_s": r["R_COMPARE_SITES"],
                "compare_sites_ratio": r["R_COMPARE_SITES"] / ours,
            }
            print(
                "  site comparisons (ANOVA, Tukey, Games-Howell, correlations; "
                f"{int(r['R_PAIRS']):,} pairs): "
                f"cocapp {ours:.1f} s, R {r['R_COMPARE_SITES']:.1f} s -> {r['R_COMPARE_SITES'] / ours:.1f}x"
            )
        print("targets: end to end < 600 s and < 8 GB at 1M x 250; analysis stages >= 5x faster than R")
        print(json.dumps(result))
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
    return 0


def compare_per_family(work: Path, r: dict[str, float]) -> dict[str, float]:
    """cocapp's compare-sites time per family (one outcome at one threshold: ANOVA, Tukey, Games-Howell;
    the stage's time over all of them, reading and writing included) beside R's (its families only,
    reading excluded); printed and returned."""
    ours = stage_times(work).get("compare_sites", float("nan"))
    anova = pd.read_csv(work / "data" / "derived" / "stats" / "anova.csv")
    ours_per = ours / len(anova)
    r_per = r["R_COMPARE_SITES"] / r["R_FAMILIES"]
    print(
        f"  site comparisons per family (ANOVA, Tukey, Games-Howell; correlations in the totals): "
        f"cocapp {ours_per:.2f} s ({ours:.1f} s / {len(anova)} families), "
        f"R {r_per:.2f} s ({r['R_COMPARE_SITES']:.1f} s / {int(r['R_FAMILIES'])} families) -> "
        f"{r_per / ours_per:.1f}x"
    )
    return {"cocapp_s_per_family": ours_per, "r_s_per_family": r_per, "per_family_ratio": r_per / ours_per}


R_ANCOVA = r"""
suppressMessages({library(car); library(emmeans)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); covs <- strsplit(args[2], ",")[[1]]; cats <- strsplit(args[3], ",")[[1]]
for (c in c("site", cats)) d[[c]] <- factor(d[[c]])
options(contrasts = c("contr.sum", "contr.poly")); emm_options(rg.limit = 1e7)
t0 <- proc.time()[["elapsed"]]
fit <- lm(reformulate(c("site", covs), "score"), data = d)
a <- Anova(fit, type = 3)
pr <- summary(pairs(emmeans(fit, "site"), adjust = "tukey"))
cat(sprintf("R_ANCOVA_FIT %.3f\nR_ANCOVA_N %d\nR_ANCOVA_PAIRS %d\n", proc.time()[["elapsed"]] - t0,
            nrow(d), nrow(pr)))
"""


def run_r_ancova(work: Path, tmp: Path) -> dict[str, float] | None:
    """One ANCOVA in R (``lm`` with sum-to-zero contrasts, ``car::Anova`` type III, ``emmeans`` Tukey
    pairs of the adjusted site means: the stage's work for one outcome and model, without the
    slopes check) on the first instrument's total at the primary threshold with the group's first
    covariate model; complete cases; reading excluded."""
    sys.path.insert(0, str(work / "src"))
    from cocapp.stages.common import scores_by_threshold

    cfg = yaml.safe_load((work / "config.yaml").read_text("utf-8"))
    group, spec = next(iter(cfg["groups"].items()))
    covs = next(iter(spec["ancova_models"].values()))
    cats = [c for c in covs if spec["covariates"][c]["type"] == "categorical"]
    primary = str(cfg["scoring"]["primary_threshold"])
    derived = work / "data" / "derived"
    resp = pd.read_parquet(next((derived / "ingest").glob(f"{group}_respondents.*")), columns=["id", *covs])
    path = next((derived / "scores").glob(f"{group}.*"))
    for _, part in scores_by_threshold(str(path), [primary], None):
        one = part[(part["instrument"] == spec["instruments"][0]) & (part["scale"] == "total")]
    data = one[["id", "site", "score"]].merge(resp, on="id").dropna()
    data.to_csv(tmp / "ancova.csv", index=False)
    (tmp / "ancova.R").write_text(R_ANCOVA)
    proc = subprocess.run(
        ["Rscript", str(tmp / "ancova.R"), str(tmp / "ancova.csv"), ",".join(covs), ",".join(cats)],
        capture_output=True,
        text=True,
        check=True,
    )
    return {k: float(v) for k, v in re.findall(r"^(R_\w+) ([0-9.]+)$", proc.stdout, re.M)}


def compare_ancova(work: Path, r: dict[str, float]) -> dict[str, float]:
    """cocapp's ancova stage time per fitted model (outcome x threshold x covariate model; the stage's
    whole time, slopes checks, reading and writing included) beside R's one fit."""
    ours = stage_times(work).get("ancova", float("nan"))
    fits = pd.read_csv(work / "data" / "derived" / "stats" / "ancova.csv")
    n_fits = len(fits[["group", "instrument", "scale", "threshold", "model"]].drop_duplicates())
    per = ours / n_fits
    print(
        f"  ANCOVA per model (type III table, {int(r['R_ANCOVA_PAIRS']):,} Tukey pairs of adjusted means, "
        f"{int(r['R_ANCOVA_N']):,} respondents): cocapp {per:.2f} s ({ours:.1f} s / {n_fits} models), "
        f"R {r['R_ANCOVA_FIT']:.1f} s -> {r['R_ANCOVA_FIT'] / per:.0f}x"
    )
    return {"cocapp_ancova_s_per_model": per, "r_ancova_s_per_model": r["R_ANCOVA_FIT"]}


def r_only(study: Path, n_thresholds: int | None) -> int:
    """The R side against a kept study (its compare-sites and ancova logs give cocapp's times)."""
    if shutil.which("Rscript") is None:
        print("Rscript not found")
        return 1
    with tempfile.TemporaryDirectory(prefix="cocapp-national-r-") as tmp:
        ancova = run_r_ancova(study.resolve(), Path(tmp))
        r = run_r(study.resolve(), Path(tmp), n_thresholds)
    print(json.dumps(compare_ancova(study.resolve(), ancova) | compare_per_family(study.resolve(), r)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
