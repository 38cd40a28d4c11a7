"""Skewness and kurtosis of scale scores as SPSS reports them (stage ``normality``).

Per group, instrument x scale and threshold, pooled across sites (COCAPP: "We assessed normality for
16 outcomes for service users and six for staff, pooled across sites"): the bias-corrected sample
skewness G1 and excess kurtosis G2 (SPSS DESCRIPTIVES/FREQUENCIES; Joanes & Gill 1998 "type 2";
``e1071::skewness(type = 2)``, ``scipy.stats.skew(bias=False)``) and their standard errors

    SE_skew = sqrt(6 n (n - 1) / ((n - 2)(n + 1)(n + 3)))
    SE_kurt = 2 SE_skew sqrt((n^2 - 1) / ((n - 3)(n + 5)))

with flags for |G1| or |G2| beyond the config's conservative (1) and liberal (2) limits. Validated
against ``e1071`` type 2 and the formulas in base R (``tests/reference/measurement.R``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cocapp.config import canonical_thresholds, format_threshold
from cocapp.instruments import Instrument
from cocapp.stats.descriptives import scale_scores

__all__ = ["COLUMNS", "count_beyond", "count_beyond_text", "moments", "normality_table"]

COLUMNS = [
    "group",
    "instrument",
    "scale",
    "threshold",
    "n",
    "skewness",
    "skewness_se",
    "kurtosis",
    "kurtosis_se",
    "conservative_limit",
    "liberal_limit",
    "beyond_conservative",
    "beyond_liberal",
    "note",
]


def moments(x: np.ndarray) -> dict:
    """G1, G2 and their SEs for the non-missing values of ``x`` (SPSS formulas).

    g1 = m3 / m2^1.5 and g2 = m4 / m2^2 - 3 from central moments m_r = mean((x - mean)^r); then
    G1 = g1 sqrt(n (n - 1)) / (n - 2) and G2 = ((n + 1) g2 + 6)(n - 1) / ((n - 2)(n - 3)).
    Skewness needs n >= 3, kurtosis n >= 4; both need some variance. Otherwise NaN and ``note``.

    >>> m = moments(np.array([1.0, 2.0, 3.0, 10.0]))  # R e1071: 1.763632615, 3.228
    >>> print(f"{m['skewness']:.6f} {m['kurtosis']:.6f}")
    1.763633 3.228000
    """
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    nan = float("nan")
    out = {"n": n, "skewness": nan, "skewness_se": nan, "kurtosis": nan, "kurtosis_se": nan, "note": ""}
    if n >= 3:
        out["skewness_se"] = float(np.sqrt(6.0 * n * (n - 1) / ((n - 2) * (n + 1) * (n + 3))))
    if n >= 4:
        out["kurtosis_se"] = float(2 * out["skewness_se"] * np.sqrt((n * n - 1.0) / ((n - 3) * (n + 5))))
    if n < 3:
        out["note"] = f"n = {n}: skewness needs n >= 3 and kurtosis n >= 4"
        return out
    if np.ptp(x) == 0:
        out["note"] = "zero variance: skewness and kurtosis are undefined"
        return out
    d = x - x.mean()
    m2 = float((d**2).mean())
    m3 = float((d**3).mean())
    m4 = float((d**4).mean())
    g1 = m3 / m2**1.5
    out["skewness"] = g1 * np.sqrt(n * (n - 1.0)) / (n - 2)
    if n >= 4:
        g2 = m4 / m2**2 - 3.0
        out["kurtosis"] = ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2.0) * (n - 3))
    else:
        out["note"] = "n = 3: kurtosis needs n >= 4"
    return out


def _beyond(skew: float, kurt: float, limit: float) -> object:
    """True if |G1| or |G2| exceeds ``limit``; NA when neither is defined and none exceeds."""
    vals = [v for v in (skew, kurt) if np.isfinite(v)]
    if any(abs(v) > limit for v in vals):
        return True
    if len(vals) < 2:
        return pd.NA
    return False


def normality_table(
    scores: pd.DataFrame,
    instruments: dict[str, Instrument],
    group: str,
    threshold: float | str,
    sites: list[str],
    *,
    conservative: float = 1.0,
    liberal: float = 2.0,
) -> pd.DataFrame:
    """Skewness and kurtosis per instrument x scale at one threshold, pooled over all sites.

    ``beyond_conservative`` / ``beyond_liberal`` are True when |skewness| or |kurtosis| is strictly
    greater than the limit (config ``statistics.normality_limits``), False when both are within it,
    and empty when a statistic is undefined and the other does not exceed the limit.
    """
    t = format_threshold(threshold)
    rows = []
    for key, skey, sub in scale_scores(scores, instruments, t, sites):
        m = moments(pd.to_numeric(sub["score"], errors="raise").to_numpy(dtype=float))
        rows.append(
            {
                "group": group,
                "instrument": key,
                "scale": skey,
                "threshold": t,
                **m,
                "conservative_limit": conservative,
                "liberal_limit": liberal,
                "beyond_conservative": _beyond(m["skewness"], m["kurtosis"], conservative),
                "beyond_liberal": _beyond(m["skewness"], m["kurtosis"], liberal),
            }
        )
    df = pd.DataFrame(rows, columns=COLUMNS)
    for col in ["beyond_conservative", "beyond_liberal"]:
        df[col] = df[col].astype("boolean")
    return df


def _flag(col: pd.Series) -> pd.Series:
    """True cells of a boolean column read from CSV (text) or built in memory (nullable boolean)."""
    return col.astype(str).str.lower().isin(["true", "1"])


def count_beyond(normality: pd.DataFrame, threshold: float | str | None = None) -> pd.DataFrame:
    """How many outcomes lie beyond the limits: "k of N outcomes beyond +/-1" (COCAPP: 3 of 22).

    Parameters
    ----------
    normality
        Rows of :func:`normality_table` for any number of groups (e.g. the collected
        ``stats/normality.csv``).
    threshold
        Keep only this threshold (e.g. the primary one); None = all rows given.

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold``, ``n_outcomes``, ``n_undefined`` (either statistic
        undefined), ``n_beyond_conservative``, ``n_beyond_liberal``, ``conservative_limit``,
        ``liberal_limit``.
    """
    df = normality.copy()
    df["threshold"] = canonical_thresholds(df["threshold"])
    if threshold is not None:
        df = df[df["threshold"] == format_threshold(threshold)]
    out = []
    for t, sub in df.groupby("threshold", sort=False):
        sk = pd.to_numeric(sub["skewness"])
        ku = pd.to_numeric(sub["kurtosis"])
        out.append(
            {
                "threshold": t,
                "n_outcomes": int(len(sub)),
                "n_undefined": int((sk.isna() | ku.isna()).sum()),
                "n_beyond_conservative": int(_flag(sub["beyond_conservative"]).sum()),
                "n_beyond_liberal": int(_flag(sub["beyond_liberal"]).sum()),
                "conservative_limit": float(sub["conservative_limit"].iloc[0]),
                "liberal_limit": float(sub["liberal_limit"].iloc[0]),
            }
        )
    return pd.DataFrame(
        out,
        columns=[
            "threshold",
            "n_outcomes",
            "n_undefined",
            "n_beyond_conservative",
            "n_beyond_liberal",
            "conservative_limit",
            "liberal_limit",
        ],
    )


def count_beyond_text(normality: pd.DataFrame, threshold: float | str) -> str:
    """The paper's phrase, e.g. "3 of 22 scale outcomes exceeded +/-1; 0 exceeded +/-2"."""
    c = count_beyond(normality, threshold)
    if not len(c):
        raise ValueError(f"no normality rows for threshold {format_threshold(threshold)}")
    r = c.iloc[0]
    return (
        f"{int(r.n_beyond_conservative)} of {int(r.n_outcomes)} scale outcomes exceeded "
        f"\u00b1{r.conservative_limit:g}; "
        f"{int(r.n_beyond_liberal)} exceeded \u00b1{r.liberal_limit:g}"
    )
