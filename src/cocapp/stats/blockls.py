"""Least squares for designs built from a grouping factor, from per-group QR factors (no n × p matrix).

At national size (10⁶ rows, 250 sites) the ANCOVA designs of :mod:`cocapp.stats.ancova` have 250 site
columns and, for the homogeneity-of-slopes models, hundreds more site × covariate columns: as dense
matrices they take gigabytes and minutes per fit. But each row of those designs is a fixed linear map
of a short row ``u = [1, covariate columns…, y]`` that depends only on the row's group (the site's
contrast codes multiply some of u's columns). So with ``R_g`` the triangular factor of the QR
decomposition of the group's rows of u (``U_g = Q_g R_g``; ``R_gᵀR_g = U_gᵀU_g``):

* the model rows of group g are ``U_g A_g``, and stacking ``R_g A_g`` over the groups gives a matrix
  with the same cross-product ``[X y]ᵀ[X y]`` (a few thousand rows instead of a million), whose own QR
  factor is the factor of ``[X y]`` (TSQR: Demmel et al. 2012, "Communication-optimal parallel and
  sequential QR and LU factorizations", SIAM J Sci Comput 34:A206). Coefficients, residual SS,
  (XᵀX)⁻¹ and every Wald test follow as from a QR fit of the dense design (R ``lm``'s own route).
* a model with group-specific coefficients on some columns of u (the site × covariate interactions of
  the slopes check: site, covariate and their interaction span exactly "every site its own intercept
  and slope") is fitted by projecting those columns out within each group (Frisch–Waugh–Lovell) on
  the small ``R_g``, then pooling what remains; its rank is the sum of the per-group ranks plus the
  rank of the pooled remainder, as R's ``lm`` counts estimable coefficients.

QR factors, not cross-products (normal equations), so the condition number is not squared: results
agree with the dense fits to about 1e-12 relative (tests/test_ancova.py runs the R goldens both ways).
Pure functions of arrays; NumPy/SciPy LAPACK only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from cocapp.stats.distributions import f_sf

__all__ = ["group_factors", "compressed", "CompressedFit", "within_group_ssr"]


def group_factors(u: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per group g, the upper-triangular QR factor of its rows of ``u`` (Householder QR, LAPACK
    ``dgeqrf``), zero-padded to ``(groups, q, q)`` (a group with fewer rows than columns has a
    trapezoidal factor; rows of zeros change no cross-product). ``u`` holds the groups' rows one group
    after the other, ``counts[g]`` rows of group g."""
    n, q = u.shape
    n_groups = len(counts)
    out = np.zeros((n_groups, q, q))
    bounds = np.concatenate([[0], np.cumsum(counts)])
    for g in range(n_groups):
        rows = u[bounds[g] : bounds[g + 1]]
        if len(rows):
            r = np.linalg.qr(rows, mode="r")
            out[g, : r.shape[0]] = r
    return out


def compressed(factors: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """The stacked ``R_g A_g`` (groups × q rows, p columns): a matrix with the cross-product of the
    full design whose rows of group g are ``u A_g`` (``maps`` has shape (groups, q, p))."""
    g, q, _ = factors.shape
    return np.einsum("gij,gjp->gip", factors, maps).reshape(g * q, maps.shape[2])


def _rank(s: np.ndarray, rows: int, cols: int) -> int:
    """NumPy's ``matrix_rank`` rule on singular values: those above σ_max · max(rows, cols) · ε."""
    return int(np.count_nonzero(s > s.max(initial=0.0) * max(rows, cols) * np.finfo(float).eps))


@dataclass
class _Wald:
    fvalue: float
    pvalue: float


class CompressedFit:
    """Least-squares fit of ``y`` on ``X`` from the QR factor of ``[X y]`` (any matrix with the same
    cross-product, e.g. :func:`compressed`): what :mod:`cocapp.stats.ancova` reads of a statsmodels
    ``OLS`` result (``params``, ``ssr``, ``df_resid``, ``cov_params()``, ``f_test``), plus the singular
    values of X for its rank. ``n`` is the number of data rows."""

    def __init__(self, xy: np.ndarray, n: int):
        p = xy.shape[1] - 1
        r = np.linalg.qr(xy, mode="r")
        if r.shape[0] < p + 1:
            r = np.vstack([r, np.zeros((p + 1 - r.shape[0], p + 1))])
        self._r = r[:p, :p]
        self.singular_values = np.linalg.svd(self._r, compute_uv=False)
        self.rank = _rank(self.singular_values, n, p)
        self.nobs = n
        self.df_resid = float(n - self.rank)
        self.ssr = float(r[p, p] ** 2)
        self.compressed = xy
        if self.rank == p:
            self.params = linalg.solve_triangular(self._r, r[:p, p])
            self._rinv = linalg.solve_triangular(self._r, np.eye(p))
        else:  # not used for inference (the model is reported as not estimable)
            self.params = np.full(p, np.nan)
            self._rinv = np.full((p, p), np.nan)

    @property
    def scale(self) -> float:
        """σ̂² = residual SS / residual df."""
        return self.ssr / self.df_resid

    def cov_params(self) -> np.ndarray:
        """σ̂² (XᵀX)⁻¹ = σ̂² R⁻¹R⁻ᵀ."""
        return self.scale * (self._rinv @ self._rinv.T)

    def whitened(self, L: np.ndarray) -> np.ndarray:
        """``L R⁻¹``: its rows' squared norms times σ̂² are the variances of ``L β`` (``L V Lᵀ`` diagonal),
        and differences of its rows give the variances of differences without forming V."""
        return L @ self._rinv

    def f_test(self, L: np.ndarray, cov_p: np.ndarray | None = None) -> _Wald:
        """Wald F test of ``L β = 0``: (Lβ)ᵀ (L V Lᵀ)⁺ (Lβ) / rank(L), as statsmodels ``f_test``."""
        V = self.cov_params() if cov_p is None else cov_p
        b = L @ self.params
        F = float(b @ np.linalg.pinv(L @ V @ L.T) @ b) / L.shape[0]
        return _Wald(F, float(f_sf(F, L.shape[0], self.df_resid)))


def within_group_ssr(
    factors: np.ndarray, lead: list[int], rest: list[int], y: int, group_n: np.ndarray
) -> tuple[float, int]:
    """Residual SS and rank of the model with group-specific coefficients on the columns ``lead`` of u
    and common coefficients on ``rest`` (Frisch–Waugh–Lovell on the per-group factors).

    In each group the columns ``rest`` and ``y`` are projected off the span of ``lead`` (SVD of the
    group's factor restricted to ``lead``; its numerical rank by NumPy's ``matrix_rank`` rule, so that
    a level absent from a site counts as inestimable, as in R's ``lm``); the projected rows of every
    group are stacked and ``y`` regressed on ``rest`` (QR, rank by the same rule; rank-deficient:
    minimum-norm least squares). Rank = Σ per-group ranks + rank of the pooled part."""
    lead_f = factors[:, :, lead]
    rest_f = factors[:, :, [*rest, y]]
    u, s, _ = np.linalg.svd(lead_f, full_matrices=False)  # batched over groups
    tol = s.max(axis=1, initial=0.0) * np.maximum(group_n, len(lead)) * np.finfo(float).eps
    keep = s > tol[:, None]
    uk = u * keep[:, None, :]
    projected = rest_f - np.einsum("gik,gjk,gjp->gip", uk, uk, rest_f)
    stacked = projected.reshape(-1, len(rest) + 1)
    rank_groups = int(keep.sum())
    n = int(group_n.sum())
    if not rest:
        return float(np.sum(stacked[:, 0] ** 2)), rank_groups
    r = np.linalg.qr(stacked, mode="r")
    p = len(rest)
    if r.shape[0] < p + 1:
        r = np.vstack([r, np.zeros((p + 1 - r.shape[0], p + 1))])
    sv = np.linalg.svd(r[:p, :p], compute_uv=False)
    rank_rest = _rank(sv, n, p)
    if rank_rest == p:
        return float(r[p, p] ** 2), rank_groups + p
    coef = np.linalg.lstsq(r[:p, :p], r[:p, p], rcond=None)[0]
    resid = r[:, p] - r[:, :p] @ coef
    return float(resid @ resid), rank_groups + rank_rest
