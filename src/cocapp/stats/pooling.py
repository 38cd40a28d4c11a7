"""Pooling of m analyses of multiply imputed data: Rubin's rules, Barnard–Rubin df, D1, D2, Fisher z.

Pure functions on arrays (one entry per imputation). Conventions and formulas are those of R ``mice``
3.15 and ``mitml`` so that results agree with them to rounding (tests/reference/pooling.R):

* :func:`rubin` — scalar estimate ``Q_l`` with complete-data variance ``U_l`` (Rubin 1987, ch. 3):
  Q̄ = mean Q_l, Ū = mean U_l, B = var(Q_l) (denominator m − 1), T = Ū + (1 + 1/m) B; relative increase
  in variance r = (1 + 1/m) B / Ū, λ = (1 + 1/m) B / T; degrees of freedom of Barnard & Rubin (1999)
  with the complete-data df ``dfcom`` (``mice:::barnard.rubin``: λ floored at 1e-4,
  ν_old = (m − 1)/λ², ν_obs = (ν_com + 1)/(ν_com + 3) ν_com (1 − λ), ν = ν_old ν_obs / (ν_old + ν_obs));
  fraction of missing information γ = (r + 2/(ν + 3)) / (r + 1) (``mice::pool`` column ``fmi``) and
  relative efficiency RE = 1 / (1 + γ/m) (Rubin 1987, p. 114). R: ``mice::pool``, ``mice::pool.scalar``.
* :func:`d1` — multivariate Wald test of k parameters (Li, Raghunathan & Rubin 1991), with the
  small-sample df of Reiter (2007) when the complete-data df is known: ``mitml:::.D1`` as called by
  ``mice::D1``.
* :func:`d2` — pooling of m χ² statistics on k df (Li, Meng, Raghunathan & Rubin 1991): ``mitml:::.D2``
  as called by ``mice::D2``. An F statistic on (k, ν) enters as χ² = k·F (the Wald statistic of a
  linear model, as ``mice::D2(use = "wald")`` computes it).
* :func:`pool_correlation` — correlations pooled on Fisher's z = atanh(r) with U = 1/(n − 3) (Schafer
  1997; van Buuren 2018, §5.3.2); ``mice::pool.r.squared`` does the same for √R².
"""

from __future__ import annotations

import numpy as np

from cocapp.stats.distributions import f_sf, t_ppf, t_sf

__all__ = ["barnard_rubin_df", "d1", "d2", "emm_contrasts", "oneway_contrasts", "pool_correlation", "rubin"]


def barnard_rubin_df(m: int, b, t, dfcom=np.inf):
    """Barnard–Rubin (1999) degrees of freedom, exactly as ``mice:::barnard.rubin`` (λ floored at 1e-4).

    ``dfcom`` = complete-data residual df (``np.inf``: the large-sample ν_old = (m − 1)/λ²).
    """
    b, t, dfcom = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (b, t, dfcom)))
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.maximum((1.0 + 1.0 / m) * b / t, 1e-4)
        dfold = (m - 1) / lam**2
        dfobs = (dfcom + 1.0) / (dfcom + 3.0) * dfcom * (1.0 - lam)
        out = np.where(np.isinf(dfcom), dfold, dfold * dfobs / (dfold + dfobs))
    return out if out.ndim else float(out)


def rubin(q, u, dfcom=np.inf, confidence: float = 0.95) -> dict[str, np.ndarray]:
    """Rubin's rules for estimates ``q`` with variances ``u`` (shape (m, ...): m imputations first).

    Returns arrays (one per parameter): ``estimate`` Q̄, ``ubar``, ``b``, ``t`` (total variance),
    ``se`` = √T, ``df`` (Barnard–Rubin with ``dfcom``), ``riv``, ``lambda``, ``fmi``, ``re``
    (relative efficiency), ``statistic`` = Q̄/√T, ``p`` (two-sided t on ``df``) and the t interval
    ``ci_low``/``ci_high`` at ``confidence``. R: ``mice::pool`` (columns estimate, ubar, b, t, df, riv,
    lambda, fmi) and ``summary(pool(...), conf.int = TRUE)``.
    """
    q = np.asarray(q, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    if q.shape != u.shape or q.ndim < 1:
        raise ValueError(f"rubin: estimates {q.shape} and variances {u.shape} must share shape (m[, p])")
    m = q.shape[0]
    if m < 2:
        raise ValueError(f"rubin: at least two imputations are needed, got {m}")
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1.0 + 1.0 / m) * b
    df = barnard_rubin_df(m, b, t, dfcom)
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = (1.0 + 1.0 / m) * b / ubar
        lam = (1.0 + 1.0 / m) * b / t
        fmi = (riv + 2.0 / (df + 3.0)) / (riv + 1.0)
        se = np.sqrt(t)
        stat = qbar / se
    p = 2.0 * t_sf(np.abs(stat), df)
    half = t_ppf(0.5 + confidence / 2.0, df) * se
    return {
        "estimate": qbar,
        "ubar": ubar,
        "b": b,
        "t": t,
        "se": se,
        "df": df,
        "riv": riv,
        "lambda": lam,
        "fmi": fmi,
        "re": 1.0 / (1.0 + fmi / m),
        "statistic": stat,
        "p": p,
        "ci_low": qbar - half,
        "ci_high": qbar + half,
    }


def _pooled_f(f: float, k: int, v: float, r: float) -> dict[str, float]:
    """A pooled F test as D1 and D2 report it: F on (k, v) df, its p, the relative increase in variance
    r and the fraction of missing information r/(1 + r)."""
    return {
        "F": f,
        "df1": float(k),
        "df2": float(v),
        "p": float(f_sf(f, k, v)),
        "riv": r,
        "fmi": r / (1 + r),
    }


def d1(q, u, dfcom: float | None = None) -> dict[str, float]:
    """Multivariate Wald test D1 of H0: θ = 0 for k parameters over m imputations.

    ``q`` (m, k) estimates, ``u`` (m, k, k) their complete-data covariance matrices; ``dfcom`` the
    complete-data residual df (None: the large-sample df of Li, Raghunathan & Rubin 1991). Returns
    ``F``, ``df1`` = k, ``df2``, ``p`` and ``riv`` (average relative increase in variance r), plus
    ``fmi`` = r/(1 + r), the large-sample fraction of missing information of the test. Exactly
    ``mitml:::.D1`` (``mice::D1(fit1, fit0)``); the statistic is invariant to a reparametrisation
    θ → Aθ, so contrasts against any reference site give the same test.
    """
    q = np.asarray(q, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    m, k = q.shape
    if u.shape != (m, k, k):
        raise ValueError(f"d1: covariances {u.shape} do not match estimates {q.shape}")
    if m < 2:
        raise ValueError(f"d1: at least two imputations are needed, got {m}")
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    bmat = np.cov(q, rowvar=False, ddof=1).reshape(k, k)
    r = (1.0 + 1.0 / m) * float(np.trace(bmat @ np.linalg.inv(ubar))) / k
    f = float(qbar @ np.linalg.solve((1.0 + r) * ubar, qbar)) / k
    t = k * (m - 1)
    if dfcom is not None and np.isfinite(dfcom):
        a = r * t / (t - 2)
        vstar = ((dfcom + 1) / (dfcom + 3)) * dfcom
        c0 = 1 / (t - 4)
        c1 = vstar - 2 * (1 + a)
        c2 = vstar - 4 * (1 + a)
        z = (
            1 / c2
            + c0 * (a**2 * c1 / ((1 + a) ** 2 * c2))
            + c0 * (8 * a**2 * c1 / ((1 + a) * c2**2) + 4 * a**2 / ((1 + a) * c2))
            + c0 * (4 * a**2 / (c2 * c1) + 16 * a**2 * c1 / c2**3)
            + c0 * (8 * a**2 / c2**2)
        )
        v = 4 + 1 / z
    elif t > 4:
        v = 4 + (t - 4) * (1 + (1 - 2 / t) / r) ** 2
    else:
        v = t * (1 + 1 / k) * (1 + 1 / r) ** 2 / 2
    return _pooled_f(f, k, v, r)


def d2(chi2, k: int) -> dict[str, float]:
    """D2: pooling of m χ² statistics ``chi2`` on ``k`` df (Li, Meng, Raghunathan & Rubin 1991).

    r = (1 + 1/m) var(√d), F = (d̄/k − (m + 1)/(m − 1) r)/(1 + r), df2 = k^(−3/m) (m − 1)(1 + 1/r)²;
    exactly ``mitml:::.D2`` (``mice::D2(use = "wald")``). Returns ``F``, ``df1``, ``df2``, ``p``, ``riv``
    and ``fmi`` = r/(1 + r). F below 0 is returned as computed (p = 1), as mitml does.
    """
    d = np.asarray(chi2, dtype=np.float64)
    m = d.shape[0]
    if m < 2:
        raise ValueError(f"d2: at least two imputations are needed, got {m}")
    r = (1.0 + 1.0 / m) * float(np.var(np.sqrt(d), ddof=1))
    f = (float(d.mean()) / k - (m + 1) / (m - 1) * r) / (1 + r)
    with np.errstate(divide="ignore"):
        v = k ** (-3.0 / m) * (m - 1) * (1 + 1 / r) ** 2 if r > 0 else np.inf
    return _pooled_f(f, k, v, r)


def pool_correlation(r, n, confidence: float = 0.95) -> dict[str, float]:
    """Pool m Pearson correlations ``r`` (each on ``n`` pairs) on Fisher's z with U = 1/(n − 3).

    Rubin's rules on z = atanh(r) with infinite complete-data df (as ``mice::pool.scalar(z, 1/(n-3))``
    inside ``mice::pool.r.squared``); the estimate and the t interval on the Barnard–Rubin df are
    transformed back with tanh. Returns ``r``, ``z``, ``se_z``, ``df``, ``ci_low``, ``ci_high``, ``p``
    (test of ρ = 0 on z), ``riv``, ``fmi`` and ``re``.
    """
    r = np.asarray(r, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    pooled = rubin(np.arctanh(r), 1.0 / (n - 3.0), np.inf, confidence)
    return {
        "r": float(np.tanh(pooled["estimate"])),
        "z": float(pooled["estimate"]),
        "se_z": float(pooled["se"]),
        "df": float(pooled["df"]),
        "ci_low": float(np.tanh(pooled["ci_low"])),
        "ci_high": float(np.tanh(pooled["ci_high"])),
        "p": float(pooled["p"]),
        "riv": float(pooled["riv"]),
        "fmi": float(pooled["fmi"]),
        "re": float(pooled["re"]),
    }


def oneway_contrasts(mean, n, ms_within) -> tuple[np.ndarray, np.ndarray]:
    """Site contrasts θ_j = μ_j − μ_1 (j = 2 … k) of a one-way ANOVA and their covariance
    MS_within (1/n_1 J + diag(1/n_j)): the Wald test of θ = 0 with this covariance is k−1 times the
    ANOVA's F, as for R ``lm(y ~ site)`` (the input of :func:`d1`)."""
    mean = np.asarray(mean, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    q = mean[1:] - mean[0]
    u = ms_within * (np.full((len(q), len(q)), 1.0 / n[0]) + np.diag(1.0 / n[1:]))
    return q, u


def emm_contrasts(mean, se, pair_se) -> tuple[np.ndarray, np.ndarray]:
    """Contrasts θ_j = m_j − m_1 of k adjusted means and their covariance, recovered from the SEs of
    the means and of all k(k−1)/2 pairwise differences (config pair order a < b):
    cov(m_a, m_b) = (se_a² + se_b² − se_ab²)/2. The input of :func:`d1` for the ANCOVA site effect
    (R ``lm(y ~ site + covariates)`` site coefficients give the same test)."""
    mean = np.asarray(mean, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    k = len(mean)
    a, b = np.triu_indices(k, k=1)
    v = np.diag(se**2)
    cov = (se[a] ** 2 + se[b] ** 2 - np.asarray(pair_se, dtype=np.float64) ** 2) / 2.0
    v[a, b] = cov
    v[b, a] = cov
    c = np.hstack([-np.ones((k - 1, 1)), np.eye(k - 1)])
    return c @ mean, c @ v @ c.T
