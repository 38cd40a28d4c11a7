"""Confidence intervals of η² (one-way ANOVA) against a base-R inversion of the noncentral F
(tests/reference/effect_size.R: uniroot on pf(F, df1, df2, ncp)), and by hand at the edges.

Tolerance 1e-6 relative: R's noncentral F CDF (pnbeta) stops its series at an absolute error of 1e-9
(errmax in R's nmath/pnbeta.c), so R's roots are accurate to about 1e-9 divided by the density there;
scipy's ncfdtr (Boost) is accurate to about 1e-14. Measured: 6.4e-8 relative at most."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from cocapp.stats.anova import eta2_interval, oneway_anova

GOLD = Path(__file__).parent / "reference" / "golden" / "effect_size" / "eta2_ci.csv"


def test_eta2_interval_matches_r():
    g = pd.read_csv(GOLD)
    got = np.array([eta2_interval(r.F, r.df1, r.df2, r.confidence) for r in g.itertuples()])
    np.testing.assert_allclose(got[:, 0], g["eta2_ci_low"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(got[:, 1], g["eta2_ci_high"], rtol=1e-6, atol=1e-12)
    assert (g["eta2_ci_low"] == 0).any() and (g["eta2_ci_low"] > 0).any()  # both branches covered


def test_eta2_interval_at_national_size_matches_r():
    """250 sites, df2 near 1e6 (the outcomes of a generated national study): SciPy's ncfdtr returns
    NaN far beyond the upper root there, which once stopped the search for the bracket; the bounds
    agree with R's pf inversion (tests/reference/effect_size.R) at the tolerance used above (the
    largest difference measured: 2.6e-9 relative)."""
    g = pd.read_csv(GOLD.with_name("eta2_ci_national.csv"))
    got = np.array([eta2_interval(r.F, r.df1, r.df2, r.confidence) for r in g.itertuples()])
    np.testing.assert_allclose(got[:, 0], g["eta2_ci_low"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(got[:, 1], g["eta2_ci_high"], rtol=1e-6, atol=1e-12)
    assert np.isnan(special.ncfdtr(249, 890816, 7842.36810968, 16.09641806012316))  # the SciPy NaN


def test_interval_bounds_solve_the_noncentral_f_equations():
    F, df1, df2 = 4.2, 5.0, 195.0
    lo, hi = eta2_interval(F, df1, df2, 0.95)
    n = df1 + df2 + 1
    lam_lo, lam_hi = lo * n / (1 - lo), hi * n / (1 - hi)
    assert special.ncfdtr(df1, df2, lam_lo, F) == pytest.approx(0.975, abs=1e-10)
    assert special.ncfdtr(df1, df2, lam_hi, F) == pytest.approx(0.025, abs=1e-10)
    eta2 = F * df1 / (F * df1 + df2)
    assert lo < eta2 < hi


def test_interval_edges():
    # an F below what a central F gives at the upper tail: the lower bound is 0
    assert eta2_interval(0.3, 2, 100)[0] == 0.0
    assert all(np.isnan(eta2_interval(np.nan, 2, 100)))
    assert all(np.isnan(eta2_interval(np.inf, 2, 100)))


def test_oneway_anova_reports_the_interval():
    y = np.array([1.0, 2, 3, 2, 4, 5, 6, 5, 7, 8, 9, 8])
    codes = np.repeat([0, 1, 2], 4)
    row = oneway_anova(y, codes, ["a", "b", "c"], 0.05, 0.9)
    assert (row["eta2_ci_low"], row["eta2_ci_high"]) == eta2_interval(row["F"], row["df1"], row["df2"], 0.9)
    assert row["eta2_ci_low"] < row["eta2"] < row["eta2_ci_high"]
