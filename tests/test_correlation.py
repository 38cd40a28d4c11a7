"""Pearson correlations: R goldens (cor.test, tests/reference/comparisons.R), pairwise deletion,
Cohen labels, pingouin cross-check, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cocapp.contracts import CONTRACTS
from cocapp.stats.correlation import effect_size_label, pearson, pearson_table

REF = Path(__file__).parent / "reference"
GOLDEN = REF / "golden" / "comparisons"
SITES = ["Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence"]
MEASURES = ["RSA", "STAR-P", "ES"]


def wide_totals() -> pd.DataFrame:
    d = pd.read_csv(REF / "inputs" / "comparisons_scores.csv")
    d = d[d.scale == "total"]
    w = d.pivot(index="id", columns="instrument", values="score")
    w["site"] = d.drop_duplicates("id").set_index("id")["site"].reindex(w.index)
    return w.reset_index()


def test_matches_r_cor_test():
    ours = pearson_table(wide_totals(), MEASURES, SITES)
    g = pd.read_csv(GOLDEN / "correlations.csv")
    # pooled rows first, then sites in config order
    assert ours[["site", "x", "y"]].values.tolist() == g[["site", "x", "y"]].values.tolist()
    assert (ours.n.to_numpy() == g.n.to_numpy()).all()
    for c in ["r", "p", "ci_low", "ci_high"]:
        np.testing.assert_allclose(ours[c], g[c], rtol=1e-9, err_msg=c)


def test_pairwise_deletion_n_differs_per_pair():
    w = wide_totals()
    ours = pearson_table(w, MEASURES, SITES).query("site == 'All'")
    for row in ours.itertuples():
        assert row.n == int((w[row.x].notna() & w[row.y].notna()).sum())
    assert ours.n.nunique() > 1  # as in the paper's Table 4 (409 / 406 / 431)


def test_matches_pingouin_r_and_p():
    """pingouin.corr rounds its CI to two decimals, so only r and p are compared."""
    pg = pytest.importorskip("pingouin")
    w = wide_totals().dropna(subset=["RSA", "ES"])
    ref = pg.corr(w["RSA"], w["ES"]).iloc[0]
    ours = pearson(w["RSA"].to_numpy(), w["ES"].to_numpy())
    assert ours["r"] == pytest.approx(ref["r"], rel=1e-12)
    assert ours["p"] == pytest.approx(ref["p_val"] if "p_val" in ref else ref["p-val"], rel=1e-9)


def test_hand_computed_perfect_and_fisher_ci():
    x = np.array([1.0, 2, 3, 4, 5])
    res = pearson(x, np.array([2.0, 4, 5, 4, 5]))
    # r = cov/sd: sums by hand: Sxy = 6, Sxx = 10, Syy = 6  ->  r = 6/sqrt(60)
    assert res["r"] == pytest.approx(6 / np.sqrt(60), rel=1e-14)
    z = np.arctanh(res["r"])
    half = 1.959963984540054 / np.sqrt(2)
    assert res["ci_low"] == pytest.approx(np.tanh(z - half), rel=1e-12)
    assert res["ci_high"] == pytest.approx(np.tanh(z + half), rel=1e-12)


@pytest.mark.parametrize(
    ("r", "label"),
    [
        (0.607, "large"),
        (0.5, "large"),
        (0.204, "small"),
        (0.3, "medium"),
        (-0.138, "small"),
        (0.099, "negligible"),
        (np.nan, None),
    ],
)
def test_cohen_labels(r, label):
    assert effect_size_label(r, {"small": 0.1, "medium": 0.3, "large": 0.5}) == label


def test_labels_come_from_config():
    assert effect_size_label(0.25, {"weak": 0.2, "strong": 0.6}) == "weak"


def test_too_few_pairs_constant_and_n3():
    assert "fewer than 3" in pearson(np.array([1.0, 2]), np.array([3.0, 1]))["note"]
    assert "fewer than 3" in pearson(np.array([1.0, np.nan, 3]), np.array([3.0, 1, np.nan]))["note"]
    const = pearson(np.array([1.0, 2, 3, 4]), np.array([2.0, 2, 2, 2]))
    assert np.isnan(const["r"]) and "constant" in const["note"]
    three = pearson(np.array([1.0, 2, 3]), np.array([1.0, 3, 2]))
    assert (
        three["r"] == pytest.approx(0.5, rel=1e-14)
        and np.isnan(three["ci_low"])
        and "n >= 4" in three["note"]
    )


def test_fewer_than_two_measures_gives_empty_table_with_header():
    out = pearson_table(wide_totals(), ["RSA"], SITES)
    # the file keeps its documented header (stats/correlations.csv after group and threshold)
    assert len(out) == 0 and list(out.columns) == CONTRACTS["correlations"].names[2:]


def test_site_without_respondents_gives_nan_row():
    w = wide_totals()
    out = pearson_table(w[w.site != "Provence"], MEASURES, SITES)
    prov = out[out.site == "Provence"]
    assert len(prov) == 3 and prov.r.isna().all() and (prov.n == 0).all()
