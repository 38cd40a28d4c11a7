"""The studentized range for many means (k = 20 ... 250; all-pairs post hoc tests of a national study
with hundreds of sites, issue 16): against mpmath high-precision quadrature (our accuracy), R's
``ptukey``/``qtukey`` (within R's own accuracy, measured here) and SciPy; speed of a k = 250 family.

Goldens: tests/reference/studentized_range_large_k.R (R) and tests/reference/studentized_range_mpmath.py
(20-digit Gauss–Legendre quadrature, independent of cocapp's code; its two rule sizes agree to
``rel_change``, at most 2e-11).

How accurate R is at large k. R's ``ptukey`` integrates the range distribution with a fixed number of
Gauss–Legendre panels (src/nmath/ptukey.c: ``wprob``), made for k up to about 100, and for df > 25,000
uses the df = ∞ distribution. Against the mpmath reference its upper tail is off by up to 3.5e-2 at
k = 250, df = 2 (it returns P(Q > 3) = 1 where the value is 0.965), 7e-3 at df = 5 and 9e-4 at df = 10;
by a few 1e-6 to 1e-7 for df ≥ 30; and by up to 7e-5 at df = 10⁵ (the df = ∞ substitution). ``qtukey``
inverts that ``ptukey`` (documented as accurate to 4 decimals) and does not converge at df = 2 (R warns).
The comparison with R therefore uses, per (k, df), an absolute tolerance a little above the measured
difference (``R_ATOL``), and mpmath shows that the differences are R's.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cocapp.stats import studentized_range as sr

GOLDEN = Path(__file__).parent / "reference" / "golden" / "studentized_range"

# absolute error of R's ptukey upper tail at large k, by df (rows k = 20, 50, 100, 250), from the
# comparison with ours where ours agrees with mpmath to 1e-13 (module docstring), rounded up
R_ATOL = {
    2.0: (4e-5, 1e-4, 2e-4, 5e-2),
    5.0: (4e-6, 2e-5, 4e-5, 1e-2),
    10.0: (2e-7, 2e-6, 1e-5, 2e-3),
    30.0: (4e-8, 4e-7, 6e-7, 1e-5),
    100.0: (3e-8, 6e-7, 2e-6, 2e-6),
    1000.0: (3e-8, 6e-7, 3e-6, 3e-7),
    1e5: (4e-5, 8e-5, 8e-5, 2e-4),  # R: df > 25,000 is taken as df = ∞
    np.inf: (3e-8, 6e-7, 4e-6, 1e-6),
}
KS = (20, 50, 100, 250)


def _atol(g: pd.DataFrame) -> np.ndarray:
    return np.array([R_ATOL[float(d)][KS.index(int(k))] for k, d in zip(g.k, g.df, strict=True)])


def test_matches_mpmath_high_precision_reference():
    """Ours against 20-digit quadrature at k = 50 ... 250, df = 2 ... ∞, p from 1e-6 to 0.97: 1e-10
    relative (the reference's own error is below 2e-11)."""
    path = GOLDEN / "mpmath_large_k.csv"
    g = pd.read_csv(path, dtype={"p_upper": str})
    assert len(g) >= 4, f"{path} holds {len(g)} points"
    assert (g.rel_change < 1e-10).all()
    df = g.df.replace({"Inf": np.inf}).astype(float)
    ref = g.p_upper.astype(float).to_numpy()
    np.testing.assert_allclose(sr.sf(g.q, g.k, df), ref, rtol=1e-10)
    low = ref > 0.5  # there the lower tail is integrated directly: 1 − P(Q > q) from the reference
    np.testing.assert_allclose(sr.cdf(g.q[low], g.k[low], df[low]), 1 - ref[low], rtol=1e-10)


def test_lower_tail_at_250_means_and_two_df():
    """The case that was 1e-4 off before the lower tail's step resolved its φ(z)^k peak (mpmath:
    1 − 0.96497297356997783 = 0.03502702643002217; SciPy's nquad gives 0.0350270264300)."""
    assert float(sr.cdf(3.0, 250, 2.0)) == pytest.approx(0.03502702643002217, rel=1e-12)
    assert float(stats.studentized_range.cdf(3.0, 250, 2.0)) == pytest.approx(0.03502702643002217, rel=1e-9)


def test_upper_tail_matches_r_ptukey_within_its_accuracy():
    g = pd.read_csv(GOLDEN / "ptukey_large_k.csv")
    assert sorted(g.k.unique()) == list(KS)
    ours = sr.sf(g.q, g.k, g.df)
    tol = 1e-9 * g.p_upper.to_numpy() + _atol(g)
    bad = g[np.abs(ours - g.p_upper) > tol]
    assert bad.empty, bad.assign(ours=ours[bad.index])
    lower = sr.cdf(g.q, g.k, g.df)
    tol = 1e-9 * g.p_lower.to_numpy() + _atol(g)
    assert np.all(np.abs(lower - g.p_lower) <= tol)


def test_quantiles_match_r_qtukey_where_it_converges():
    g = pd.read_csv(GOLDEN / "qtukey_large_k.csv")
    # below df = 30 R's ptukey is too far off; 1e5: R uses df = ∞; NaN: qtukey did not converge (R warns)
    ok = (g.df >= 30) & (g.df != 1e5) & g.q.notna()
    assert g.q.isna().sum() <= 12
    ours = sr.ppf(g.p[ok], g.k[ok], g.df[ok])
    # qtukey is documented as accurate to the 4th decimal place
    np.testing.assert_allclose(ours, g.q[ok], rtol=0, atol=1e-4)
    # R's df = 1e5 quantile is its df = ∞ one: ours at ∞ agrees, ours at 1e5 is larger by ~(q²+1)/(4ν) q
    big = g[(g.df == 1e5) & g.q.notna()]
    np.testing.assert_allclose(sr.ppf(big.p, big.k, np.inf), big.q, rtol=0, atol=1e-4)
    assert np.all(sr.ppf(big.p, big.k, 1e5) > big.q)


@pytest.mark.parametrize(("k", "df"), [(50, 12.5), (100, 640.0), (250, 5.0), (250, 30.0), (250, 1e4)])
def test_body_matches_scipy(k, df):
    """SciPy's nquad (epsabs 1e-11) is a third, independent implementation."""
    q = np.array([3.0, 5.0, 6.5, 9.0])
    np.testing.assert_allclose(sr.sf(q, k, df), stats.studentized_range.sf(q, k, df), rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(sr.cdf(q, k, df), stats.studentized_range.cdf(q, k, df), rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize("df", [2.0, 7.5, 90.0, 5e4, np.inf])
def test_round_trips_at_250_means(df):
    p = np.array([1e-6, 0.01, 0.3, 0.5, 0.95, 0.999])
    q = sr.ppf(p, 250, df)
    assert np.all(np.diff(q) > 0)
    np.testing.assert_allclose(sr.cdf(q, 250, df), p, rtol=1e-12)
    tail = np.array([1e-12, 1e-6, 0.05, 0.5])
    np.testing.assert_allclose(sr.sf(sr.isf(tail, 250, df), 250, df), tail, rtol=1e-12)


def test_a_family_of_31125_pairs_is_fast():
    """All pairs of 250 sites: Tukey (one df) and Games–Howell (one df per pair) p-values and the
    Games–Howell critical values. Generous bounds (a loaded 2-core test machine); measured (CPU time, load
    average 8 on 2 cores): about 0.04 s (one table for the df), 1.5 s and 0.1 s (tables per half octave
    of df)."""
    rng = np.random.default_rng(1)
    q = rng.uniform(0.1, 9.0, 31_125)
    welch = rng.uniform(50.0, 20_000.0, 31_125)
    sr.sf(5.0, 250, 1e6)  # the k = 250 tables (cached)
    t = time.perf_counter()
    sr.sf(q, 250, 999_750.0)
    tukey = time.perf_counter() - t
    t = time.perf_counter()
    sr.sf(q, 250, welch)
    gh = time.perf_counter() - t
    t = time.perf_counter()
    sr.ppf(0.95, 250, welch)
    crit = time.perf_counter() - t
    assert tukey < 8 and gh < 12 and crit < 20, (tukey, gh, crit)


# -- large families: tables per (k, df) and per (level, k, half octave of df) --------------------------------
@pytest.mark.parametrize(("k", "df"), [(250, 999_750.0), (250, 1000.0), (250, 12.5), (40, 3.0), (6, 100.0)])
def test_a_large_family_at_one_df_uses_a_table_as_accurate_as_the_quadrature(k, df):
    """≥ BATCH values at one (k, df) are interpolated in a table of log P(Q > w); against each value's
    own quadrature: 1e-12 relative for w < 40; beyond (pieces of log w) 1e-12 · |log P| relative,
    since both are e^(log P) with log P near −700 there (the conditioning of exp, not the table), and
    subnormal results (below 2.2e-308, few significant bits) within 1e-310; 0 where the tail underflows."""
    rng = np.random.default_rng(5)
    far = np.exp(rng.uniform(np.log(40.0), np.log(400.0), 300))
    q = np.concatenate([rng.uniform(0.01, 45.0, sr.BATCH), far, [1e-3, 39.999, 40.0, 41.0]])
    got = sr.sf(q, k, df)
    ref = sr._sf_direct(q, float(k), np.full(len(q), df))
    near = q < 40
    np.testing.assert_allclose(got[near], ref[near], rtol=1e-12, atol=0)
    normal = ~near & (ref >= 2.3e-308)
    tol = 1e-12 * np.maximum(1.0, -np.log(ref[normal]))
    assert np.all(np.abs(got[normal] - ref[normal]) <= tol * ref[normal])
    np.testing.assert_allclose(got[~near & ~normal], ref[~near & ~normal], rtol=0, atol=1e-310)


def test_mpmath_points_inside_a_large_family_keep_their_accuracy():
    """The mpmath reference points at k = 250 evaluated inside a family of BATCH values at their df."""
    g = pd.read_csv(GOLDEN / "mpmath_large_k.csv", dtype={"p_upper": str})
    g = g[g.k == 250]
    df = g.df.replace({"Inf": np.inf}).astype(float).to_numpy()
    filler = np.random.default_rng(2).uniform(0.5, 12.0, sr.BATCH)
    for d in np.unique(df[np.isfinite(df)]):
        rows = g[df == d]
        got = sr.sf(np.concatenate([rows.q.to_numpy(dtype=float), filler]), 250, d)[: len(rows)]
        np.testing.assert_allclose(got, rows.p_upper.astype(float), rtol=1e-10, err_msg=f"df={d}")


def test_small_families_keep_the_direct_quadrature_bit_for_bit():
    q = np.linspace(0.5, 12.0, 50)
    assert np.array_equal(sr.sf(q, 6, 640.0), sr._sf_direct(q, 6.0, np.full(50, 640.0)))
    df = np.linspace(3.0, 90.0, 50)
    direct = sr._quantile_direct(np.full(50, 1.0 - 0.95), np.full(50, 0.95), 6.0, df)
    assert np.array_equal(sr.ppf(0.95, 6, df), direct)


@pytest.mark.parametrize("k", [250, 40, 6])
@pytest.mark.parametrize("conf", [0.95, 0.99])
def test_quantiles_at_many_df_interpolate_to_1e_12(k, conf):
    """Games–Howell critical values (one per pair's Welch df): interpolated per half octave of df."""
    df = np.exp(np.random.default_rng(k).uniform(np.log(2.0), np.log(2e6), sr.BATCH))
    got = sr.ppf(conf, k, df)
    ref = sr._quantile_direct(np.full(len(df), 1.0 - conf), np.full(len(df), conf), float(k), df)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(sr.cdf(got[:40], k, df[:40]), conf, rtol=1e-12)


# -- large families at many df (Games–Howell: one Welch df per pair) -----------------------------------------
def test_many_df_batch_interpolates_to_1e_12_of_the_quadrature():
    """≥ BATCH values below w = 40 at many df are interpolated in log2 df between tables of
    log P(Q > w) (per half octave of df, 13 nodes): against each value's own quadrature (itself
    checked against mpmath above), 1e-12 relative, df from 2 to 2e6, P down to 1e-300."""
    rng = np.random.default_rng(16)
    q = rng.uniform(0.05, 39.99, sr.BATCH)
    df = np.exp(rng.uniform(np.log(2.0), np.log(2e6), sr.BATCH))
    got = sr.sf(q, 250, df)
    ref = sr._sf_direct(q, 250.0, df)
    normal = ref >= 2.3e-308
    np.testing.assert_allclose(got[normal], ref[normal], rtol=1e-12, atol=0)
    np.testing.assert_allclose(got[~normal], ref[~normal], rtol=0, atol=1e-310)


def test_many_df_batch_matches_r_ptukey_within_its_accuracy():
    """A Games–Howell-sized batch at k = 250 (tests/reference/games_howell_many_df.R) against R's
    ptukey, within R's own accuracy there: measured largest differences 1.1e-6 (df 30 ... 100),
    2.9e-6 (100 ... 1000) and 3.8e-6 (1000 ... 20,000), all in the body (P ≈ 0.93 ... 0.97, where
    R's upper tail is 1 − its cdf); each value's own quadrature differs from R by the same amounts
    and agrees with mpmath to 1e-10 (tests above), so the differences are R's."""
    g = pd.read_csv(GOLDEN / "ptukey_many_df.csv")
    assert len(g) >= sr.BATCH
    ours = sr.sf(g.q.to_numpy(), 250, g.df.to_numpy())
    atol = np.where(g.df < 100, 2e-6, 5e-6)
    tol = 1e-9 * g.p_upper.to_numpy() + atol
    bad = g[np.abs(ours - g.p_upper) > tol]
    assert bad.empty, bad.assign(ours=ours[bad.index])


def test_mpmath_points_inside_a_many_df_batch_keep_their_accuracy():
    """The mpmath reference points at k = 250 (finite df ≥ 2) evaluated inside a batch of BATCH
    values at other df: 1e-10 relative, as outside."""
    g = pd.read_csv(GOLDEN / "mpmath_large_k.csv", dtype={"p_upper": str})
    g = g[(g.k == 250) & (g.df != "Inf")]
    rng = np.random.default_rng(4)
    q = np.concatenate([g.q.to_numpy(dtype=float), rng.uniform(0.5, 12.0, sr.BATCH)])
    df = np.concatenate(
        [g.df.astype(float).to_numpy(), np.exp(rng.uniform(np.log(2.0), np.log(1e5), sr.BATCH))]
    )
    got = sr.sf(q, 250, df)[: len(g)]
    np.testing.assert_allclose(got, g.p_upper.astype(float), rtol=1e-10)


def test_a_one_df_family_entirely_inside_the_table():
    """Every value from the one-df table (none left for the direct quadrature: the case of a Tukey
    family of a national study with no pair beyond w = 40, which once crashed): 1e-12 relative."""
    q = np.random.default_rng(7).uniform(0.01, 39.9, sr.BATCH)
    np.testing.assert_allclose(
        sr.sf(q, 250, 1000.0), sr._sf_direct(q, 250.0, np.full(len(q), 1000.0)), rtol=1e-12
    )
