"""One-way ANOVA of an outcome across sites, with Levene's and Welch's tests beside it (SPSS ONEWAY).

The core works on two arrays (outcome values and integer site codes) and computes every group sum with
``numpy.bincount``, so one outcome of a million respondents takes milliseconds and no model object is
built. Sums of squares are computed after centring on the grand mean (two-pass algorithm; Chan, Golub &
LeVeque 1983), which keeps the ill-conditioned NIST StRD sets SmLs07–09 accurate: a naive
``sum(y**2) - n * mean**2`` loses every significant digit there.

Sites without any value are left out of the model (``k`` counts the sites with values) and named in the
``note`` column; sites stay in config order everywhere.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cocapp.stats.distributions import f_sf, levene

__all__ = [
    "ANOVA_COLUMNS",
    "GroupSummary",
    "anova_frame",
    "levene_tests",
    "anova_from_summary",
    "eta2_interval",
    "oneway_anova",
    "site_codes",
    "summarise_groups",
    "welch_anova",
]

ANOVA_COLUMNS = [
    "n",
    "k_sites",
    "df1",
    "df2",
    "ss_between",
    "ss_within",
    "ms_between",
    "ms_within",
    "F",
    "p",
    "eta2",
    "eta2_ci_low",
    "eta2_ci_high",
    "omega2",
    "levene_mean_F",
    "levene_mean_p",
    "levene_median_F",
    "levene_median_p",
    "welch_F",
    "welch_df1",
    "welch_df2",
    "welch_p",
    "significant",
    "note",
]


@dataclass(frozen=True)
class GroupSummary:
    """Per-site sufficient statistics of one outcome (sites in config order, empty sites included).

    ``n``: counts; ``centred_mean``: site means minus ``shift`` (the grand mean), kept apart so that
    differences between means keep their precision when all values share leading digits; ``ss``:
    within-site sums of squared deviations from the site mean.
    """

    levels: tuple[str, ...]
    n: np.ndarray
    centred_mean: np.ndarray
    ss: np.ndarray
    shift: float

    @property
    def mean(self) -> np.ndarray:
        """Site means (NaN for an empty site)."""
        return self.shift + self.centred_mean

    @property
    def present(self) -> np.ndarray:
        """Boolean mask of the sites with at least one value."""
        return self.n > 0

    @property
    def var(self) -> np.ndarray:
        """Unbiased within-site variances (NaN when a site has fewer than two values)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 1, self.ss / (self.n - 1), np.nan)


def site_codes(sites: pd.Series | Sequence[str], levels: Sequence[str], what: str = "site") -> np.ndarray:
    """Integer codes (0 … k−1, config order) of site names; raises naming an unknown site.

    >>> site_codes(["B", "A", "B"], ["A", "B"]).tolist()
    [1, 0, 1]
    """
    values = pd.Series(sites, dtype=object)
    codes = np.asarray(pd.Index(list(levels), dtype=object).get_indexer(values), dtype=np.intp)
    if (codes < 0).any():
        bad = values[codes < 0].unique()[:5]
        raise ValueError(f"{what}: value(s) {list(map(str, bad))} are not configured sites {list(levels)}")
    return codes


def summarise_groups(y: np.ndarray, codes: np.ndarray, levels: Sequence[str]) -> GroupSummary:
    """Counts, means and centred within-site sums of squares, vectorised with ``numpy.bincount``.

    Values are centred on the grand mean first (two-pass algorithm), so the sums of squares keep their
    precision when every value shares many leading digits (NIST StRD SmLs07–09). ``y`` must be finite.
    """
    y = np.asarray(y, dtype=np.float64)
    k = len(levels)
    n = np.bincount(codes, minlength=k).astype(np.float64)
    if y.size == 0:
        return GroupSummary(tuple(levels), n, np.full(k, np.nan), np.zeros(k), 0.0)
    grand = float(np.mean(y))
    d = y - grand
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_d = np.bincount(codes, weights=d, minlength=k) / n
    resid = d - mean_d[codes]
    ss = np.bincount(codes, weights=resid * resid, minlength=k)
    return GroupSummary(tuple(levels), n, mean_d, ss, grand)


def anova_from_summary(s: GroupSummary) -> dict[str, float]:
    """Classic one-way F test from group summaries (centred between-site SS): the ANOVA columns of
    :func:`oneway_anova` (``n`` … ``omega2``) without its robustness checks and notes."""
    keep = s.present
    n_g, m_g = s.n[keep], s.centred_mean[keep]
    n = float(n_g.sum())
    k = int(keep.sum())
    # between-site SS from the centred site means around their weighted mean (≈ 0 after centring)
    grand = float(np.sum(n_g * m_g) / n) if n else float("nan")
    ss_b = float(np.sum(n_g * (m_g - grand) ** 2)) if n else float("nan")
    ss_w = float(np.sum(s.ss[keep]))
    df1, df2 = k - 1, n - k
    out = {
        "n": int(n),
        "k_sites": k,
        "df1": int(df1),
        "df2": int(df2),
        "ss_between": ss_b,
        "ss_within": ss_w,
    }
    nan = float("nan")
    if k < 2 or df2 < 1:
        out.update(ms_between=nan, ms_within=nan, F=nan, p=nan, eta2=nan, omega2=nan)
        return out
    ms_b, ms_w = ss_b / df1, ss_w / df2
    ss_t = ss_b + ss_w
    with np.errstate(invalid="ignore", divide="ignore"):
        F = ms_b / ms_w if ms_w > 0 else (np.inf if ms_b > 0 else nan)
    p = float(f_sf(F, df1, df2)) if np.isfinite(F) else (0.0 if F == np.inf else nan)
    eta2 = ss_b / ss_t if ss_t > 0 else nan
    omega2 = (ss_b - df1 * ms_w) / (ss_t + ms_w) if ss_t > 0 else nan
    out.update(ms_between=ms_b, ms_within=ms_w, F=float(F), p=p, eta2=eta2, omega2=omega2)
    return out


def welch_anova(s: GroupSummary) -> dict[str, float]:
    """Welch's heteroscedastic one-way ANOVA (Welch 1951), as R ``oneway.test(var.equal = FALSE)``.

    With weights w_i = n_i / s_i², weighted mean m_w = Σ w_i m_i / Σ w_i, and
    λ = Σ (1 − w_i/Σw)² / (n_i − 1):
    F = [Σ w_i (m_i − m_w)² / (k − 1)] / [1 + 2 (k − 2) λ / (k² − 1)],
    df1 = k − 1, df2 = (k² − 1) / (3 λ). Needs every site with values to have n ≥ 2 and a non-zero
    variance; otherwise all results are NaN (see :func:`oneway_anova` ``note``).
    """
    keep = s.present
    n_g, m_g, v_g = s.n[keep], s.centred_mean[keep], s.var[keep]
    k = int(keep.sum())
    nan = {"welch_F": np.nan, "welch_df1": np.nan, "welch_df2": np.nan, "welch_p": np.nan}
    if k < 2 or np.any(n_g < 2) or not np.all(v_g > 0):
        return nan
    w = n_g / v_g
    sw = w.sum()
    mw = np.sum(w * m_g) / sw
    lam = np.sum((1 - w / sw) ** 2 / (n_g - 1))
    num = np.sum(w * (m_g - mw) ** 2) / (k - 1)
    den = 1 + 2 * (k - 2) * lam / (k * k - 1)
    F = num / den
    df2 = (k * k - 1) / (3 * lam)
    return {
        "welch_F": float(F),
        "welch_df1": float(k - 1),
        "welch_df2": float(df2),
        "welch_p": float(f_sf(F, k - 1, df2)),
    }


def levene_tests(y: np.ndarray, codes: np.ndarray, s: GroupSummary) -> dict[str, float]:
    """Levene's test centred on site means and on site medians (Brown–Forsythe), via
    ``scipy.stats.levene(center="mean" | "median")``, as R ``car::leveneTest(center = mean | median)``.

    NaN when fewer than two sites have values or every absolute deviation is zero.
    """
    out = {
        "levene_mean_F": np.nan,
        "levene_mean_p": np.nan,
        "levene_median_F": np.nan,
        "levene_median_p": np.nan,
    }
    present = np.flatnonzero(s.present)
    if len(present) < 2 or len(y) - len(present) < 1:
        return out
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(s.n.astype(np.intp))[:-1]
    parts = [p for p in np.split(np.asarray(y, dtype=np.float64)[order], bounds) if len(p)]
    for center in ("mean", "median"):
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore")  # constant deviations: NaN is the documented result
            statistic, pvalue = levene(*parts, center=center)
        out[f"levene_{center}_F"] = float(statistic)
        out[f"levene_{center}_p"] = float(pvalue)
    return out


def _noncentrality_bound(F: float, df1: float, df2: float, prob: float) -> float:
    """The noncentrality λ ≥ 0 at which P(F' ≤ F; df1, df2, λ) = prob (0 when even λ = 0 gives less):
    the CDF falls as λ grows, so the root is bracketed by doubling an upper end (brentq)."""
    from scipy import optimize, special

    centre = F * df1  # about where P(F' <= F) passes 1/2

    def f(lam: float) -> float:
        value = float(special.ncfdtr(df1, df2, lam, F))
        if np.isnan(value) and lam > centre:
            # SciPy's ncfdtr (Boost's noncentral beta) gives NaN far out in λ at large df2 (a national
            # study: df2 ~ 1e6, λ beyond about twice the root), where the CDF has underflowed: the
            # sign is all the bracket needs (near the root, P is about prob and finite)
            return -prob
        return value - prob

    if f(0.0) <= 0.0:
        return 0.0
    hi = max(1.0, F * df1)
    while f(hi) > 0.0:
        hi *= 2.0
        if hi > 1e9:
            return float("nan")
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-12, rtol=4 * np.finfo(float).eps, maxiter=500))


def eta2_interval(F: float, df1: float, df2: float, confidence: float = 0.95) -> tuple[float, float]:
    """Confidence interval of η² in a fixed-effects one-way ANOVA by inverting the noncentral F
    (Steiger 2004, Psychol Methods 9:164; MBESS ``ci.pvaf``): the noncentrality bounds λ_L, λ_U with
    P(F' ≤ F_obs; λ_L) = (1 + confidence)/2 and P(F' ≤ F_obs; λ_U) = (1 − confidence)/2 (each floored
    at 0), mapped to η² = λ/(λ + N) with N = df1 + df2 + 1. NaN when F is not finite.
    Checked against a base-R inversion of ``pf(F, df1, df2, ncp)`` by ``uniroot``
    (tests/reference/effect_size.R)."""
    if not (np.isfinite(F) and df1 >= 1 and df2 >= 1):
        return float("nan"), float("nan")
    n = df1 + df2 + 1.0
    tail = (1.0 - confidence) / 2.0
    lo = _noncentrality_bound(F, df1, df2, 1.0 - tail)
    hi = _noncentrality_bound(F, df1, df2, tail)
    return lo / (lo + n), hi / (hi + n)


def oneway_anova(
    y: np.ndarray, codes: np.ndarray, levels: Sequence[str], alpha: float = 0.05, confidence: float = 0.95
) -> dict[str, object]:
    """One-way ANOVA of ``y`` by site, as SPSS ONEWAY / R ``aov``, with robustness columns.

    Parameters
    ----------
    y
        Outcome values (finite; drop missing values before calling).
    codes
        Site code of each value, 0 … k−1 in config order (:func:`site_codes`).
    levels
        Site names in config order.
    alpha
        Significance level for the ``significant`` flag (p < alpha).
    confidence
        Level of the η² interval (``eta2_ci_low``/``eta2_ci_high``, :func:`eta2_interval`).

    Returns
    -------
    dict
        Keys :data:`ANOVA_COLUMNS`. SS between = Σ n_i (m_i − m)², SS within = Σ Σ (y − m_i)²
        (centred, two-pass), df1 = k − 1, df2 = n − k (k = sites with at least one value),
        F = MS between / MS within, p = upper F tail; η² = SS_b / SS_t;
        ω² = (SS_b − df1·MS_w) / (SS_t + MS_w). Levene (mean / median centred) and Welch's F as in
        :func:`levene_tests` and :func:`welch_anova`. ``note`` explains every NaN: fewer than two sites
        with values, no residual df, a constant outcome (F = NaN), or no within-site variation while
        site means differ (F = inf, p = 0).

    Notes
    -----
    Validated against NIST StRD SmLs01–09 certified values and R ``aov``, ``oneway.test`` and
    ``car::leveneTest`` (tests/reference/comparisons.R).
    """
    y = np.asarray(y, dtype=np.float64)
    if not np.all(np.isfinite(y)):
        raise ValueError("oneway_anova: outcome values must be finite (drop missing values first)")
    s = summarise_groups(y, codes, levels)
    out: dict[str, object] = anova_from_summary(s)
    out["eta2_ci_low"], out["eta2_ci_high"] = eta2_interval(
        float(out["F"]), float(out["df1"]), float(out["df2"]), confidence
    )
    out.update(levene_tests(y, codes, s))
    out.update(welch_anova(s))
    notes = []
    empty = [lv for lv, n in zip(levels, s.n, strict=True) if n == 0]
    if empty:
        notes.append(f"no values at site(s) {', '.join(empty)}: left out of the model")
    if out["k_sites"] < 2:
        notes.append("fewer than two sites with values: no test")
    elif out["df2"] < 1:
        notes.append("no residual degrees of freedom (every site has one value)")
    elif out["ss_within"] == 0 and out["ss_between"] == 0:
        notes.append("outcome is constant: F undefined")
    elif out["ss_within"] == 0:
        notes.append("no variation within sites: F infinite, p = 0")
    if out["k_sites"] >= 2 and np.isnan(out["welch_F"]) and out["df2"] >= 1:
        notes.append("Welch test needs n >= 2 and non-zero variance at every site")
    p = out["p"]
    out["significant"] = bool(p < alpha) if np.isfinite(p) else None
    out["note"] = "; ".join(notes)
    return {c: out[c] for c in ANOVA_COLUMNS}


def anova_frame(
    data: pd.DataFrame, levels: Sequence[str], alpha: float = 0.05, value: str = "score", site: str = "site"
) -> dict[str, object]:
    """:func:`oneway_anova` on a long frame (rows with a missing ``value`` are dropped)."""
    d = data[data[value].notna()]
    return oneway_anova(d[value].to_numpy(dtype=np.float64), site_codes(d[site], levels), levels, alpha)
