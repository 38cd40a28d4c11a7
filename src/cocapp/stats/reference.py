"""Comparison of scale scores with published reference values (stage ``reference``).

COCAPP compared STAR-P and ES scores "against reference values". The reference sample (citation, n,
mean and SD per scale) lives in the instrument file's ``reference`` block, so a study swaps it without
touching code. Per instrument x scale and per site (config order) and ``All`` (pooled), a one-sample
t-test of the mean score against the reference mean (two-sided, as R ``t.test(x, mu = ref)``): the
difference mean - ref, its t-based confidence interval, t, df = n - 1, p, and Cohen's d =
(mean - ref) / SD of the sample (plus d on the reference SD where the reference gives one).

An instrument whose ``reference`` block is empty (the shipped default: no reference value could be
verified) gets one ``All`` row per scale with status "no reference values configured" and no numbers;
nothing is ever invented. Validated against R ``t.test`` (``tests/reference/measurement.R``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cocapp.config import format_threshold
from cocapp.instruments import Instrument
from cocapp.stats.descriptives import ALL_SITES, scale_scores, site_rows
from cocapp.stats.distributions import t_ppf, t_sf

__all__ = ["COLUMNS", "NO_REFERENCE", "NO_SCALE_REFERENCE", "one_sample_t", "reference_table"]

NO_REFERENCE = "no reference values configured"
NO_SCALE_REFERENCE = "no reference value configured for this scale"
COMPARED = "compared"

COLUMNS = [
    "group",
    "instrument",
    "scale",
    "threshold",
    "site",
    "status",
    "reference_sample",
    "reference_citation",
    "reference_n",
    "reference_mean",
    "reference_sd",
    "n",
    "mean",
    "sd",
    "difference",
    "diff_ci_low",
    "diff_ci_high",
    "confidence_level",
    "t",
    "df",
    "p",
    "cohens_d",
    "cohens_d_reference_sd",
]


def one_sample_t(x: np.ndarray, mu: float, confidence_level: float = 0.95) -> dict:
    """Two-sided one-sample t-test of mean(x) against ``mu`` (R ``t.test(x, mu = mu)``).

    Returns n, mean, sd (divisor n - 1), difference = mean - mu, its CI, t, df, p, Cohen's d =
    difference / sd and ``status``. With n < 2 or zero SD the test is undefined: NaN and a status
    saying why.

    >>> r = one_sample_t(np.array([1.0, 2.0, 3.0, 4.0]), 2.0)
    >>> print(f"{r['t']:.6f} {r['df']:g} {r['p']:.6f}")  # R: t.test(1:4, mu = 2)
    0.774597 3 0.495025
    """
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    nan = float("nan")
    out = {
        "n": n,
        "mean": nan,
        "sd": nan,
        "difference": nan,
        "diff_ci_low": nan,
        "diff_ci_high": nan,
        "t": nan,
        "df": nan,
        "p": nan,
        "cohens_d": nan,
        "status": COMPARED,
    }
    if n == 0:
        out["status"] = "not computable: no respondent with a score"
        return out
    mean = float(x.mean())
    out.update(mean=mean, difference=mean - mu)
    if n < 2:
        out["status"] = "not computable: 1 respondent (SD undefined)"
        return out
    sd = float(np.sqrt(((x - mean) ** 2).sum() / (n - 1)))
    out["sd"] = sd
    if sd == 0:
        out["status"] = "not computable: zero variance"
        return out
    se = sd / np.sqrt(n)
    t = (mean - mu) / se
    df = n - 1
    half = float(t_ppf(1 - (1 - confidence_level) / 2, df)) * se
    out.update(
        t=float(t),
        df=float(df),
        p=float(2 * t_sf(abs(t), df)),
        diff_ci_low=mean - mu - half,
        diff_ci_high=mean - mu + half,
        cohens_d=(mean - mu) / sd,
    )
    return out


def reference_table(
    scores: pd.DataFrame,
    instruments: dict[str, Instrument],
    group: str,
    threshold: float | str,
    sites: list[str],
    *,
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """One-sample t-tests of site and pooled means against each scale's reference mean.

    Parameters
    ----------
    scores
        Long scores at ``threshold`` (``scores/{group}.csv``).
    instruments
        The group's instruments (config order) with their ``reference`` blocks.
    group, threshold, sites
        Group name, threshold (text form in the output) and configured sites in display order.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`. Scales with a reference value: one row per site and ``All``. Otherwise one
        ``All`` row with ``status`` :data:`NO_REFERENCE` (empty block) or :data:`NO_SCALE_REFERENCE`
        (block without this scale) and empty numbers.
    """
    t = format_threshold(threshold)
    rows = []
    for key, skey, sub in scale_scores(scores, instruments, t, sites):
        ref = instruments[key].reference or {}
        ref_scales = ref.get("scales") or {}
        base = {
            "group": group,
            "instrument": key,
            "scale": skey,
            "threshold": t,
            "reference_sample": ref.get("sample", ""),
            "reference_citation": " ".join(str(ref.get("citation", "")).split()),
            "confidence_level": confidence_level,
        }
        if skey not in ref_scales:
            status = NO_REFERENCE if not ref_scales else NO_SCALE_REFERENCE
            rows.append({**base, "site": ALL_SITES, "status": status})
            continue
        r = ref_scales[skey]
        ref_mean = float(r["mean"])
        ref_sd = float(r["sd"]) if r.get("sd") is not None else float("nan")
        score = pd.to_numeric(sub["score"], errors="raise").to_numpy(dtype=float)
        for name, sel in site_rows(sub["site"].array, sites):
            res = one_sample_t(score[sel], ref_mean, confidence_level)
            rows.append(
                {
                    **base,
                    "site": name,
                    "reference_n": r.get("n"),
                    "reference_mean": ref_mean,
                    "reference_sd": ref_sd,
                    **res,
                    "cohens_d_reference_sd": res["difference"] / ref_sd if ref_sd > 0 else float("nan"),
                }
            )
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["reference_n"] = df["reference_n"].astype("Int64")
    df["n"] = df["n"].astype("Int64")
    return df
