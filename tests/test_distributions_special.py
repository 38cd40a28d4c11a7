"""cocapp.stats.distributions gives scipy.stats' values bit for bit, edges included."""

from __future__ import annotations

import itertools

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
