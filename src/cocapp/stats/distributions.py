"""The t, F and chi-square functions (and Levene's and Pearson's tests) the stages need, without scipy.stats.

Each is the ``scipy.special`` function that ``scipy.stats`` itself evaluates (``t.ppf`` is
``stdtrit``, ``t.sf`` is ``stdtr`` at -x, ``f.isf`` is ``fdtri`` at 1 - q, ``chi2.sf`` is
``chdtrc``), with scipy.stats' answers at the edges (q of 0 or 1, x outside the support, invalid
degrees of freedom); :func:`levene` and :func:`pearsonr` follow ``scipy.stats.levene`` and
``scipy.stats.pearsonr`` operation by operation. ``tests/test_distributions_special.py`` checks
bit-for-bit equality with scipy.stats. Importing scipy.stats costs about a second of CPU per process,
more than most stages compute (issue 12).
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["chi2_sf", "f_isf", "f_sf", "levene", "pearson_fisher_ci", "pearsonr", "t_ppf", "t_sf"]


def _out(value):
    value = np.asarray(value, dtype=float)
    return value[()] if value.ndim == 0 else value


def t_ppf(q, df):
    """Quantile of Student's t (``scipy.stats.t.ppf(q, df)``; R ``qt``)."""
    q, df = np.asarray(q, dtype=float), np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        out = special.stdtrit(df, q)
        out = np.where(q == 0, -np.inf, np.where(q == 1, np.inf, out))
        out = np.where((df > 0) & (q >= 0) & (q <= 1), out, np.nan)
    return _out(out)


def t_sf(x, df):
    """Upper tail of Student's t (``scipy.stats.t.sf(x, df)``; R ``pt(x, df, lower.tail = FALSE)``)."""
    x, df = np.asarray(x, dtype=float), np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        out = np.where(df > 0, special.stdtr(df, -x), np.nan)
    return _out(out)


def f_isf(q, dfn, dfd):
    """Upper-tail quantile of F (``scipy.stats.f.isf(q, dfn, dfd)``; R ``qf(q, ..., lower.tail = FALSE)``)."""
    q, dfn, dfd = (np.asarray(a, dtype=float) for a in (q, dfn, dfd))
    with np.errstate(invalid="ignore"):
        out = special.fdtri(dfn, dfd, 1.0 - q)
        out = np.where(q == 0, np.inf, np.where(q == 1, 0.0, out))
        out = np.where((dfn > 0) & (dfd > 0) & (q >= 0) & (q <= 1), out, np.nan)
    return _out(out)


def chi2_sf(x, df):
    """Upper tail of chi-square (``scipy.stats.chi2.sf(x, df)``; R ``pchisq(x, df, lower.tail = FALSE)``)."""
    x, df = np.asarray(x, dtype=float), np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        out = special.chdtrc(df, x)
        out = np.where(x < 0, 1.0, np.where(np.isposinf(x), 0.0, out))
        out = np.where(df > 0, out, np.nan)
        out = np.where(np.isnan(x), np.nan, out)
    return _out(out)


def f_sf(x, dfn, dfd):
    """Upper tail of F (``scipy.stats.f.sf(x, dfn, dfd)``; R ``pf(x, ..., lower.tail = FALSE)``)."""
    x, dfn, dfd = (np.asarray(a, dtype=float) for a in (x, dfn, dfd))
    with np.errstate(invalid="ignore"):
        out = special.fdtrc(dfn, dfd, x)
        out = np.where(x <= 0, 1.0, np.where(np.isposinf(x), 0.0, out))
        out = np.where((dfn > 0) & (dfd > 0), out, np.nan)
        out = np.where(np.isnan(x), np.nan, out)
    return _out(out)


def levene(*samples, center: str = "median") -> tuple[float, float]:
    """Levene's W and its p-value: the one-way ANOVA F of ``|y - centre of its group|`` (centre the
    group mean, or the median for Brown–Forsythe), p from F(k − 1, N − k). As
    ``scipy.stats.levene(*samples, center=...)`` (same operations in the same order) and R
    ``car::leveneTest(center = mean | median)``. ``samples``: k ≥ 2 non-empty 1-d arrays without NaN.
    """
    if center not in ("mean", "median"):
        raise ValueError("center must be 'mean' or 'median'")
    parts = [np.asarray(s, dtype=np.float64) for s in samples]
    k = len(parts)
    if k < 2:
        raise ValueError("Must provide at least two samples.")
    centre = np.median if center == "median" else np.mean
    ns = [p.shape[-1] for p in parts]
    total = sum(ns)
    zs = [np.abs(p - centre(p, axis=-1, keepdims=True)) for p in parts]
    zbars = [np.mean(z, axis=-1, keepdims=True) for z in zs]
    zbar = sum(n * zb for n, zb in zip(ns, zbars, strict=True)) / total
    dfd = total - k
    numer = dfd * sum(n * (zb - zbar) ** 2 for n, zb in zip(ns, zbars, strict=True))
    dfn = k - 1.0
    denom = dfn * sum(np.sum((z - zb) ** 2, axis=-1, keepdims=True) for z, zb in zip(zs, zbars, strict=True))
    w = np.squeeze(numer / denom, axis=-1)
    return w[()], special.fdtrc(np.float64(dfn), np.float64(dfd), w)[()]


def pearsonr(x, y) -> tuple[float, float]:
    """Pearson's r and its two-sided p-value from the exact null distribution of r (a beta
    distribution on [−1, 1] with a = b = n/2 − 1), as ``scipy.stats.pearsonr(x, y)`` (same operations
    in the same order) and R ``cor.test``. ``x``, ``y``: equal-length 1-d arrays, n ≥ 3, no NaN, neither
    constant (the caller says why not otherwise)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = np.asarray(x.shape[-1], dtype=np.float64)
    xm = x - np.mean(x, axis=-1, keepdims=True)
    ym = y - np.mean(y, axis=-1, keepdims=True)
    xmax = np.max(np.abs(xm), axis=-1, keepdims=True)
    ymax = np.max(np.abs(ym), axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        normxm = xmax * np.linalg.norm(xm / xmax, ord=2, axis=-1, keepdims=True)
        normym = ymax * np.linalg.norm(ym / ymax, ord=2, axis=-1, keepdims=True)
        r = np.clip(np.vecdot(xm / normxm, ym / normym, axis=-1), -1.0, 1.0)
    ab = np.asarray(n / 2 - 1, dtype=np.float64)
    p = 2 * special.betaincc(ab, ab, (np.abs(r) - -1) / 2)
    return r[()], p[()]


def pearson_fisher_ci(r: float, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided Fisher-z interval of r: tanh(atanh r ± z_{(1+c)/2} / √(n − 3)), (−1, 1) for n ≤ 3; as
    ``scipy.stats.pearsonr(...).confidence_interval(confidence)`` (same operations) and R ``cor.test``."""
    r = np.asarray(r, dtype=np.float64)
    n_ = np.asarray(n, dtype=np.float64)
    level = np.asarray(confidence, dtype=np.float64)
    if n_ <= 3:
        return -1.0, 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        zr = np.arctanh(r)
        se = np.sqrt(1 / (n_ - 3))
    h = special.ndtri(0.5 + level / 2)
    return np.tanh(zr - h * se)[()], np.tanh(zr + h * se)[()]
