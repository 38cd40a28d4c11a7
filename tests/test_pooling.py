"""Pooling of multiply imputed analyses against R mice 3.15 / mitml (tests/reference/pooling.R).

The imputed datasets (inputs/pooling_imputed.csv, m = 5, written by R mice) are analysed with cocapp's
own statistics (:mod:`cocapp.stats.anova`, :mod:`cocapp.stats.posthoc`, :mod:`cocapp.stats.ancova`,
:mod:`cocapp.stats.correlation`) and pooled with :mod:`cocapp.stats.pooling`; R fitted ``lm`` models on the
same data and pooled them with ``mice::pool``, ``D1``, ``D2``, ``pool.scalar`` and ``pool.r.squared``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cocapp.stats.ancova import ancova
from cocapp.stats.anova import oneway_anova, site_codes, summarise_groups
from cocapp.stats.correlation import pearson
from cocapp.stats.mi import _pool_pairs
from cocapp.stats.pooling import (
    barnard_rubin_df,
    d1,
    d2,
    emm_contrasts,
    oneway_contrasts,
    pool_correlation,
    rubin,
)
from cocapp.stats.posthoc import tukey_kramer

REF = Path(__file__).parent / "reference"
GOLD = REF / "golden" / "pooling"
SITES = ["Artois", "Burgundy", "Champagne"]
RTOL = 1e-9


def close(actual, expected, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=rtol)


@pytest.fixture(scope="module")
def imputations():
    long = pd.read_csv(REF / "inputs" / "pooling_imputed.csv")
    return [d.reset_index(drop=True) for i, d in long.groupby(".imp") if i > 0]


@pytest.fixture(scope="module")
def oneway(imputations):
    out = []
    for d in imputations:
        y = d["y"].to_numpy(dtype=float)
        codes = site_codes(d["site"], SITES)
        s = summarise_groups(y, codes, SITES)
        out.append((s, oneway_anova(y, codes, SITES, 0.05), tukey_kramer(s)))
    return out


@pytest.fixture(scope="module")
def adjusted(imputations):
    return [
        ancova(d.rename(columns={"y": "score"}), {"x": "numeric", "g": "categorical"}, SITES)
        for d in imputations
    ]


def test_site_means_match_mice_pool(oneway):
    gold = pd.read_csv(GOLD / "site_means.csv")
    q = np.array([s.mean for s, _, _ in oneway])
    u = np.array([s.var / s.n for s, _, _ in oneway])
    n = oneway[0][0].n
    res = rubin(q, u, dfcom=n - 1)
    for col in ("estimate", "ubar", "b", "t", "df", "riv", "lambda", "fmi"):
        close(res[col], gold[col])


def test_site_differences_match_mice_pool(oneway):
    gold = pd.read_csv(GOLD / "site_diffs.csv")
    q = np.array([t["diff"].to_numpy() for _, _, t in oneway])
    u = np.array([t["se"].to_numpy() ** 2 for _, _, t in oneway])
    res = rubin(q, u, dfcom=oneway[0][1]["df2"])
    assert list(oneway[0][2]["site_a"]) == list(gold["site_a"])
    for col in ("estimate", "ubar", "b", "t", "df", "riv", "lambda", "fmi"):
        close(res[col], gold[col])


def test_pooled_tukey_p_matches_r_ptukey(oneway):
    """The pooled pairs' p_adj (cocapp.stats.mi._pool_pairs: studentized range on the pooled |t|·√2 with
    the Barnard–Rubin df) against R's ptukey on mice's pooled estimates. Tolerance: 1e-9 relative plus
    1e-8 absolute, R's own ptukey accuracy at these df (80-140; tests/test_studentized_range.py measures
    R's absolute error at about 3e-9 for df 30-1000)."""
    gold = pd.read_csv(GOLD / "site_diffs.csv")
    q = np.array([t["diff"].to_numpy() for _, _, t in oneway])
    u = np.array([t["se"].to_numpy() ** 2 for _, _, t in oneway])
    a, b = np.triu_indices(len(SITES), k=1)
    rows = _pool_pairs({}, "oneway", SITES, a, b, q, u, oneway[0][1]["df2"], len(oneway), 0.05, 0.95)
    got = np.array([r["p_adj"] for r in rows])
    assert [(r["site_a"], r["site_b"]) for r in rows] == list(
        zip(gold["site_a"], gold["site_b"], strict=True)
    )
    np.testing.assert_allclose(got, gold["p_tukey"], rtol=1e-9, atol=1e-8)
    close([r["df"] for r in rows], gold["df"])


def _check_omnibus(res, gold_row):
    close(
        [res["F"], res["df1"], res["df2"], res["p"], res["riv"]],
        gold_row[["F", "df1", "df2", "p", "riv"]].to_numpy(),
    )


def test_oneway_d1_d2_match_mice(oneway):
    gold = pd.read_csv(GOLD / "omnibus.csv").set_index(["analysis", "method"])
    qs, us = zip(*[oneway_contrasts(s.mean, s.n, a["ms_within"]) for s, a, _ in oneway], strict=True)
    _check_omnibus(d1(np.array(qs), np.array(us), dfcom=oneway[0][1]["df2"]), gold.loc[("oneway", "D1")])
    chi2 = [a["df1"] * a["F"] for _, a, _ in oneway]
    _check_omnibus(d2(chi2, oneway[0][1]["df1"]), gold.loc[("oneway", "D2")])


def test_ancova_d1_d2_and_adjusted_means_match_mice(adjusted):
    gold = pd.read_csv(GOLD / "omnibus.csv").set_index(["analysis", "method"])
    qs, us = zip(
        *[emm_contrasts(r.means["adj_mean"], r.means["se"], r.posthoc["se"]) for r in adjusted], strict=True
    )
    resid_df = float(adjusted[0].means["df"].iloc[0])
    _check_omnibus(d1(np.array(qs), np.array(us), dfcom=resid_df), gold.loc[("ancova", "D1")])
    site = [r.terms.set_index("term").loc["site"] for r in adjusted]
    _check_omnibus(d2([s["df"] * s["F"] for s in site], int(site[0]["df"])), gold.loc[("ancova", "D2")])
    means = pd.read_csv(GOLD / "ancova_means.csv")
    res = rubin(
        np.array([r.means["adj_mean"] for r in adjusted]),
        np.array([r.means["se"] ** 2 for r in adjusted]),
        dfcom=resid_df,
    )
    for col in ("estimate", "ubar", "b", "t", "df", "riv", "fmi"):
        close(res[col], means[col])


def test_correlation_fisher_z_matches_pool_r_squared(imputations):
    gold = pd.read_csv(GOLD / "correlation.csv").iloc[0]
    cors = [pearson(d["y"], d["z"]) for d in imputations]
    res = pool_correlation([c["r"] for c in cors], [c["n"] for c in cors])
    close(
        [res["z"], res["se_z"] ** 2, res["df"], res["riv"], res["fmi"]],
        [gold["z"], gold["t"], gold["df"], gold["riv"], gold["fmi"]],
    )
    close(res["r"] ** 2, gold["r2_est"])
    # pool.r.squared's interval is z ± 1.96 √T transformed back (and squared)
    close(np.tanh(res["z"] - 1.96 * res["se_z"]) ** 2, gold["r2_lo"])
    close(np.tanh(res["z"] + 1.96 * res["se_z"]) ** 2, gold["r2_hi"])


def test_relative_efficiency_and_hand_computed_rubin():
    # m = 3 by hand: Q = 1, 2, 3 (B = 1), U = 0.5 each; T = 0.5 + 4/3; large-sample df = 2 / λ².
    res = rubin([1.0, 2.0, 3.0], [0.5, 0.5, 0.5])
    t = 0.5 + 4.0 / 3.0
    lam = (4.0 / 3.0) / t
    close([res["estimate"], res["b"], res["t"], res["df"]], [2.0, 1.0, t, 2.0 / lam**2])
    r = (4.0 / 3.0) / 0.5
    fmi = (r + 2.0 / (2.0 / lam**2 + 3.0)) / (r + 1.0)
    close([res["fmi"], res["re"]], [fmi, 1.0 / (1.0 + fmi / 3.0)])
    close(res["ci_high"] - res["estimate"], stats.t.ppf(0.975, 2.0 / lam**2) * np.sqrt(t))


def test_barnard_rubin_floor_and_infinite_dfcom():
    # no between-imputation variance: lambda floored at 1e-4 (mice:::barnard.rubin), so with an
    # infinite complete-data df the old df (m - 1) / lambda^2 = 4 / 1e-8; 1e-12 relative allows for
    # the floating-point rounding of 1e-4 squared
    assert barnard_rubin_df(5, 0.0, 1.0) == pytest.approx(4 / 1e-8, rel=1e-12)
    dfobs = 11 / 13 * 10 * (1 - 1e-4)
    assert barnard_rubin_df(5, 0.0, 1.0, 10) == pytest.approx(4e8 * dfobs / (4e8 + dfobs), rel=1e-12)
