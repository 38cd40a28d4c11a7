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

*Over-dispersion* (Spiegelhalter 2005, section 6; ``statistics.funnel.overdispersion``). With
thousands of respondents per site the limits are so narrow that nearly every site lies outside them:
real between-site variation beyond sampling error. Both of the paper's adjustments start from the
z-scores Winsorised at 10 % / 90 % (each z below the 10th percentile set to it, each above the 90th
set to it; percentiles as R's ``quantile`` default, type 7), so that the outliers being looked for do
not inflate the estimate: φ̂ = (1/I) Σ z_W² over the I sites with a mean.

* ``multiplicative``: limits θ₀ ± z_p √φ · sᵢ, φ = max(φ̂, 1) (a φ̂ below 1 would narrow the limits;
  none is applied then).
* ``additive`` (random effects): τ̂² = [I φ̂ − (I − 1)] / [Σ wᵢ − Σ wᵢ² / Σ wᵢ], wᵢ = 1/sᵢ² (the
  DerSimonian–Laird moment estimator on the Winsorised z), taken as 0 when negative; limits
  θ₀ ± z_p √(sᵢ² + τ̂²).

A site is then outside a limit when its *adjusted* z, (ȳᵢ − θ₀)/√(φ sᵢ²) or (ȳᵢ − θ₀)/√(sᵢ² + τ̂²),
exceeds z_p. ``none`` (default): φ = 1, τ̂² = 0, the plain limits above.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special

from cocapp.formatting import fmt_percent

__all__ = [
    "FUNNEL_COLUMNS",
    "OVERDISPERSION",
    "funnel_curve",
    "funnel_sites",
    "level_label",
    "overdispersion",
    "winsorised",
    "z_for",
]

OVERDISPERSION = ("none", "multiplicative", "additive")

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
    "overdispersion",
    "phi",
    "tau2",
    "z_adjusted",
]


def winsorised(z: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """``z`` with values below its ``fraction`` quantile set to it and above its 1 − ``fraction``
    quantile set to that (quantiles by linear interpolation, R ``quantile(type = 7)``).

    >>> winsorised(np.arange(11.0)).tolist()
    [1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 9.0]
    """
    z = np.asarray(z, dtype=np.float64)
    lo, hi = np.quantile(z, [fraction, 1.0 - fraction])
    return np.clip(z, lo, hi)


def overdispersion(z: np.ndarray, se: np.ndarray, method: str) -> tuple[float, float]:
    """(φ, τ²) of Spiegelhalter's (2005) over-dispersion adjustment ``method`` (module docstring) from
    the sites' z-scores and standard errors (sites with finite z only): ``none`` (1, 0);
    ``multiplicative`` (max(φ̂, 1), 0); ``additive`` (1, max(0, [Iφ̂ − (I − 1)] / [Σw − Σw²/Σw])),
    φ̂ the mean squared z after Winsorising at 10 % / 90 %.

    >>> phi, tau2 = overdispersion(np.array([-3.0, -1.0, 0.0, 1.0, 3.0]), np.ones(5), "multiplicative")
    >>> round(phi, 12), tau2  # Winsorised z: -2.2, -1, 0, 1, 2.2; (2·2.2² + 2)/5
    (2.336, 0.0)
    """
    if method not in OVERDISPERSION:
        raise ValueError(f"statistics.funnel.overdispersion must be one of {OVERDISPERSION}, got {method!r}")
    z = np.asarray(z, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    ok = np.isfinite(z) & np.isfinite(se) & (se > 0)
    if method == "none" or ok.sum() < 2:
        return 1.0, 0.0
    zw = winsorised(z[ok])
    n_sites = len(zw)
    phi_hat = float(np.mean(zw * zw))
    if method == "multiplicative":
        return max(phi_hat, 1.0), 0.0
    w = 1.0 / se[ok] ** 2
    tau2 = (n_sites * phi_hat - (n_sites - 1)) / (w.sum() - (w * w).sum() / w.sum())
    return 1.0, max(float(tau2), 0.0)


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
    return fmt_percent(level)


def funnel_sites(
    sites: Sequence[str],
    n: Sequence[float],
    mean: Sequence[float],
    sd: Sequence[float],
    levels: Sequence[float] = (0.95, 0.998),
    overdispersion: str = "none",
) -> pd.DataFrame:
    """Each site's position in the funnel: target, pooled σ, its standard error, precision and z, and
    the widest control limit (of ``levels``) it lies outside.

    ``overdispersion`` (``none``, ``multiplicative``, ``additive``; module docstring): the columns
    ``phi`` and ``tau2`` hold the adjustment (1 and 0 for ``none``), ``z_adjusted`` the z that is
    compared with the limits' z_p ((ȳ − θ₀)/√(φ se² + τ²); = ``z`` for ``none``).

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
    phi, tau2 = _overdispersion(z, se, overdispersion)
    z_adj = z if overdispersion == "none" else (mean - target) / np.sqrt(phi * se**2 + tau2)
    outside = np.full(len(n), "", dtype=object)
    for level in sorted(levels):  # the widest level last, so it wins
        beyond = np.isfinite(z_adj) & (np.abs(z_adj) > z_for(level))
        outside[beyond] = level_label(level)
    direction = np.where(outside != "", np.where(z_adj > 0, "above", "below"), "")
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
            "overdispersion": overdispersion,
            "phi": phi,
            "tau2": tau2,
            "z_adjusted": z_adj,
        }
    )[FUNNEL_COLUMNS]


_overdispersion = overdispersion  # the function, where a parameter of that name shadows it


def funnel_curve(
    target: float,
    precision: np.ndarray,
    levels: Sequence[float] = (0.95, 0.998),
    phi: float = 1.0,
    tau2: float = 0.0,
) -> pd.DataFrame:
    """Control limits θ₀ ± z_p/√ρ along a grid of precisions ρ (for drawing the funnel), with an
    over-dispersion adjustment θ₀ ± z_p √(φ/ρ + τ²) (``phi``, ``tau2`` from :func:`funnel_sites`):
    columns ``precision``, ``level``, ``lower``, ``upper``, one row per precision and level."""
    precision = np.asarray(precision, dtype=np.float64)
    rows = []
    for level in levels:
        if phi == 1.0 and tau2 == 0.0:
            half = z_for(level) / np.sqrt(precision)
        else:
            half = z_for(level) * np.sqrt(phi / precision + tau2)
        rows.append(
            pd.DataFrame(
                {"precision": precision, "level": level, "lower": target - half, "upper": target + half}
            )
        )
    return pd.concat(rows, ignore_index=True)
