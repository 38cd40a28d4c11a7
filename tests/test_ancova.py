"""ANCOVA: R goldens (car::Anova type 3 with contr.sum, emmeans, pairs(adjust = ...), anova(m0, m1);
tests/reference/comparisons.R), pingouin cross-check, identities and edge cases.

Tukey p-values and CI limits of the adjusted-mean comparisons use the studentized range, which R's
ptukey/qtukey compute to about 3e-9 / 4 decimals (see tests/test_posthoc.py and
tests/test_studentized_range.py): compared at 2e-9 (p) and 1e-7 (CI) absolute. Everything else at 1e-9
relative.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cocapp.stats.ancova import ancova
from cocapp.stats.anova import anova_frame

REF = Path(__file__).parent / "reference"
GOLDEN = REF / "golden" / "comparisons"
SITES = ["Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence"]
MODELS = {
    "demographic": {
        "age": "numeric",
        "gender": "categorical",
        "ethnicity": "categorical",
        "relationship_status": "categorical",
    },
    "service": {"years_in_services": "numeric"},
}
OUTCOMES = [
    ("RSA", "life_goals"),
    ("RSA", "total"),
    ("STAR-P", "total"),
    ("ES", "self_esteem_self_efficacy"),
    ("ES", "total"),
]


def model_data(instrument: str, scale: str) -> pd.DataFrame:
    scores = pd.read_csv(REF / "inputs" / "comparisons_scores.csv")
    resp = pd.read_csv(REF / "inputs" / "comparisons_respondents.csv", keep_default_na=False, na_values=[""])
    d = scores[(scores.instrument == instrument) & (scores.scale == scale)]
    return d.merge(resp.drop(columns=["site", "row"]), on="id", how="left", validate="1:1")


_cache: dict = {}


def fitted(instrument: str, scale: str, model: str, posthoc: str = "tukey", method: str = "auto"):
    key = (instrument, scale, model, posthoc, method)
    if key not in _cache:
        _cache[key] = ancova(
            model_data(instrument, scale), MODELS[model], SITES, posthoc=posthoc, method=method
        )
    return _cache[key]


def golden(name: str, instrument: str, scale: str, model: str) -> pd.DataFrame:
    g = pd.read_csv(GOLDEN / f"{name}.csv", keep_default_na=False, na_values=[""])
    return g[(g.instrument == instrument) & (g.scale == scale) & (g.model == model)]


CASES = [(i, s, m) for i, s in OUTCOMES for m in MODELS]
# both least-squares routes against R: the dense design (what "auto" picks here) and the per-site
# QR factors used at national size (cocapp.stats.blockls)
METHODS = pytest.mark.parametrize("method", ["dense", "sufficient"])


@METHODS
@pytest.mark.parametrize(("instrument", "scale", "model"), CASES)
def test_type3_table_matches_car_anova(instrument, scale, model, method):
    res = fitted(instrument, scale, model, method=method)
    g = golden("ancova", instrument, scale, model)
    m = g.merge(res.terms, on="term", suffixes=("_r", ""), validate="1:1")
    assert list(res.terms.term) == ["(Intercept)", "site", *MODELS[model], "Residuals"]
    assert len(m) == len(g) == len(res.terms)
    for c in ["ss", "df", "F", "p", "partial_eta2", "n"]:
        np.testing.assert_allclose(m[c].astype(float), m[c + "_r"].astype(float), rtol=1e-9, err_msg=c)


@METHODS
@pytest.mark.parametrize(("instrument", "scale", "model"), CASES)
def test_adjusted_means_match_emmeans(instrument, scale, model, method):
    res = fitted(instrument, scale, model, method=method)
    g = golden("ancova_means", instrument, scale, model)
    m = g.merge(res.means, on="site", suffixes=("_r", ""), validate="1:1")
    assert len(m) == len(g)
    for c in ["adj_mean", "se", "df", "ci_low", "ci_high"]:
        np.testing.assert_allclose(m[c], m[c + "_r"], rtol=1e-9, err_msg=c)
    assert list(res.means.site) == SITES


@pytest.mark.parametrize("route", ["dense", "sufficient"])
@pytest.mark.parametrize("method", ["tukey", "bonferroni", "sidak"])
@pytest.mark.parametrize(("instrument", "scale", "model"), CASES)
def test_pairs_of_adjusted_means_match_emmeans(instrument, scale, model, method, route):
    res = fitted(instrument, scale, model, method, route)
    g = golden("ancova_posthoc", instrument, scale, model)
    g = g[g.method == method].drop(columns="method")
    m = g.merge(res.posthoc, on=["site_a", "site_b"], suffixes=("_r", ""), validate="1:1")
    assert len(m) == len(g) and (m.method == method).all()
    for c in ["diff", "se", "df", "t"]:
        np.testing.assert_allclose(m[c], m[c + "_r"], rtol=1e-9, err_msg=c)
    if method == "tukey":
        np.testing.assert_allclose(m["p_adj"], m["p_adj_r"], rtol=0, atol=2e-9)
        np.testing.assert_allclose(m[["ci_low", "ci_high"]], m[["ci_low_r", "ci_high_r"]], rtol=0, atol=1e-7)
    else:
        np.testing.assert_allclose(m["p_adj"], m["p_adj_r"], rtol=1e-9)
        np.testing.assert_allclose(m[["ci_low", "ci_high"]], m[["ci_low_r", "ci_high_r"]], rtol=1e-9)


@METHODS
@pytest.mark.parametrize(("instrument", "scale", "model"), CASES)
def test_homogeneity_of_slopes_matches_r_anova(instrument, scale, model, method):
    res = fitted(instrument, scale, model, method=method)
    g = golden("ancova_slopes", instrument, scale, model)
    m = g.merge(res.slopes, on="covariate", suffixes=("_r", ""), validate="1:1")
    assert len(m) == len(g) == len(MODELS[model])
    for c in ["df1", "df2", "F", "p"]:
        np.testing.assert_allclose(m[c], m[c + "_r"], rtol=1e-9, err_msg=c)


# -- the hand-built design is patsy's, so the fit is statsmodels' formula fit ------------------------------
def formula_fit(sample, interaction=None):
    """The statsmodels formula route the design replaces (``ols(formula)`` + ``anova_lm(typ=3)``)."""
    import warnings

    import statsmodels.formula.api as smf

    term = {c: f"C({sample.internal[c]}, Sum)" if sample.cats[c] else sample.internal[c] for c in sample.used}
    formula = "y ~ " + " + ".join(["C(site, Sum)", *(term[c] for c in sample.used)])
    if interaction is not None:
        formula += f" + C(site, Sum):{term[interaction]}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return smf.ols(formula, data=sample.frame).fit()


@pytest.mark.parametrize("model", list(MODELS))
def test_design_is_patsys_matrix_bit_for_bit(model):
    """Same columns, order (patsy puts terms without numeric factors first), names and values — for the
    model and every site × covariate model — hence the same fit, to the last bit."""
    from cocapp.stats import ancova as anc

    covs = MODELS[model]
    cats = {c: k == "categorical" for c, k in covs.items()}
    sample = anc._model_sample(model_data("RSA", "total"), list(covs), cats, SITES, "score", "site")
    for interaction in [None, *sample.used]:
        ref = formula_fit(sample, interaction)
        design = anc._design(sample, interaction=interaction)
        assert design.names == list(ref.model.exog_names)
        assert np.array_equal(design.X, ref.model.exog)
        ours = anc._fit(sample.frame["y"].to_numpy(), design)
        assert np.array_equal(ours.params, np.asarray(ref.params)) and ours.ssr == ref.ssr


@pytest.mark.parametrize("model", list(MODELS))
def test_reference_grid_design_is_patsys_bit_for_bit(model):
    """The reference grid of the adjusted means, coded directly from level indices (no labels), has
    the design matrix patsy builds for the grid of labels from the formula's design info, to the bit."""
    import patsy

    from cocapp.stats import ancova as anc

    covs = MODELS[model]
    cats = {c: k == "categorical" for c, k in covs.items()}
    sample = anc._model_sample(
        model_data("ES", "self_esteem_self_efficacy"), list(covs), cats, SITES, "score", "site"
    )
    factor_covs = [c for c in sample.used if cats[c]]
    levels = [list(sample.frame[sample.internal[c]].cat.categories) for c in factor_covs]
    combos = list(product(*levels))
    grid = {"site": np.repeat(sample.present, len(combos))}
    for i, c in enumerate(factor_covs):
        grid[sample.internal[c]] = [combo[i] for _ in sample.present for combo in combos]
    for c in sample.used:
        if not cats[c]:
            grid[sample.internal[c]] = np.full(
                len(grid["site"]), float(sample.frame[sample.internal[c]].mean())
            )
    info = formula_fit(sample).model.data.orig_exog.design_info
    (ref,) = patsy.build_design_matrices([info], pd.DataFrame(grid))
    ref = np.asarray(ref).reshape(len(sample.present), len(combos), -1)
    np.testing.assert_array_equal(anc._emm_weights(sample), ref.mean(axis=1))


def test_type3_table_and_means_equal_the_formula_route_exactly():
    from statsmodels.stats.anova import anova_lm

    from cocapp.stats import ancova as anc

    covs = MODELS["demographic"]
    res = fitted("STAR-P", "total", "demographic")
    cats = {c: k == "categorical" for c, k in covs.items()}
    sample = anc._model_sample(model_data("STAR-P", "total"), list(covs), cats, SITES, "score", "site")
    ref = anova_lm(formula_fit(sample), typ=3)
    names = {"Intercept": "(Intercept)", "C(site, Sum)": "site", "Residual": "Residuals"}
    names |= {(f"C({sample.internal[c]}, Sum)" if cats[c] else sample.internal[c]): c for c in covs}
    ref.index = [names[i] for i in ref.index]
    ours = res.terms.set_index("term").loc[ref.index]
    assert (ours["ss"].to_numpy() == ref["sum_sq"].to_numpy()).all()
    assert (ours["F"].to_numpy()[:-1] == ref["F"].to_numpy()[:-1]).all()
    assert (ours["p"].to_numpy()[:-1] == ref["PR(>F)"].to_numpy()[:-1]).all()


def test_empty_site_in_fixture_is_left_out_and_named():
    res = fitted("ES", "self_esteem_self_efficacy", "service")
    prov = res.means[res.means.site == "Provence"].iloc[0]
    assert np.isnan(prov.adj_mean) and "Provence" in prov.note
    assert res.terms.loc[res.terms.term == "site", "df"].iloc[0] == 4.0  # five sites in the model
    pairs = res.posthoc[(res.posthoc.site_b == "Provence")]
    assert pairs.p_adj.isna().all() and pairs.note.str.contains("Provence").all()


def test_pingouin_ancova_agrees_for_a_single_numeric_covariate():
    """pingouin.ancova uses Type II SS; with one numeric covariate and no interaction Type II = Type III."""
    pg = pytest.importorskip("pingouin")
    d = model_data("STAR-P", "total").dropna(subset=["score", "years_in_services"])
    ref = pg.ancova(data=d, dv="score", covar="years_in_services", between="site").set_index("Source")
    res = fitted("STAR-P", "total", "service").terms.set_index("term")
    for term, src in [("site", "site"), ("years_in_services", "years_in_services")]:
        assert res.loc[term, "F"] == pytest.approx(ref.loc[src, "F"], rel=1e-9)
        assert res.loc[term, "ss"] == pytest.approx(ref.loc[src, "SS"], rel=1e-9)


def test_no_covariates_reduces_to_one_way_anova():
    """Site term F = one-way ANOVA F, adjusted means = raw means (the one-way ANOVA is checked against R)."""
    d = model_data("RSA", "total")
    res = ancova(d, {}, SITES)
    one = anova_frame(d, SITES)
    site = res.terms.set_index("term").loc["site"]
    assert site["F"] == pytest.approx(one["F"], rel=1e-9)
    raw = d.dropna(subset=["score"]).groupby("site")["score"].mean().reindex(SITES)
    np.testing.assert_allclose(res.means.adj_mean, raw, rtol=1e-12)


# -- edge cases -----------------------------------------------------------------------------------
def small_data(seed: int = 7, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = pd.DataFrame(
        {
            "site": rng.choice(["A", "B", "C"], n),
            "age": rng.normal(40, 9, n),
            "sex": rng.choice(["F", "M"], n),
        }
    )
    d["score"] = rng.normal(0, 1, n) + 0.03 * d.age
    return d


def test_covariate_constant_in_sample_is_dropped_with_note():
    d = small_data()
    d["site_type"] = "urban"
    res = ancova(d, {"age": "numeric", "site_type": "categorical"}, ["A", "B", "C"])
    without = ancova(d, {"age": "numeric"}, ["A", "B", "C"])
    row = res.terms.set_index("term").loc["site_type"]
    assert np.isnan(row["F"]) and "constant" in row["note"]
    site = res.terms.set_index("term").loc["site"]
    assert site["F"] == pytest.approx(without.terms.set_index("term").loc["site", "F"], rel=1e-12)
    assert "constant" in res.slopes.set_index("covariate").loc["site_type", "note"]


def test_collinear_covariates_give_nan_and_name_the_aliased_column():
    d = small_data()
    d["age_months"] = d["age"] * 12
    res = ancova(d, {"age": "numeric", "age_months": "numeric"}, ["A", "B", "C"])
    assert res.terms[["ss", "F", "p"]].isna().all().all()
    assert res.terms.note.str.contains("collinear").all()
    assert "age_months" in res.terms.note.iloc[0]
    assert res.means.adj_mean.isna().all()


def test_site_with_one_respondent_is_kept():
    d = small_data()
    d = pd.concat([d, pd.DataFrame({"site": ["D"], "age": [50.0], "sex": ["F"], "score": [2.0]})])
    res = ancova(d, {"age": "numeric"}, ["A", "B", "C", "D"])
    assert res.terms.set_index("term").loc["site", "df"] == 3.0
    assert np.isfinite(res.means.set_index("site").loc["D", "adj_mean"])


def test_site_without_complete_cases_is_left_out():
    d = small_data()
    res = ancova(d, {"age": "numeric"}, ["A", "B", "C", "Z"])
    assert "Z" in res.terms.note.iloc[0]
    assert res.terms.set_index("term").loc["site", "df"] == 2.0
    assert np.isnan(res.means.set_index("site").loc["Z", "adj_mean"])


def test_constant_outcome_gives_nan_with_note():
    d = small_data()
    d["score"] = 3.0
    res = ancova(d, {"age": "numeric"}, ["A", "B", "C"])
    assert res.terms.F.isna().all() and res.terms.note.str.contains("constant").all()


def test_fewer_than_two_sites_gives_nan_with_note():
    d = small_data()
    d["site"] = "A"
    res = ancova(d, {"age": "numeric"}, ["A", "B", "C"])
    assert res.terms.F.isna().all() and res.terms.note.str.contains("fewer than two sites").all()


def test_listwise_n_and_factor_labels_as_text():
    d = small_data()
    d.loc[:4, "age"] = np.nan
    d["sex"] = d["sex"].map({"F": 1, "M": 2})  # numeric codes are treated as labels
    res = ancova(d, {"age": "numeric", "sex": "categorical"}, ["A", "B", "C"])
    assert (res.terms.n == len(d) - 5).all()
    assert res.terms.set_index("term").loc["sex", "df"] == 1.0


def test_unknown_post_hoc_family_rejected():
    with pytest.raises(ValueError, match="post_hoc"):
        ancova(small_data(), {"age": "numeric"}, ["A", "B", "C"], posthoc="scheffe")


# -- the per-site QR route (national size) gives the dense route's tables on awkward samples ----------------
def _edge_samples():
    d = small_data(n=90)
    d["eth"] = np.random.default_rng(3).choice(["a", "b", "c"], len(d))
    d.loc[d.site == "A", "eth"] = "a"  # site x level cells empty: slopes df reduced to the estimable part
    one = pd.DataFrame({"site": ["D"], "age": [50.0], "sex": ["F"], "score": [2.0], "eth": ["b"]})
    collinear = small_data().assign(age_months=lambda x: x.age * 12)
    return {
        "empty cells": (d, {"age": "numeric", "sex": "categorical", "eth": "categorical"}, ["A", "B", "C"]),
        "one respondent": (pd.concat([d, one]), {"age": "numeric", "eth": "categorical"}, list("ABCD")),
        "absent site": (d, {"age": "numeric", "sex": "categorical"}, ["A", "B", "C", "Z"]),
        "constant covariate": (d.assign(k="x"), {"age": "numeric", "k": "categorical"}, ["A", "B", "C"]),
        "collinear": (collinear, {"age": "numeric", "age_months": "numeric"}, ["A", "B", "C"]),
        "no covariates": (d, {}, ["A", "B", "C"]),
    }


@pytest.mark.parametrize("case", list(_edge_samples()))
@pytest.mark.parametrize("posthoc", ["tukey", "sidak"])
def test_sufficient_route_equals_dense_route(case, posthoc):
    d, covs, levels = _edge_samples()[case]
    dense = ancova(d, covs, levels, posthoc=posthoc, method="dense")
    fast = ancova(d, covs, levels, posthoc=posthoc, method="sufficient")
    for table in ("terms", "means", "posthoc", "slopes"):
        a, b = getattr(dense, table), getattr(fast, table)
        assert list(a.columns) == list(b.columns) and len(a) == len(b), table
        for c in a.columns:
            if a[c].dtype.kind == "f":
                np.testing.assert_allclose(b[c], a[c], rtol=1e-9, atol=1e-12, err_msg=f"{table}.{c}")
            else:
                assert a[c].astype(str).tolist() == b[c].astype(str).tolist(), f"{table}.{c}"


def test_auto_route_is_dense_for_small_samples_and_sufficient_for_many_sites():
    from cocapp.stats import ancova as anc

    d = small_data()
    sample = anc._model_sample(d, ["age"], {"age": False}, ["A", "B", "C"], "score", "site")
    assert anc._method(sample, "auto") == "dense"
    rng = np.random.default_rng(1)
    n, k = 20_000, 60
    big = pd.DataFrame({"site": rng.integers(0, k, n).astype(str), "age": rng.normal(40, 9, n)})
    big["score"] = rng.normal(0, 1, n)
    levels = sorted(big.site.unique())
    sample = anc._model_sample(big, ["age"], {"age": False}, levels, "score", "site")
    assert anc._method(sample, "auto") == "sufficient"
    with pytest.raises(ValueError, match="method"):
        ancova(d, {"age": "numeric"}, ["A", "B", "C"], method="normal")


# -- SiteModel: prepared once, fitted to many outcomes; ancova()'s numbers to the bit ---------------------
def _ancova_arrays(d, covs, levels, route, weights):
    """What site_estimates returns, read off ancova()'s tables (statsmodels OLS and f_test on the dense
    route): adjusted means and SEs, pair differences and SEs, residual df, site F and df."""
    res = ancova(d, covs, levels, method=route, emm_weights=weights, slopes=False)
    site = res.terms.set_index("term").loc["site"]
    return {
        "adj_mean": res.means.adj_mean.to_numpy(),
        "se": res.means.se.to_numpy(),
        "df": res.means.df.iloc[0],
        "diff": res.posthoc["diff"].to_numpy(),
        "pair_se": res.posthoc.se.to_numpy(),
        "F": site["F"],
        "df1": site["df"],
    }


@pytest.mark.parametrize("weights", ["equal", "proportional"])
@pytest.mark.parametrize("route", ["dense", "sufficient"])
@pytest.mark.parametrize("case", list(_edge_samples()))
def test_site_model_fitted_to_many_outcomes_equals_ancova_bit_for_bit(case, route, weights):
    """One SiteModel, prepared on the first outcome, fitted to four outcomes with the same missing cells
    (as the completed datasets of an imputation): each result is exactly ancova()'s for that outcome."""
    from cocapp.stats.ancova import SiteModel

    d, covs, levels = _edge_samples()[case]
    d = d.reset_index(drop=True)
    d.loc[[3, 11], "score"] = np.nan
    rng = np.random.default_rng(5)
    model = SiteModel(d, covs, levels, method=route, emm_weights=weights)
    for _ in range(4):
        y = d["score"] + np.where(d["score"].notna(), rng.normal(0, 0.5, len(d)), np.nan)
        est = model.estimates(y)
        want = _ancova_arrays(d.assign(score=y), covs, levels, route, weights)
        for name, value in want.items():
            np.testing.assert_array_equal(getattr(est, name), value, err_msg=f"{case} {name}")


def test_site_model_rejects_an_outcome_missing_elsewhere():
    from cocapp.stats.ancova import SiteModel

    d = small_data()
    model = SiteModel(d, {"age": "numeric"}, ["A", "B", "C"])
    with pytest.raises(ValueError, match="missing for other rows"):
        model.estimates(d["score"].where(d.index != 5))
