"""The t, F and chi-square functions the measurement and distribution stages need, without scipy.stats.

Each is the ``scipy.special`` function that ``scipy.stats`` itself evaluates (``t.ppf`` is
``stdtrit``, ``t.sf`` is ``stdtr`` at -x, ``f.isf`` is ``fdtri`` at 1 - q, ``chi2.sf`` is
``chdtrc``), with scipy.stats' answers at the edges (q of 0 or 1, x outside the support, invalid
degrees of freedom); ``tests/test_distributions_special.py`` checks bit-for-bit equality with
scipy.stats. Importing scipy.stats costs about a second per process, more than these stages compute.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["chi2_sf", "f_isf", "t_ppf", "t_sf"]


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
