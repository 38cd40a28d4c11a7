"""cocapp.stats.pinvls against statsmodels OLS: the same numbers to the last bit.

The ANCOVA stage fits its models with PinvOLS instead of statsmodels ``OLS(y, X).fit()``; the default
study's outputs must not change by a bit, so every quantity the ANCOVA code reads is compared exactly
(``assert_array_equal``, not a tolerance) on designs like the ANCOVA's: sum-to-zero codes, numeric
covariates, column-major (as patsy and cocapp's design builder return them) and row-major, and a
rank-deficient one.
"""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.regression.linear_model import OLS

from cocapp.stats.pinvls import PinvOLS


def _design(n: int, seed: int, order: str, collinear: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    site = rng.integers(0, 4, n)
    codes = np.vstack([np.eye(3), -np.ones(3)])[site]  # sum-to-zero codes of 4 sites
    age = rng.normal(40, 9, n)
    cols = [np.ones(n), *codes.T, age, rng.integers(0, 2, n) * 2.0 - 1.0]
    if collinear:
        cols.append(age * 12)
    X = np.array(np.column_stack(cols), order=order)
    y = 2.0 + codes @ np.array([0.3, -0.1, 0.2]) + 0.02 * age + rng.normal(0, 1, n)
    return X, y


CASES = [(60, 1, "F", False), (200, 2, "F", False), (200, 3, "C", False), (80, 4, "F", True)]


@pytest.mark.parametrize(("n", "seed", "order", "collinear"), CASES)
def test_fit_equals_statsmodels_bit_for_bit(n, seed, order, collinear):
    X, y = _design(n, seed, order, collinear)
    ours = PinvOLS(X).fit(y)
    theirs = OLS(y, X).fit()
    np.testing.assert_array_equal(ours.params, theirs.params)
    assert ours.ssr == theirs.ssr
    assert ours.df_resid == theirs.df_resid
    assert ours.scale == theirs.scale
    np.testing.assert_array_equal(ours.cov_params(), theirs.cov_params())
    np.testing.assert_array_equal(ours.singular_values, theirs.model.wexog_singular_values)


@pytest.mark.parametrize(("n", "seed", "order", "collinear"), CASES[:3])
@pytest.mark.parametrize("rows", [[1], [1, 2, 3], [4, 5], [0, 4]])
def test_f_test_equals_statsmodels_bit_for_bit(n, seed, order, collinear, rows):
    X, y = _design(n, seed, order, collinear)
    R = np.eye(X.shape[1])[rows]
    ours, theirs = PinvOLS(X).fit(y), OLS(y, X).fit()
    V = np.asfortranarray(theirs.cov_params())  # as the ANCOVA passes it
    a, b = ours.f_test(R, cov_p=V), theirs.f_test(R, cov_p=V)
    assert a.fvalue == float(b.fvalue) and a.pvalue == float(b.pvalue)
    a, b = ours.f_test(R), theirs.f_test(R)
    assert a.fvalue == float(b.fvalue) and a.pvalue == float(b.pvalue)


def test_f_test_of_dependent_contrasts_counts_their_rank():
    """Two identical contrast rows test one restriction: J is the rank of R V Rᵀ (statsmodels warns
    and reduces J the same way)."""
    X, y = _design(120, 5, "F")
    R = np.eye(X.shape[1])[[1, 1]]
    ours, theirs = PinvOLS(X).fit(y), OLS(y, X).fit()
    with pytest.warns(Warning):
        b = theirs.f_test(R)
    a = ours.f_test(R)
    assert a.fvalue == float(b.fvalue) and a.pvalue == float(b.pvalue)
    assert a.fvalue == pytest.approx(ours.f_test(R[:1]).fvalue, rel=1e-12)


def test_one_decomposition_fits_many_outcomes():
    """The design's part computed once gives each outcome's fit exactly as a fresh fit would."""
    X, y = _design(150, 6, "F")
    model = PinvOLS(X)
    for k in range(3):
        yk = y + k * 0.37
        np.testing.assert_array_equal(model.fit(yk).params, OLS(yk, X).fit().params)
        assert model.fit(yk).ssr == OLS(yk, X).fit().ssr
