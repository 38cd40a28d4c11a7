"""Pearson correlations between instrument totals, overall and per site (SPSS CORRELATIONS, pairwise).

Each pair of measures uses every respondent who has both scores (pairwise deletion, as SPSS
CORRELATIONS; the published Table 4 n differ per pair). r and its two-sided p come from
``scipy.stats.pearsonr``; the confidence interval is Fisher's z, tanh(atanh r ± z_{1−α/2}/√(n − 3)),
as R ``cor.test``. Effect sizes are labelled with Cohen's thresholds from config
(``statistics.correlations.effect_size_labels``): the largest label whose threshold |r| reaches, and
``negligible`` below the smallest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cocapp.stats.distributions import pearson_fisher_ci, pearsonr

__all__ = ["CORRELATION_COLUMNS", "effect_size_label", "pearson", "pearson_table"]

CORRELATION_COLUMNS = [
    "site",
    "x",
    "y",
    "n",
    "r",
    "p",
    "ci_low",
    "ci_high",
    "effect_size",
    "significant",
    "note",
]


def effect_size_label(r: float, labels: Mapping[str, float]) -> str | None:
    """Cohen's label of |r| given thresholds, e.g. {"small": 0.1, "medium": 0.3, "large": 0.5}.

    >>> effect_size_label(0.607, {"small": 0.1, "medium": 0.3, "large": 0.5})
    'large'
    >>> effect_size_label(-0.2, {"small": 0.1, "medium": 0.3, "large": 0.5})
    'small'
    >>> effect_size_label(0.05, {"small": 0.1, "medium": 0.3, "large": 0.5})
    'negligible'
    """
    if r is None or not np.isfinite(r):
        return None
    out = "negligible"
    for name, cut in sorted(labels.items(), key=lambda kv: kv[1]):
        if abs(r) >= cut:
            out = name
    return out


def pearson(x: np.ndarray, y: np.ndarray, confidence: float = 0.95) -> dict[str, object]:
    """Pearson r of the pairs where both values are finite: n, r, p, Fisher-z CI and a note.

    r needs n ≥ 3 (as R ``cor.test``) and non-constant values; the CI needs n ≥ 4. Otherwise NaN with
    a note saying why.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(ok.sum())
    out: dict[str, object] = {
        "n": n,
        "r": np.nan,
        "p": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "note": "",
    }
    if n < 3:
        out["note"] = f"fewer than 3 pairs (n = {n}): no correlation"
        return out
    if np.all(x == x[0]) or np.all(y == y[0]):
        out["note"] = "a measure is constant: r undefined"
        return out
    r, p = pearsonr(x, y)
    out["r"] = float(r)
    out["p"] = float(p)
    if n < 4:
        out["note"] = "n = 3: Fisher-z interval needs n >= 4"
    else:
        low, high = pearson_fisher_ci(r, n, confidence)
        out["ci_low"], out["ci_high"] = float(low), float(high)
    return out


def pearson_table(
    wide: pd.DataFrame,
    measures: Sequence[str],
    levels: Sequence[str],
    *,
    site: str = "site",
    alpha: float = 0.05,
    confidence: float = 0.95,
    labels: Mapping[str, float] | None = None,
    all_label: str = "All",
) -> pd.DataFrame:
    """Every pair of ``measures`` (columns of ``wide``, in the given order), pooled and per site.

    Parameters
    ----------
    wide
        One row per respondent: ``site`` and one column per measure (NaN = no score).
    measures
        Measure columns in display order; pairs are (measures[i], measures[j]) with i < j.
    levels
        Site names in config order; the pooled rows come first with site ``all_label``.

    Returns
    -------
    pandas.DataFrame
        :data:`CORRELATION_COLUMNS`, one row per site × pair. Empty (with the header) when fewer than two
        measures are given.
    """
    labels = labels or {"small": 0.1, "medium": 0.3, "large": 0.5}
    rows = []
    if len(measures) >= 2:
        # sort rows by site once: each site's rows are then a contiguous view (no copies per pair)
        codes = pd.Index(list(levels), dtype=object).get_indexer(wide[site].astype(object))
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(levels) + 1))
        cols = {m: wide[m].to_numpy(dtype=np.float64) for m in measures}
        by_site = {m: v[order] for m, v in cols.items()}
        subsets = [(all_label, cols)] + [
            (s, {m: v[bounds[i] : bounds[i + 1]] for m, v in by_site.items()}) for i, s in enumerate(levels)
        ]
        for name, sub in subsets:
            for i in range(len(measures)):
                for j in range(i + 1, len(measures)):
                    res = pearson(sub[measures[i]], sub[measures[j]], confidence)
                    p = res["p"]
                    rows.append(
                        {
                            "site": name,
                            "x": measures[i],
                            "y": measures[j],
                            **res,
                            "effect_size": effect_size_label(res["r"], labels),
                            "significant": bool(p < alpha) if np.isfinite(p) else None,
                        }
                    )
    return pd.DataFrame(rows, columns=CORRELATION_COLUMNS)
