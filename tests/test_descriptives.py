"""Descriptives by site and pooled: n, mean, SD, SEM, t-based CI, min/median/max.

Expected values come from tests/reference/measurement.R (base R mean, sd, qt, median) on
tests/reference/inputs/measurement_scores.csv, and from hand-made tables.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cocapp.config import site_names
from cocapp.instruments import load_instrument
from cocapp.stats.descriptives import describe, descriptives_table

GOLDEN = Path(__file__).parent / "reference" / "golden" / "measurement"
SITES = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]


@pytest.fixture(scope="module")
def setup(measurement_config, measurement_instruments, measurement_scores):
    scores, inst = measurement_scores, measurement_instruments
    table = pd.concat(
        [
            descriptives_table(scores, inst, "users", t, site_names(measurement_config))
            for t in ["0.0", "0.5"]
        ],
        ignore_index=True,
    )
    return scores, inst, table


def test_matches_r(setup):
    _, _, table = setup
    want = pd.read_csv(GOLDEN / "descriptives.csv", dtype={"threshold": str})
    keys = ["instrument", "scale", "threshold", "site"]
    merged = want.merge(table, on=keys, how="left", suffixes=("_r", ""), indicator=True)
    assert (merged["_merge"] == "both").all() and len(table) == len(want)
    for c in ["n", "mean", "sd", "sem", "ci_low", "ci_high", "min", "median", "max"]:
        w, g = merged[f"{c}_r"].to_numpy(float), merged[c].to_numpy(float)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=c)
        np.testing.assert_allclose(g[~np.isnan(w)], w[~np.isnan(w)], rtol=1e-9, atol=1e-12, err_msg=c)


def test_sites_in_config_order_then_all(setup):
    _, _, table = setup
    for _, sub in table.groupby(["instrument", "scale", "threshold"], sort=False):
        assert sub.site.tolist() == [*SITES, "All"]
    assert list(table.instrument.unique()) == ["RSA", "STAR-P", "ES", "EDGE"]
    assert set(table.threshold) == {"0.0", "0.5"}


def test_n_not_scored_counts_empty_scores(setup):
    scores, _, table = setup
    sel = scores[(scores.threshold == "0.0") & (scores.instrument == "RSA") & (scores.scale == "choice")]
    row = table[
        (table.threshold == "0.0")
        & (table.instrument == "RSA")
        & (table.scale == "choice")
        & (table.site == "All")
    ].iloc[0]
    assert row["n_not_scored"] == sel.score.isna().sum() > 0
    assert row["n"] == sel.score.notna().sum()


def test_small_sites_give_documented_nan(setup):
    _, _, table = setup
    t = table[(table.threshold == "0.5") & (table.instrument == "STAR-P") & (table.scale == "total")]
    delta = t[t.site == "Delta"].iloc[0]  # one respondent
    assert (
        delta["n"] == 1 and np.isfinite(delta["mean"]) and np.isnan(delta["sd"]) and np.isnan(delta["ci_low"])
    )
    assert "1 respondent" in delta["note"]
    eps = t[t.site == "Epsilon"].iloc[0]  # configured, no respondent
    assert eps["n"] == 0 and np.isnan(eps["mean"]) and "no respondent" in eps["note"]


def test_hand_computed():
    d = describe(np.array([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]))
    # mean 5, sum of squares 32, sd = sqrt(32/7); R: qt(0.975, 7) = 2.364624251592784
    assert (d["n"], d["mean"], d["median"], d["min"], d["max"]) == (8, 5.0, 4.5, 2.0, 9.0)
    assert d["sd"] == pytest.approx(np.sqrt(32 / 7), rel=1e-15)
    assert d["sem"] == pytest.approx(np.sqrt(32 / 7) / np.sqrt(8), rel=1e-15)
    assert d["ci_high"] - d["mean"] == pytest.approx(2.364624251592784 * d["sem"], rel=1e-12)
    const = describe(np.array([3.0, 3.0, 3.0]))
    assert const["sd"] == 0.0 and const["ci_low"] == const["ci_high"] == 3.0


def test_confidence_level_from_argument():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    d90 = describe(x, 0.90)
    # R: qt(0.95, 3) = 2.353363434801825
    assert d90["ci_high"] - d90["mean"] == pytest.approx(2.353363434801825 * d90["sem"], rel=1e-12)


def test_unknown_site_and_absent_threshold_are_errors(setup):
    scores, inst, _ = setup
    with pytest.raises(ValueError, match="Delta"):
        descriptives_table(scores, inst, "users", "0.5", ["Alpha", "Beta", "Gamma"])
    with pytest.raises(ValueError, match="threshold 0.3"):
        descriptives_table(scores, inst, "users", 0.3, SITES)


def test_instrument_without_rows_still_listed():
    empty = pd.DataFrame(columns=["id", "site", "instrument", "scale", "threshold", "score"])
    tab = descriptives_table(empty, {"STAR-P": load_instrument("STAR-P")}, "g", 0.5, ["A", "B"])
    assert len(tab) == 4 * 3 and (tab["n"] == 0).all()
