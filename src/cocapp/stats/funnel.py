"""Funnel plot control limits for comparing many sites' means (Spiegelhalter 2005).

Spiegelhalter DJ (2005). Funnel plots for comparing institutional performance. Stat Med 24:1185–1202.
For a normally distributed outcome with within-site standard deviation σ, the estimate of site i is
its mean ȳᵢ with standard error σ/√nᵢ; its precision is ρᵢ = nᵢ/σ². Under the null hypothesis that
every site has the target mean θ₀, ȳᵢ lies within the control limits

    θ₀ ± z_p · σ/√nᵢ = θ₀ ± z_p/√ρᵢ,   z_p = Φ⁻¹(1 − (1 − p)/2)

with probability p (p = 0.95: z = 1.960, the "alert" limits; p = 0.998: z = 3.090, the "alarm"
limits; Spiegelhalter 2005, section 3 and Table I). Here θ₀ = the overall mean of every respondent
(Σ nᵢȳᵢ / Σ nᵢ) and σ = the pooled within-site standard deviation √[Σ (nᵢ − 1) sᵢ² / (N − k)] (the
root mean square error of the one-way ANOVA), both estimated from the data, as in Spiegelhalter's
examples, with no allowance for over-dispersion. A site is *outside* a limit when its mean lies
strictly beyond it (|zᵢ| > z_p, zᵢ = (ȳᵢ − θ₀)/(σ/√nᵢ)).

In R: ``theta0 <- weighted.mean(mean, n); s <- sqrt(sum((n - 1) * sd^2) / (sum(n) - length(n)));
theta0 + c(-1, 1) * qnorm(1 - (1 - p) / 2) * s / sqrt(n)`` (tests/reference/funnel.R).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special

__all__ = ["FUNNEL_COLUMNS", "funnel_curve", "funnel_sites", "level_label", "z_for"]

FUNNEL_COLUMNS = [
    "site",
    "n",
    "mean",
    "target",
    "sd_within",
    "se",
    "precision",
    "z",
    "outside",
    "direction",
]


def z_for(level: float) -> float:
    """Two-sided normal quantile z_p = Φ⁻¹(1 − (1 − p)/2) of a control limit at coverage ``level``.

    >>> round(z_for(0.95), 6), round(z_for(0.998), 6)
    (1.959964, 3.090232)
    """
    if not 0 < level < 1:
        raise ValueError(f"control limit level {level!r} must lie strictly between 0 and 1")
    return float(-special.ndtri((1.0 - level) / 2.0))


def level_label(level: float) -> str:
    """``0.95`` -> ``"95%"``, ``0.998`` -> ``"99.8%"``."""
    return f"{round(level * 100, 6):g}%"


def funnel_sites(
    sites: Sequence[str],
    n: Sequence[float],
    mean: Sequence[float],
    sd: Sequence[float],
    levels: Sequence[float] = (0.95, 0.998),
) -> pd.DataFrame:
    """Each site's position in the funnel: target, pooled σ, its standard error, precision and z, and
    the widest control limit (of ``levels``) it lies outside.

    Sites with n = 0 or no mean are kept (in order) with empty values and no ``outside`` label. Columns
    :data:`FUNNEL_COLUMNS`: ``outside`` = label of the widest level whose limits the site's mean lies
    strictly beyond (e.g. ``"99.8%"``), empty when within all; ``direction`` = ``above``/``below``
    (the target) for those outside, else empty.

    >>> f = funnel_sites(["A", "B"], [4, 16], [10.0, 12.0], [2.0, 2.0])
    >>> f[["target", "sd_within", "se", "z"]].round(6).values.tolist()
    [[11.6, 2.0, 1.0, -1.6], [11.6, 2.0, 0.5, 0.8]]
    """
    n = np.asarray(n, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    sd = np.asarray(sd, dtype=np.float64)
    ok = (n > 0) & np.isfinite(mean)
    n_ok = n[ok]
    total = n_ok.sum()
    k = int(ok.sum())
    target = float((n_ok * mean[ok]).sum() / total) if total > 0 else np.nan
    ss = ((n_ok - 1.0) * np.where(n_ok > 1, sd[ok], 0.0) ** 2).sum()
    sigma = float(np.sqrt(ss / (total - k))) if total - k > 0 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(ok, sigma / np.sqrt(n), np.nan)
        precision = np.where(ok, n / sigma**2, np.nan)
        z = np.where(ok, (mean - target) / se, np.nan)
    outside = np.full(len(n), "", dtype=object)
    for level in sorted(levels):  # the widest level last, so it wins
        beyond = np.isfinite(z) & (np.abs(z) > z_for(level))
        outside[beyond] = level_label(level)
    direction = np.where(outside != "", np.where(z > 0, "above", "below"), "")
    return pd.DataFrame(
        {
            "site": list(sites),
            "n": n.astype(np.int64),
            "mean": np.where(ok, mean, np.nan),
            "target": target,
            "sd_within": sigma,
            "se": se,
            "precision": precision,
            "z": z,
            "outside": outside,
            "direction": direction.astype(object),
        }
    )[FUNNEL_COLUMNS]


def funnel_curve(
    target: float, precision: np.ndarray, levels: Sequence[float] = (0.95, 0.998)
) -> pd.DataFrame:
    """Control limits θ₀ ± z_p/√ρ along a grid of precisions ρ (for drawing the funnel): columns
    ``precision``, ``level``, ``lower``, ``upper``, one row per precision and level."""
    precision = np.asarray(precision, dtype=np.float64)
    rows = []
    for level in levels:
        half = z_for(level) / np.sqrt(precision)
        rows.append(
            pd.DataFrame(
                {"precision": precision, "level": level, "lower": target - half, "upper": target + half}
            )
        )
    return pd.concat(rows, ignore_index=True)
