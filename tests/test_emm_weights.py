"""Adjusted-means weighting of categorical covariate levels (issue 14): ``equal`` (emmeans default, the
unchanged behaviour) and ``proportional`` (emmeans ``weights = "proportional"``) against R goldens
(tests/reference/emm_weights.R) at 1e-9 relative; the fitted model stated exactly in ``ancova.csv``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cocapp.stats.adjusted import OUTPUT_COLUMNS
from cocapp.stats.ancova import ancova, model_formula

REF = Path(__file__).parent / "reference"
GOLDEN = REF / "golden" / "emm_weights"
SITES = ["Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence"]
MODELS = {
    "demographic": {"age": "numeric", "gender": "categorical", "ethnicity": "categorical",
                    "relationship_status": "categorical"},
    "service": {"years_in_services": "numeric"},
    "gender_only": {"gender": "categorical"},
}  # fmt: skip
OUTCOMES = [("RSA", "life_goals"), ("RSA", "total"), ("STAR-P", "total"), ("ES", "total")]
CASES = [(i, s, m, w) for i, s in OUTCOMES for m in MODELS for w in ("equal", "proportional")]


def model_data(instrument: str, scale: str) -> pd.DataFrame:
    scores = pd.read_csv(REF / "inputs" / "comparisons_scores.csv")
    resp = pd.read_csv(REF / "inputs" / "comparisons_respondents.csv", keep_default_na=False, na_values=[""])
    d = scores[(scores.instrument == instrument) & (scores.scale == scale)]
    return d.merge(resp.drop(columns=["site", "row"]), on="id", how="left", validate="1:1")


def golden(name: str, instrument: str, scale: str, model: str, weights: str) -> pd.DataFrame:
    g = pd.read_csv(GOLDEN / f"{name}.csv", keep_default_na=False, na_values=[""])
    return g[(g.instrument == instrument) & (g.scale == scale) & (g.model == model) & (g.weights == weights)]


@pytest.mark.parametrize("route", ["dense", "sufficient"])  # cocapp.stats.ancova's two least-squares routes
@pytest.mark.parametrize(("instrument", "scale", "model", "weights"), CASES)
def test_adjusted_means_and_pairs_match_emmeans(instrument, scale, model, weights, route):
    res = ancova(model_data(instrument, scale), MODELS[model], SITES, emm_weights=weights, method=route)
    g = golden("ancova_means", instrument, scale, model, weights)
    m = g.merge(res.means, on="site", suffixes=("_r", ""), validate="1:1")
    assert len(m) == len(g) == len(SITES)
    for c in ["adj_mean", "se", "df", "ci_low", "ci_high"]:
        np.testing.assert_allclose(m[c], m[c + "_r"], rtol=1e-9, err_msg=c)
    gp = golden("ancova_posthoc", instrument, scale, model, weights)
    mp = gp.merge(res.posthoc, on=["site_a", "site_b"], suffixes=("_r", ""), validate="1:1")
    assert len(mp) == len(gp) == 15
    for c in ["diff", "se", "df", "t"]:
        np.testing.assert_allclose(mp[c], mp[c + "_r"], rtol=1e-9, err_msg=c)
    # Tukey p and CI limits: R's ptukey/qtukey are accurate to about 3e-9 / 4 decimals (as in
    # tests/test_ancova.py): 2e-9 (p) and 1e-7 (CI) absolute
    np.testing.assert_allclose(mp["p_adj"], mp["p_adj_r"], rtol=0, atol=2e-9)
    np.testing.assert_allclose(mp[["ci_low", "ci_high"]], mp[["ci_low_r", "ci_high_r"]], rtol=0, atol=1e-7)


def test_weightings_differ_only_with_categorical_covariates():
    d = model_data("STAR-P", "total")
    for model, covs in MODELS.items():
        eq = ancova(d, covs, SITES, emm_weights="equal").means["adj_mean"]
        pr = ancova(d, covs, SITES, emm_weights="proportional").means["adj_mean"]
        if any(k == "categorical" for k in covs.values()):
            assert not np.allclose(eq, pr), model
        else:
            np.testing.assert_array_equal(eq, pr)
    # equal is the default (byte-identical results for the configs that do not set it)
    default = ancova(d, MODELS["demographic"], SITES).means
    pd.testing.assert_frame_equal(default, ancova(d, MODELS["demographic"], SITES, emm_weights="equal").means)


def test_unknown_weighting_is_refused():
    with pytest.raises(ValueError, match="adjusted_means_weights must be one of"):
        ancova(model_data("RSA", "total"), MODELS["service"], SITES, emm_weights="cells")


def test_model_is_stated_exactly():
    f = model_formula(MODELS["demographic"], weights="proportional")
    assert f["formula"] == "score ~ site + age + gender + ethnicity + relationship_status"
    assert f["coding"] == (
        "site, gender, ethnicity, relationship_status: sum-to-zero (contr.sum); age: numeric, linear; "
        "Type III sums of squares"
    )
    assert f["emm_weights"].startswith("numeric covariates at their mean in the model sample; levels of")
    assert 'weights = "proportional"' in f["emm_weights"]
    # a covariate constant in the sample is not in the fitted formula
    assert model_formula(MODELS["demographic"], ["age", "gender"])["formula"] == "score ~ site + age + gender"
    assert OUTPUT_COLUMNS["ancova"][-3:] == ["formula", "coding", "emm_weights"]
