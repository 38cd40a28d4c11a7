"""cocapp.stats.distributions gives scipy.stats' values bit for bit, edges included."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy import stats

from cocapp.stats import distributions as D

QS = [0, 1e-300, 1e-12, 0.025, 0.5, 0.975, 0.999999, 1, np.nan, -0.1, 1.1]
DFS = [0, -1, 0.5, 1, 2, 3, 10, 100.5, 1e6, np.inf, np.nan]
XS = [-np.inf, -3, -0.0, 0, 1e-300, 0.5, 2, 30, np.inf, np.nan]


def same(a, b) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b))


@pytest.mark.parametrize(("q", "df"), list(itertools.product(QS, DFS)))
def test_t_ppf(q, df):
    assert same(D.t_ppf(q, df), stats.t.ppf(q, df))


@pytest.mark.parametrize(("x", "df"), list(itertools.product(XS, DFS)))
def test_t_sf_and_chi2_sf(x, df):
    assert same(D.t_sf(x, df), stats.t.sf(x, df))
    assert same(D.chi2_sf(x, df), stats.chi2.sf(x, df))


@pytest.mark.parametrize(("q", "d1", "d2"), list(itertools.product(QS, DFS[:7], DFS)))
def test_f_isf(q, d1, d2):
    assert same(D.f_isf(q, d1, d2), stats.f.isf(q, d1, d2))


def test_random_interior_values_are_identical():
    rng = np.random.default_rng(1)
    q, df, d2 = rng.uniform(0, 1, 20000), rng.uniform(1, 1000, 20000), rng.uniform(1, 5000, 20000)
    x = rng.uniform(-10, 10, 20000)
    assert same(D.t_ppf(q, df), stats.t.ppf(q, df))
    assert same(D.t_sf(x, df), stats.t.sf(x, df))
    assert same(D.chi2_sf(np.abs(x) * 10, df), stats.chi2.sf(np.abs(x) * 10, df))
    assert same(D.f_isf(q, df, d2), stats.f.isf(q, df, d2))
    assert isinstance(D.t_ppf(0.975, 10), float | np.floating)


@pytest.mark.parametrize(("x", "d1", "d2"), list(itertools.product(XS, DFS[:7], DFS)))
def test_f_sf(x, d1, d2):
    assert same(D.f_sf(x, d1, d2), stats.f.sf(x, d1, d2))


def test_f_sf_random_values_are_identical():
    rng = np.random.default_rng(2)
    x, d1, d2 = rng.uniform(0, 20, 20000), rng.uniform(0.5, 300, 20000), rng.uniform(1, 5000, 20000)
    assert same(D.f_sf(x, d1, d2), stats.f.sf(x, d1, d2))


@pytest.mark.parametrize("center", ["mean", "median"])
def test_levene_is_scipy_levene_bit_for_bit(center):
    """Rounded scores as survey scales give them (ties, equal deviations, a one-value site)."""
    rng = np.random.default_rng(3)
    for _ in range(400):
        k = int(rng.integers(2, 9))
        parts = [np.round(rng.normal(size=int(rng.integers(1, 80))) * 3, 1) for _ in range(k)]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a site whose deviations are all equal: NaN, as scipy
            want = stats.levene(*parts, center=center)
            got = D.levene(*parts, center=center)
        assert same(got[0], want.statistic) and same(got[1], want.pvalue)
    with pytest.raises(ValueError, match="center"):
        D.levene([1.0, 2.0], [3.0, 4.0], center="trimmed")


def test_pearsonr_and_fisher_interval_are_scipy_bit_for_bit():
    rng = np.random.default_rng(4)
    for i in range(1500):
        n = int(rng.integers(3, 500))
        x = rng.normal(size=n) * rng.uniform(0.01, 1e3) + rng.uniform(-50, 50)
        y = rng.uniform(-1, 1) * x + rng.normal(size=n) * rng.uniform(0.01, 1e3)
        if i % 3 == 0:  # scale scores: few distinct values
            x, y = np.round(x / 40) / 2, np.round(y / 40) / 2
        if np.all(x == x[0]) or np.all(y == y[0]):
            continue
        want = stats.pearsonr(x, y)
        r, p = D.pearsonr(x, y)
        assert same(r, want.statistic) and same(p, want.pvalue)
        for level in (0.9, 0.95, 0.99):
            ci = want.confidence_interval(confidence_level=level)
            assert same(D.pearson_fisher_ci(r, n, level), (ci.low, ci.high))
