"""Ordinary least squares through the Moore–Penrose pseudo-inverse, as statsmodels fits it.

statsmodels ``OLS(y, X).fit()`` (its default ``method="pinv"``) computes X⁺ and the singular values of
X (``statsmodels.tools.tools.pinv_extended``: LAPACK SVD), (XᵀX)⁺ = X⁺X⁺ᵀ, rank and residual df from
those singular values, β = X⁺y, the residuals e = y − Xβ, their sum of squares eᵀe and σ̂² = eᵀe / df;
``f_test(R, cov_p=V)`` is the Wald F (Rβ)ᵀ (R V Rᵀ)⁺ (Rβ) / J with J the rank of R V Rᵀ and its upper
F tail. :class:`PinvOLS` does the same operations on the same arrays, so every number is statsmodels'
to the last bit (tests/test_pinvls.py fits both and compares them exactly), and splits them in two:

* what depends only on the design (X⁺, (XᵀX)⁺, singular values, rank) once, in :class:`PinvOLS`;
* what depends on the outcome in :meth:`PinvOLS.fit`, so that many outcomes measured on the same
  respondents (the ``m`` completed datasets of a multiple imputation) share one decomposition.

It also leaves out the import of statsmodels' regression package (with ``scipy.stats``, half a
second in every stage that fits an ANCOVA) and the bookkeeping of its results objects, which took
more time than the arithmetic on the default study's 220 models (issue 12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cocapp.stats.distributions import f_sf

__all__ = ["PinvOLS", "PinvFit", "WaldF"]


@dataclass(frozen=True)
class WaldF:
    """A Wald F test: statistic and upper-tail p value (statsmodels ``ContrastResults`` fields)."""

    fvalue: float
    pvalue: float


class PinvOLS:
    """The outcome-independent part of statsmodels ``OLS(y, X).fit()``: ``pinv`` (X⁺),
    ``singular_values`` (of X), ``normalized_cov_params`` ((XᵀX)⁺), ``rank`` (NumPy's
    ``matrix_rank`` of diag(singular values), as statsmodels counts it) and ``df_resid`` (n − rank)."""

    def __init__(self, X: np.ndarray):
        # imported here: statsmodels.tools.tools is light (no scipy.stats), and only fitting needs it
        from statsmodels.tools.tools import pinv_extended

        self.X = X
        self.pinv, self.singular_values = pinv_extended(X)
        self.normalized_cov_params = np.dot(self.pinv, np.transpose(self.pinv))
        self.rank = np.linalg.matrix_rank(np.diag(self.singular_values))
        self.df_resid = float(X.shape[0]) - self.rank

    def fit(self, y: np.ndarray) -> PinvFit:
        """Least-squares fit of ``y`` (float64, one value per row of X)."""
        params = np.dot(self.pinv, y)
        wresid = y - np.dot(self.X, params)
        return PinvFit(self, params, np.dot(wresid, wresid))


@dataclass
class PinvFit:
    """What :mod:`cocapp.stats.ancova` reads of a statsmodels OLS result: ``params``, ``ssr``,
    ``df_resid``, ``scale``, ``cov_params()``, ``f_test``, and the design's ``singular_values``."""

    model: PinvOLS
    params: np.ndarray
    ssr: float

    @property
    def df_resid(self) -> float:
        return self.model.df_resid

    @property
    def singular_values(self) -> np.ndarray:
        return self.model.singular_values

    @property
    def scale(self) -> float:
        """σ̂² = eᵀe / residual df."""
        return self.ssr / self.df_resid

    def cov_params(self) -> np.ndarray:
        """σ̂² (XᵀX)⁺."""
        return self.model.normalized_cov_params * self.scale

    def f_test(self, R: np.ndarray, cov_p: np.ndarray | None = None) -> WaldF:
        """Wald F test that Rβ = 0 given the coefficient covariance ``cov_p`` (default σ̂²(XᵀX)⁺):
        (Rβ)ᵀ (R V Rᵀ)⁺ (Rβ) / J, J = rank of R V Rᵀ (at most the rows of R), p = P(F(J, df) > F)
        (statsmodels ``LikelihoodModelResults.wald_test`` with ``use_f``)."""
        V = self.cov_params() if cov_p is None else cov_p
        rb = np.dot(R, self.params[:, None])
        cov = np.dot(R, np.dot(V, np.transpose(R)))
        if np.isnan(cov).max():
            raise ValueError("Wald test: the covariance of the contrasts has missing values")
        J = min(float(R.shape[0]), np.linalg.matrix_rank(cov))
        F = float(np.squeeze(np.dot(np.dot(rb.T, np.linalg.pinv(cov)), rb))) / J
        return WaldF(F, float(f_sf(F, J, self.df_resid)))
