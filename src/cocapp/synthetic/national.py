"""A generated national study: hundreds of sites and up to millions of service users (illustrative).

``cocapp synthesize --sites 250 --respondents 1000000 --out DIR`` writes a study folder DIR with
``config.yaml`` and ``data/raw/service_users.csv`` + ``data/raw/codebook.csv``: the same instruments
(RSA, STAR-P, ES), covariates and missing-answer codes as the embedded default, for a national-scale
benchmark (issue 16). How it is made, deterministically from ``seed``:

* **site sizes** are skewed like provider organisations': weights from a log-normal distribution
  (σ = 1; the largest site is then about 20 times the median), at least ``min_site`` respondents each,
  drawn as one multinomial sample;
* **respondents** are resampled, with replacement, from the embedded default's service users (so item
  answers, the missing-answer codes 8/9 and empty cells, and the covariates keep their joint
  distribution); each site j samples with weights ∝ exp(βⱼ sᵢ), sᵢ the standardised mean item answer
  of default respondent i and βⱼ ~ N(0, ``site_spread``²), so site means differ (some sites lie outside
  the funnel limits);
* ids are ``N0000001``…, sites ``S001``….

Nothing here is calibrated to any real national survey: the numbers are illustrative. Only the service
users group is generated (the care coordinators' RSA is not part of the national benchmark); the
qualitative arm, the published-figure audit and multiple imputation are switched off in its config.
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

__all__ = ["national_config", "national_raw", "site_sizes", "write_national_study"]

GROUP = "service_users"


def site_sizes(n_sites: int, n: int, rng: np.random.Generator, min_site: int = 5) -> np.ndarray:
    """Skewed per-site sample sizes summing to ``n``: ``min_site`` each plus a multinomial share with
    log-normal (σ = 1) weights."""
    if n < n_sites * min_site:
        raise ValueError(f"{n} respondents cannot give {n_sites} sites at least {min_site} each")
    weights = rng.lognormal(0.0, 1.0, n_sites)
    return min_site + rng.multinomial(n - n_sites * min_site, weights / weights.sum())


def _propensity(raw: pd.DataFrame, item_columns: list[str]) -> np.ndarray:
    """Standardised mean of each respondent's valid item answers (codes 8/9 and blanks left out)."""
    vals = np.array(raw[item_columns].apply(pd.to_numeric, errors="coerce").to_numpy(float))
    vals[(vals == 8) | (vals == 9)] = np.nan
    answered = (~np.isnan(vals)).sum(axis=1)
    m = np.where(answered > 0, np.nansum(vals, axis=1) / np.maximum(answered, 1), np.nan)
    m = np.where(np.isfinite(m), m, np.nanmean(m))
    return (m - m.mean()) / m.std()


def national_raw(
    template: pd.DataFrame,
    item_columns: list[str],
    n_sites: int,
    n: int,
    seed: int,
    site_spread: float = 0.35,
) -> tuple[pd.DataFrame, list[str]]:
    """The national raw table (template columns; new ids and sites) and the site names in order."""
    rng = np.random.default_rng(seed)
    sizes = site_sizes(n_sites, n, rng)
    width = max(3, len(str(n_sites)))
    sites = [f"S{j + 1:0{width}d}" for j in range(n_sites)]
    s = _propensity(template, item_columns)
    beta = rng.normal(0.0, site_spread, n_sites)
    rows = np.empty(n, dtype=np.int64)
    start = 0
    for j, size in enumerate(sizes):
        w = np.exp(beta[j] * s)
        rows[start : start + size] = rng.choice(len(template), size=size, p=w / w.sum())
        start += size
    out = template.iloc[rows].reset_index(drop=True)
    out["id"] = [f"N{i + 1:07d}" for i in range(n)]
    out["site"] = np.repeat(np.array(sites, dtype=object), sizes)
    return out, sites


def national_config(template: dict, sites: list[str], n: int) -> dict:
    """The study's config: the template's with the generated sites, one group read from CSV, and the
    parts that do not apply (qualitative arm, published figures, imputation) switched off."""
    cfg = copy.deepcopy(template)
    cfg["study"]["name"] = f"Generated national study ({len(sites)} sites, {n:,} respondents)"
    cfg["study"]["synthetic"] = True
    cfg["study"]["data_note"] = (
        "GENERATED DATA (illustrative): service users resampled from cocapp's synthetic COCAPP default "
        f"into {len(sites)} sites of skewed sizes with site effects; not calibrated to any real survey."
    )
    cfg["sites"] = [{"name": s, "code": s} for s in sites]
    group = dict(cfg["groups"][GROUP])
    group["raw"] = f"data/raw/{GROUP}.csv"
    group["codebook"] = "data/raw/codebook.csv"
    cfg["groups"] = {GROUP: group}
    cfg.setdefault("statistics", {}).setdefault("post_hoc", {})["reference_site"] = sites[0]
    cfg["qualitative"] = {"enabled": False}
    cfg["published"] = {"figures": []}
    cfg.setdefault("imputation", {})["enabled"] = False
    return cfg


def _codebook(template_codebook: Path, sites: list[str]) -> list[list[str]]:
    with template_codebook.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    out = [rows[0]]
    for row in rows[1:]:
        if row[0] != GROUP:
            continue
        if row[3] == "site":
            row = [*row[:4], "; ".join(sites), *row[5:]]
        out.append(row)
    return out


def _remove_other_copies(target: Path, log) -> None:
    """Delete the other raw copies of ``target`` beside it (``service_users.sav`` next to the
    generated ``service_users.csv``, e.g. when ``--out`` is a checkout of the default study): they
    hold the template's respondents, and ingest refuses a second copy with different data. Each
    removal is reported."""
    from cocapp.rawformats import raw_copies

    for other in raw_copies(target):
        Path(other).unlink()
        log(f"cocapp synthesize: removed {other} (the template's data; the study now reads {target.name})")


def write_national_study(
    out: str | Path,
    n_sites: int,
    n: int,
    seed: int = 6,
    template_config: str | Path = "config.yaml",
    log=print,
) -> Path:
    """Write the study folder ``out`` (config.yaml, data/raw/service_users.csv, data/raw/codebook.csv);
    the template's service users are read from the CSV beside its configured raw file."""
    template_config = Path(template_config)
    root = template_config.parent
    cfg = yaml.safe_load(template_config.read_text("utf-8"))
    g = cfg["groups"][GROUP]
    raw_csv = root / Path(g["raw"]).with_suffix(".csv")
    template = pd.read_csv(raw_csv, dtype=str, keep_default_na=False)
    codebook = root / g.get("codebook", "data/raw/codebook.csv")
    kinds = {r[1]: r[3] for r in _codebook(codebook, [])[1:]}
    items = [c for c in template.columns if kinds.get(c) == "item"]
    raw, sites = national_raw(template, items, n_sites, n, seed)
    book = _codebook(codebook, sites)  # read before writing: ``out`` may be the template's own folder
    out = Path(out)
    (out / "data" / "raw").mkdir(parents=True, exist_ok=True)
    target = out / "data" / "raw" / f"{GROUP}.csv"
    raw.to_csv(target, index=False)
    _remove_other_copies(target, log)
    with (out / "data" / "raw" / "codebook.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(book)
    text = yaml.safe_dump(national_config(cfg, sites, n), sort_keys=False, allow_unicode=True)
    (out / "config.yaml").write_text(
        "# Generated by `cocapp synthesize --sites ... --respondents ...` (cocapp.synthetic.national):\n"
        "# illustrative national-scale study, not calibrated to any real survey.\n" + text,
        encoding="utf-8",
    )
    log(f"cocapp synthesize: {out}: {n:,} service users in {n_sites} sites (seed {seed})")
    return out
