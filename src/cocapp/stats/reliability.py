"""Internal consistency (stage ``reliability``): Cronbach's alpha per scale on complete cases.

As SPSS ``RELIABILITY`` (and COCAPP's Methods: "Cronbach's alpha for complete cases ... prior to mean
replacement"), a respondent enters a scale's alpha only when every item of that scale is answered
(listwise within the scale, after reverse keying; declared missing codes and empty cells are missing).
Nothing is imputed and nothing is computed pairwise. The 95 % (config ``statistics.confidence_level``)
interval is Feldt's (1965) F-based interval. The item table gives, per item, the corrected item-total
correlation (item against the sum of the other items) and alpha if the item is deleted, both on the
same complete cases as the scale's alpha.

Validated against R: ``psych::alpha`` and the formulas written out in base R
(``tests/reference/measurement.R``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cocapp.instruments import Instrument, Scale
from cocapp.stats.distributions import f_isf

__all__ = [
    "ITEM_COLUMNS",
    "SCALE_COLUMNS",
    "AlphaResult",
    "cronbach_alpha",
    "feldt_interval",
    "reliability_tables",
    "scale_reliability",
]

SCALE_COLUMNS = [
    "group",
    "instrument",
    "scale",
    "n_complete",
    "k_items",
    "alpha",
    "ci_low",
    "ci_high",
    "confidence_level",
    "acceptable",
    "acceptable_alpha",
    "alpha_standardized",
    "mean_inter_item_r",
    "scale_mean",
    "scale_sd",
    "note",
]
ITEM_COLUMNS = [
    "group",
    "instrument",
    "scale",
    "item",
    "column",
    "reverse_keyed",
    "n_complete",
    "item_mean",
    "item_sd",
    "corrected_item_total_r",
    "alpha_if_deleted",
]


@dataclass
class AlphaResult:
    """Cronbach's alpha of one complete-case item matrix, with Feldt's interval and item statistics.

    Undefined quantities are NaN and ``note`` says why (fewer than two complete cases, a single item,
    zero variance of the scale total, an item without variance).
    """

    n: int
    k: int
    alpha: float
    ci_low: float
    ci_high: float
    alpha_standardized: float
    mean_inter_item_r: float
    scale_mean: float
    scale_sd: float
    item_mean: np.ndarray
    item_sd: np.ndarray
    corrected_item_total_r: np.ndarray
    alpha_if_deleted: np.ndarray
    notes: list[str] = field(default_factory=list)


def _alpha_from_cov(cov: np.ndarray) -> float:
    """alpha = k/(k-1) * (1 - trace(C) / sum(C)); NaN for k < 2 or zero total variance."""
    k = cov.shape[0]
    total = cov.sum()
    if k < 2 or not np.isfinite(total) or total <= 0:
        return float("nan")
    return float(k / (k - 1) * (1.0 - np.trace(cov) / total))


def feldt_interval(alpha: float, n: int, k: int, confidence_level: float = 0.95) -> tuple[float, float]:
    """Feldt's (1965) interval for Cronbach's alpha.

    (1 - alpha) / (1 - alpha_pop) follows F(n - 1, (n - 1)(k - 1)), so the interval is
    ``1 - (1 - alpha) * F_{1-g/2}`` to ``1 - (1 - alpha) * F_{g/2}``, g = 1 - confidence_level
    (as Feldt, Woodruff & Salih 1987; pingouin without its rounding). NaN when n < 2 or k < 2.

    >>> lo, hi = feldt_interval(0.8, 100, 10)  # R: 1 - 0.2 * qf(c(0.975, 0.025), 99, 891)
    >>> print(f"{lo:.6f} {hi:.6f}")
    0.736048 0.853692
    """
    if n < 2 or k < 2 or not np.isfinite(alpha):
        return float("nan"), float("nan")
    g = 1.0 - confidence_level
    df1, df2 = n - 1, (n - 1) * (k - 1)
    return (
        float(1.0 - (1.0 - alpha) * f_isf(g / 2, df1, df2)),
        float(1.0 - (1.0 - alpha) * f_isf(1.0 - g / 2, df1, df2)),
    )


def cronbach_alpha(x: np.ndarray, confidence_level: float = 0.95) -> AlphaResult:
    """Cronbach's alpha of a complete item matrix (rows = respondents, columns = keyed items).

    Parameters
    ----------
    x
        n x k array without missing values (the caller selects the complete cases).
    confidence_level
        Coverage of Feldt's interval.

    Returns
    -------
    AlphaResult
        ``alpha = k/(k-1) (1 - sum(var_i) / var(total))`` with sample (n - 1) variances;
        ``alpha_standardized = k r / (1 + (k - 1) r)`` with r the mean inter-item correlation;
        per item its mean and SD, the corrected item-total correlation (Pearson r of the item with
        the sum of the other k - 1 items, psych ``r.drop``) and alpha of the other k - 1 items.

    Notes
    -----
    Validated against ``psych::alpha(x)`` (``raw_alpha``, ``std.alpha``, ``average_r``, ``r.drop``,
    ``alpha.drop``) in ``tests/reference/measurement.R``.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"expected a respondents x items matrix, got shape {x.shape}")
    if np.isnan(x).any():
        raise ValueError("cronbach_alpha needs complete cases: the matrix contains missing values")
    n, k = x.shape
    nan_k = np.full(k, np.nan)
    notes: list[str] = []
    item_mean = x.mean(axis=0) if n else nan_k.copy()
    total = x.sum(axis=1)
    scale_mean = float(total.mean()) if n else float("nan")
    if n < 2:
        notes.append(
            "no complete case" if n == 0 else "only 1 complete case: variances (and alpha) are undefined"
        )
        if k < 2:
            notes.append("single-item scale: alpha is undefined")
        return AlphaResult(
            n,
            k,
            *(float("nan"),) * 5,
            scale_mean,
            float("nan"),
            item_mean,
            nan_k.copy(),
            nan_k.copy(),
            nan_k.copy(),
            notes,
        )
    # Centre before forming cross-products (numerically stable covariance).
    d = x - item_mean
    cov = d.T @ d / (n - 1)
    item_sd = np.sqrt(np.diag(cov))
    scale_sd = float(np.sqrt(cov.sum())) if cov.sum() > 0 else 0.0
    if k < 2:
        notes.append("single-item scale: alpha is undefined")
        return AlphaResult(
            n,
            k,
            *(float("nan"),) * 5,
            scale_mean,
            scale_sd,
            item_mean,
            item_sd,
            nan_k.copy(),
            nan_k.copy(),
            notes,
        )
    alpha = _alpha_from_cov(cov)
    if not np.isfinite(alpha):
        notes.append("zero variance of the scale total: alpha is undefined")
    ci_low, ci_high = feldt_interval(alpha, n, k, confidence_level)
    zero_var = item_sd == 0
    if zero_var.any():
        notes.append(
            f"{int(zero_var.sum())} item(s) without variance: their correlations, the mean inter-item r "
            "and standardized alpha are undefined"
        )
        mean_r = float("nan")
        std_alpha = float("nan")
    else:
        corr = cov / np.outer(item_sd, item_sd)
        mean_r = float(corr[~np.eye(k, dtype=bool)].mean())
        std_alpha = float(k * mean_r / (1 + (k - 1) * mean_r))
    r_drop = np.full(k, np.nan)
    a_drop = np.full(k, np.nan)
    for i in range(k):
        rest = np.delete(np.arange(k), i)
        rest_var = cov[np.ix_(rest, rest)].sum()
        cov_i_rest = cov[i, rest].sum()
        if item_sd[i] > 0 and rest_var > 0:
            r_drop[i] = cov_i_rest / (item_sd[i] * np.sqrt(rest_var))
        if k > 2:
            a_drop[i] = _alpha_from_cov(cov[np.ix_(rest, rest)])
    if k == 2:
        notes.append("two-item scale: alpha if item deleted is undefined (one item left)")
    return AlphaResult(
        n,
        k,
        alpha,
        ci_low,
        ci_high,
        std_alpha,
        mean_r,
        scale_mean,
        scale_sd,
        item_mean,
        item_sd,
        r_drop,
        a_drop,
        notes,
    )


def scale_reliability(
    keyed: pd.DataFrame,
    instrument: Instrument,
    scale: Scale,
    *,
    pattern: str | None = None,
    confidence_level: float = 0.95,
) -> AlphaResult:
    """Alpha of one scale on the respondents complete on that scale's keyed items (SPSS RELIABILITY)."""
    cols = instrument.columns(scale.items, pattern=pattern)
    x = keyed[cols].to_numpy(dtype=float)
    complete = ~np.isnan(x).any(axis=1)
    return cronbach_alpha(x[complete], confidence_level)


def reliability_tables(
    items: pd.DataFrame,
    instruments: dict[str, Instrument],
    group: str,
    *,
    patterns: dict[str, str] | None = None,
    confidence_level: float = 0.95,
    acceptable_alpha: float = 0.70,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Alpha per instrument x scale and the item table, for one group.

    Parameters
    ----------
    items
        ``ingest/{group}_items.csv`` as read under its contract (:func:`cocapp.contracts.read`): raw
        printed answers, missing codes kept, every returned questionnaire.
    instruments
        The group's instruments in config order.
    group
        Group name written to the ``group`` column.
    patterns
        Per instrument, an item column pattern overriding the instrument's (config ``item_columns``).
    confidence_level, acceptable_alpha
        Config ``statistics.confidence_level`` and ``statistics.acceptable_alpha``.

    Returns
    -------
    (scales, items)
        :data:`SCALE_COLUMNS` (one row per instrument x scale, instrument-file order) and
        :data:`ITEM_COLUMNS` (one row per instrument x scale x item). ``acceptable`` is
        ``alpha >= acceptable_alpha`` and empty when alpha is undefined (``note`` says why).
    """
    patterns = patterns or {}
    scale_rows: list[dict] = []
    item_rows: list[dict] = []
    for key, inst in instruments.items():
        pattern = patterns.get(key)
        absent = [c for c in inst.columns(pattern=pattern) if c not in items.columns]
        if absent:
            raise ValueError(f"items table lacks the {key} item column(s) {absent}")
        keyed = inst.keyed(items, pattern=pattern)
        for scale in inst.scales:
            res = scale_reliability(keyed, inst, scale, pattern=pattern, confidence_level=confidence_level)
            acceptable = pd.NA if not np.isfinite(res.alpha) else bool(res.alpha >= acceptable_alpha)
            scale_rows.append(
                {
                    "group": group,
                    "instrument": key,
                    "scale": scale.key,
                    "n_complete": res.n,
                    "k_items": res.k,
                    "alpha": res.alpha,
                    "ci_low": res.ci_low,
                    "ci_high": res.ci_high,
                    "confidence_level": confidence_level,
                    "acceptable": acceptable,
                    "acceptable_alpha": acceptable_alpha,
                    "alpha_standardized": res.alpha_standardized,
                    "mean_inter_item_r": res.mean_inter_item_r,
                    "scale_mean": res.scale_mean,
                    "scale_sd": res.scale_sd,
                    "note": "; ".join(res.notes),
                }
            )
            for j, item in enumerate(scale.items):
                item_rows.append(
                    {
                        "group": group,
                        "instrument": key,
                        "scale": scale.key,
                        "item": item,
                        "column": inst.column(item, pattern),
                        "reverse_keyed": item in inst.reverse_keyed,
                        "n_complete": res.n,
                        "item_mean": res.item_mean[j],
                        "item_sd": res.item_sd[j],
                        "corrected_item_total_r": res.corrected_item_total_r[j],
                        "alpha_if_deleted": res.alpha_if_deleted[j],
                    }
                )
    scales_df = pd.DataFrame(scale_rows, columns=SCALE_COLUMNS)
    scales_df["acceptable"] = scales_df["acceptable"].astype("boolean")
    items_df = pd.DataFrame(item_rows, columns=ITEM_COLUMNS)
    return scales_df, items_df
