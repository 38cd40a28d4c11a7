"""Pairwise site comparisons after a one-way ANOVA: Tukey–Kramer and Games–Howell.

Both use the exact studentized range distribution (:mod:`cocapp.stats.studentized_range`, which agrees with
``scipy.stats.studentized_range`` and R's ``ptukey``/``qtukey`` and keeps its relative accuracy in the far
tail); p-values are never clipped or rounded. Pairs follow config site order, ``site_a`` before
``site_b``, and ``diff = mean(site_a) − mean(site_b)`` (the output contract; R's ``TukeyHSD`` prints the
opposite sign). Every pair of configured sites gets a row; a pair involving a site without values is NaN
with a ``note``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from cocapp.stats import studentized_range
from cocapp.stats.anova import GroupSummary

__all__ = [
    "PAIR_COLUMNS",
    "games_howell",
    "games_howell_columns",
    "site_pairs",
    "tukey_columns",
    "tukey_differences",
    "tukey_kramer",
]

PAIR_COLUMNS = [
    "site_a",
    "site_b",
    "n_a",
    "n_b",
    "mean_a",
    "mean_b",
    "diff",
    "se",
    "df",
    "q",
    "ci_low",
    "ci_high",
    "p_adj",
    "significant",
    "method",
    "note",
]


def site_pairs(levels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (a, b) of every site pair, a before b in config order.

    >>> [tuple(map(int, x)) for x in site_pairs(["A", "B", "C"])]
    [(0, 0, 1), (1, 2, 2)]
    """
    a, b = np.triu_indices(len(levels), k=1)
    return a, b


def _pair_columns(s: GroupSummary, method: str) -> tuple[dict[str, object], np.ndarray, np.ndarray]:
    """The descriptive columns of every site pair (``site_a`` … ``diff``, ``method``) as arrays."""
    a, b = site_pairs(s.levels)
    lv = np.array(s.levels, dtype=object)
    cols: dict[str, object] = {
        "site_a": lv[a],
        "site_b": lv[b],
        "n_a": s.n[a].astype(np.int64),
        "n_b": s.n[b].astype(np.int64),
        "mean_a": s.mean[a],
        "mean_b": s.mean[b],
        "diff": s.centred_mean[a] - s.centred_mean[b],  # centred: keeps precision
        "method": method,
    }
    return cols, a, b


def _empty_notes(s: GroupSummary, a: np.ndarray, b: np.ndarray) -> list[str]:
    notes = []
    for i, j in zip(a, b, strict=True):
        miss = [s.levels[x] for x in (i, j) if s.n[x] == 0]
        notes.append(f"no values at site(s) {', '.join(miss)}" if miss else "")
    return notes


def _critical_values(confidence: float, k: int, dfs: np.ndarray) -> np.ndarray:
    """q_confidence(k, ν) for each ν of ``dfs`` (:func:`studentized_range.ppf`). A few ν at a time (up
    to :data:`_CACHED_DFS`, the families of up to 15 sites) are cached: the families of a stage repeat
    the same (k, ν) often (thresholds that keep an outcome's rows), and each quantile is a root search
    over quadratures (about 1.3 ms); larger batches (hundreds of sites) are computed each time."""
    if len(dfs) > _CACHED_DFS:
        return studentized_range.ppf(confidence, k, dfs)
    return _critical_values_cached(confidence, k, tuple(dfs.tolist()))


_CACHED_DFS = 105


@lru_cache(maxsize=4096)
def _critical_values_cached(confidence: float, k: int, dfs: tuple[float, ...]) -> np.ndarray:
    crit = studentized_range.ppf(confidence, k, np.array(dfs, dtype=np.float64))
    crit.flags.writeable = False  # shared by every caller
    return crit


def _finish(
    cols: dict[str, object],
    stat: np.ndarray,
    se: np.ndarray,
    dfree: np.ndarray,
    k: int,
    alpha: float,
    confidence: float,
    notes: list[str],
) -> dict[str, object]:
    """Studentized-range p-values and simultaneous CIs from q = |diff| / (se/√2); the columns
    :data:`PAIR_COLUMNS` in order (arrays and lists, ``method`` a scalar)."""
    ok = np.isfinite(stat) & np.isfinite(dfree) & (dfree > 0) & (se > 0) & (k >= 2)
    p = np.full(len(stat), np.nan)
    lo = np.full(len(stat), np.nan)
    hi = np.full(len(stat), np.nan)
    if ok.any():
        p[ok] = studentized_range.sf(stat[ok], k, dfree[ok])
        dfs, which = np.unique(dfree[ok], return_inverse=True)  # Tukey: one df; Games–Howell: one per pair
        crit = _critical_values(confidence, k, dfs)[which] / math.sqrt(2.0)
        diff = cols["diff"][ok]
        lo[ok] = diff - crit * se[ok]
        hi[ok] = diff + crit * se[ok]
    cols = {
        **cols,
        "se": se,
        "df": dfree,
        "q": np.where(ok, stat, np.nan),
        "ci_low": lo,
        "ci_high": hi,
        "p_adj": p,
        "significant": [bool(x < alpha) if np.isfinite(x) else None for x in p],
        "note": notes,
    }
    return {c: cols[c] for c in PAIR_COLUMNS}


def _tukey_se(s: GroupSummary, a: np.ndarray, b: np.ndarray) -> tuple[int, float, float, np.ndarray]:
    """Sites with values k, error df n − k, pooled MS within and the pair standard errors
    √(MS_within (1/n_a + 1/n_b)) of :func:`tukey_kramer`."""
    keep = s.present
    k = int(keep.sum())
    dfree = float(s.n[keep].sum()) - k
    ms_w = float(s.ss[keep].sum() / dfree) if dfree > 0 else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(ms_w * (1.0 / s.n[a] + 1.0 / s.n[b]))
    return k, dfree, ms_w, se


def tukey_differences(s: GroupSummary) -> tuple[np.ndarray, np.ndarray]:
    """The differences of site means and their standard errors of :func:`tukey_kramer` (every config
    pair, in its row order), without the studentized-range p values and intervals: what the pooling of
    multiply imputed analyses (:mod:`cocapp.stats.mi`) takes from each completed dataset."""
    a, b = site_pairs(s.levels)
    return s.centred_mean[a] - s.centred_mean[b], _tukey_se(s, a, b)[3]


def tukey_kramer(s: GroupSummary, alpha: float = 0.05, confidence: float = 0.95) -> pd.DataFrame:
    """Tukey–Kramer honestly significant differences for unequal n (R ``TukeyHSD``, SPSS ONEWAY TUKEY).

    For sites a, b: se = √(MS_within (1/n_a + 1/n_b)), q = |diff| / (se/√2),
    p = P(Q_{k, n−k} > q), CI = diff ± q_{1−α}(k, n−k)/√2 · se, with k the number of sites that have
    values and MS_within the pooled ANOVA error (pair-specific n; Kramer 1956). Same formulas as
    ``scipy.stats.tukey_hsd``, computed from the group summaries so that a site with a single value can
    take part (tukey_hsd refuses samples of size one; R's TukeyHSD accepts them).

    Returns
    -------
    pandas.DataFrame
        :data:`PAIR_COLUMNS`; ``df`` = n − k, ``method`` = ``tukey-kramer``.
    """
    return pd.DataFrame(tukey_columns(s, alpha, confidence))


def tukey_columns(s: GroupSummary, alpha: float = 0.05, confidence: float = 0.95) -> dict[str, object]:
    """The columns of :func:`tukey_kramer` (:data:`PAIR_COLUMNS`: arrays and lists, ``method`` a
    scalar), without building a DataFrame: a stage puts the families of an analysis together first."""
    cols, a, b = _pair_columns(s, "tukey-kramer")
    k, dfree, ms_w, se = _tukey_se(s, a, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = np.abs(cols["diff"]) / (se / math.sqrt(2.0))
    notes = _empty_notes(s, a, b)
    if k < 2:
        notes = [x or "fewer than two sites with values" for x in notes]
    elif dfree < 1:
        notes = [x or "no residual degrees of freedom" for x in notes]
    elif ms_w == 0:
        notes = [x or "no variation within sites: q undefined" for x in notes]
    return _finish(cols, stat, se, np.full(len(a), dfree), k, alpha, confidence, notes)


def games_howell(s: GroupSummary, alpha: float = 0.05, confidence: float = 0.95) -> pd.DataFrame:
    """Games–Howell pairwise comparisons (unequal variances and n; Games & Howell 1976).

    For sites a, b with variances v: se = √(v_a/n_a + v_b/n_b), Welch–Satterthwaite
    df = se⁴ / [(v_a/n_a)²/(n_a−1) + (v_b/n_b)²/(n_b−1)], q = |diff| / (se/√2),
    p = P(Q_{k, df} > q), CI = diff ± q_{1−α}(k, df)/√2 · se; k = sites with values. A pair needs
    n ≥ 2 at both sites and a non-zero se, otherwise its row is NaN with a note.
    Validated against a base-R implementation with ``ptukey``/``qtukey`` (tests/reference/comparisons.R)
    and ``pingouin.pairwise_gameshowell``.
    """
    return pd.DataFrame(games_howell_columns(s, alpha, confidence))


def games_howell_columns(s: GroupSummary, alpha: float = 0.05, confidence: float = 0.95) -> dict[str, object]:
    """The columns of :func:`games_howell`, as :func:`tukey_columns` gives those of Tukey–Kramer."""
    cols, a, b = _pair_columns(s, "games-howell")
    k = int(s.present.sum())
    var = s.var
    with np.errstate(invalid="ignore", divide="ignore"):
        ua, ub = var[a] / s.n[a], var[b] / s.n[b]
        se = np.sqrt(ua + ub)
        dfree = (ua + ub) ** 2 / (ua**2 / (s.n[a] - 1) + ub**2 / (s.n[b] - 1))
        stat = np.abs(cols["diff"]) / (se / math.sqrt(2.0))
    notes = _empty_notes(s, a, b)
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if notes[i]:
            continue
        if k < 2:
            notes[i] = "fewer than two sites with values"
        elif s.n[x] < 2 or s.n[y] < 2:
            notes[i] = "Games-Howell needs at least two values at each site"
        elif not se[i] > 0:
            notes[i] = "no variation within either site: se = 0"
    se = np.where(np.isfinite(se), se, np.nan)
    return _finish(cols, stat, se, dfree, k, alpha, confidence, notes)
