"""Multiple imputation by chained equations with PMM (:mod:`cocapp.stats.imputation`).

Checked against R mice 3.15 (tests/reference/imputation.R) by distribution: on the same data and the same
predictor rule both give pooled estimates whose difference lies within the Monte-Carlo error of two
independent sets of m = 40 imputations, |Q̄_py − Q̄_R| ≤ 4 √(B_py/m + B_R/m) (B: between-imputation
variance; 4 SD: a false failure has probability ~6e-5 per quantity, 42 quantities). Byte-for-byte
reproducibility, valid responses and the δ adjustment are checked directly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cocapp.instruments import load_instruments
from cocapp.stats.imputation import impute_group, pmm_chained

REF = Path(__file__).parent / "reference"
SITES = ["Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence"]
COVARIATES = {"age": {"type": "numeric"}, "gender": {"type": "categorical"}}


@pytest.fixture(scope="module")
def data():
    d = pd.read_csv(REF / "inputs" / "imputation_items.csv", dtype={"id": str})
    items = d.drop(columns=["age", "gender"])
    resp = d[["id", "site", "age", "gender"]]
    return items, resp, load_instruments(["RSA"])


def _impute(data, m=40, iterations=10, seed=2026):
    items, resp, inst = data
    return impute_group("cc", items, resp, inst, SITES, COVARIATES, m=m, iterations=iterations, seed=seed)


@pytest.fixture(scope="module")
def imputed(data):
    return _impute(data)


def test_pooled_estimates_agree_with_mice_pmm_within_monte_carlo_error(imputed):
    gold = pd.read_csv(REF / "golden" / "imputation" / "estimates.csv").set_index("quantity")
    keep = imputed.imputed.any(axis=1) | ~np.isnan(imputed.completed[0]).all(axis=1)
    values = imputed.completed[:, keep, :]  # (m, n, 36)
    sites = imputed.items["site"].to_numpy()[keep]
    est = {}
    for j, c in enumerate(imputed.columns):
        est[f"item_mean:{c}"] = values[:, :, j].mean(axis=1)
    person = values.mean(axis=2)
    for s in SITES:
        est[f"site_mean:{s}"] = person[:, sites == s].mean(axis=1)
    assert set(est) == set(gold.index)
    m = imputed.m
    for q, per_imp in est.items():
        g = gold.loc[q]
        mc_sd = np.sqrt(per_imp.var(ddof=1) / m + g["b"] / g["m"])
        # + 1e-12: items without a missing answer have B = 0 and differ only by summation order
        assert abs(per_imp.mean() - g["estimate"]) <= 4 * mc_sd + 1e-12, (
            q,
            per_imp.mean(),
            g["estimate"],
            mc_sd,
        )


def test_imputed_values_are_valid_answers_and_observed_values_untouched(data, imputed):
    items = data[0]
    raw = items[imputed.columns].to_numpy(dtype=float)
    valid = (raw >= 1) & (raw <= 5)
    for comp in imputed.completed:
        np.testing.assert_array_equal(comp[valid], raw[valid])
        assert set(np.unique(comp[imputed.imputed])) <= {1.0, 2.0, 3.0, 4.0, 5.0}
        assert not np.isnan(comp[imputed.imputed]).any()
    # every invalid cell (8, 9, empty) of a respondent with some RSA answer is imputed
    np.testing.assert_array_equal(imputed.imputed, ~valid & valid.any(axis=1)[:, None])


def test_same_seed_same_bytes_other_seed_other_imputations(data):
    a = _impute(data, m=3, iterations=3, seed=5)
    b = _impute(data, m=3, iterations=3, seed=5)
    c = _impute(data, m=3, iterations=3, seed=6)
    assert a.completed.tobytes() == b.completed.tobytes()
    pd.testing.assert_frame_equal(a.diagnostics, b.diagnostics)
    assert a.completed.tobytes() != c.completed.tobytes()


def test_diagnostics_and_predictors_are_tidy(imputed):
    diag = imputed.diagnostics
    n_items = int(imputed.imputed.any(axis=0).sum())
    assert len(diag) == imputed.m * 10 * n_items
    assert diag["chain"].between(1, imputed.m).all() and diag["iteration"].between(1, 10).all()
    last = diag[diag["iteration"] == 10]
    assert last["mean"].between(1, 5).all()
    pred = imputed.predictors
    assert {"site[Burgundy]", "age", "age[missing]"} <= set(pred["predictor"])
    assert not (pred["item"] == pred["predictor"]).any()


def test_respondent_without_answers_is_not_imputed(data):
    items, resp, inst = data
    items = items.copy()
    items.loc[0, [c for c in items.columns if c.startswith("rsa_")]] = 9
    res = impute_group("cc", items, resp, inst, SITES, COVARIATES, m=2, iterations=2, seed=1)
    assert np.isnan(res.completed[:, 0, :]).all()
    assert not res.imputed[0].any()


def test_delta_shifts_imputed_answers_on_the_keyed_metric_and_clips(imputed):
    rsa = load_instruments(["RSA"])["RSA"]
    base = imputed.dataset(0)
    shifted = imputed.dataset(0, delta=-1.0)
    only = imputed.dataset(0, delta=-1.0, sites=["Artois"])
    for j, c in enumerate(imputed.columns):
        imp = imputed.imputed[:, j]
        rev = (j + 1) in rsa.reverse_keyed
        expect = np.clip(base[c].to_numpy()[imp] + (1.0 if rev else -1.0), 1, 5)
        np.testing.assert_array_equal(shifted[c].to_numpy()[imp], expect)
        np.testing.assert_array_equal(shifted[c].to_numpy()[~imp], base[c].to_numpy()[~imp])
        other = imp & (imputed.items["site"] != "Artois").to_numpy()
        np.testing.assert_array_equal(only[c].to_numpy()[other], base[c].to_numpy()[other])


def test_pmm_recovers_an_exact_linear_relation():
    # y = 2x exactly: sigma* = 0, the posterior draw is the least-squares fit and the single nearest donor
    # (donors = 1) has the same x, so every missing y is 2x.
    rng = np.random.default_rng(0)
    x = np.repeat(np.arange(1.0, 6.0), 20)
    y = 2 * x
    miss = rng.random(len(x)) < 0.3
    values = np.column_stack([x, np.where(miss, np.nan, y)])  # one instrument of two items, x complete
    none = np.array([], dtype=np.intp)
    out, mean, _ = pmm_chained(
        values,
        np.zeros((len(x), 0)),
        [none, np.array([0])],
        [np.array([0, 1])],
        [none, none],
        m=3,
        iterations=2,
        rng=np.random.default_rng(1),
        donors=1,
    )
    np.testing.assert_array_equal(out[:, miss, 1], np.broadcast_to(y[miss], (3, miss.sum())))
    assert mean.shape == (3, 2, 2) and np.isnan(mean[:, :, 0]).all()
