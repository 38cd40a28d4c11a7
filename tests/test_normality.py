"""Normality: SPSS skewness G1 / kurtosis G2 with SEs, pooled across sites; "k of N beyond +/-1".

Expected values come from tests/reference/measurement.R (e1071 type 2, checked there against the
formulas in base R) on tests/reference/inputs/measurement_scores.csv, from scipy (bias=False), and
from hand-made tables.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cocapp.config import site_names
from cocapp.stats.normality import count_beyond, count_beyond_text, moments, normality_table

GOLDEN = Path(__file__).parent / "reference" / "golden" / "measurement"


@pytest.fixture(scope="module")
def table(measurement_config, measurement_instruments, measurement_scores):
    sites = site_names(measurement_config)
    return pd.concat(
        [
            normality_table(measurement_scores, measurement_instruments, "users", t, sites)
            for t in ["0.0", "0.5"]
        ],
        ignore_index=True,
    )


def test_matches_r(table):
    want = pd.read_csv(GOLDEN / "normality.csv", dtype={"threshold": str})
    keys = ["instrument", "scale", "threshold"]
    merged = want.merge(table, on=keys, how="left", suffixes=("_r", ""), indicator=True)
    assert (merged["_merge"] == "both").all() and len(table) == len(want) == 44
    for c in ["n", "skewness", "skewness_se", "kurtosis", "kurtosis_se"]:
        w, g = merged[f"{c}_r"].to_numpy(float), merged[c].to_numpy(float)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=c)
        np.testing.assert_allclose(g[~np.isnan(w)], w[~np.isnan(w)], rtol=1e-9, err_msg=c)
    for c in ["beyond_conservative", "beyond_liberal"]:
        assert merged[f"{c}_r"].astype("boolean").equals(merged[c].astype("boolean")), c


def test_agrees_with_scipy_bias_false():
    rng = np.random.default_rng(3)
    x = rng.gamma(2.0, size=57)
    m = moments(x)
    assert m["skewness"] == pytest.approx(stats.skew(x, bias=False), rel=1e-12)
    assert m["kurtosis"] == pytest.approx(stats.kurtosis(x, bias=False), rel=1e-12)
    n = 57
    se = np.sqrt(6 * n * (n - 1) / ((n - 2) * (n + 1) * (n + 3)))
    assert m["skewness_se"] == pytest.approx(se, rel=1e-15)
    assert m["kurtosis_se"] == pytest.approx(2 * se * np.sqrt((n * n - 1) / ((n - 3) * (n + 5))), rel=1e-15)


def test_spss_textbook_standard_errors():
    """SPSS prints SE skewness 0.637 and SE kurtosis 1.232 for n = 12 (common textbook value)."""
    m = moments(np.arange(12.0))
    assert round(m["skewness_se"], 3) == 0.637
    assert round(m["kurtosis_se"], 3) == 1.232
    assert m["skewness"] == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize(
    ("scale", "n", "skew_defined", "kurt_defined", "note"),
    [
        ("single", 2, False, False, "n = 2"),
        ("sparse", 3, True, False, "n = 3"),
        ("total", 4, True, True, ""),
        ("constant", None, False, False, "zero variance"),
        ("allmiss", 0, False, False, "n = 0"),
    ],
)
def test_edge_cases(table, scale, n, skew_defined, kurt_defined, note):
    row = table[(table.instrument == "EDGE") & (table.scale == scale) & (table.threshold == "0.5")].iloc[0]
    if n is not None:
        assert row.n == n
    assert np.isfinite(row["skewness"]) == skew_defined
    assert np.isfinite(row["kurtosis"]) == kurt_defined
    assert note in row.note


def test_flags_use_strict_limits():
    scores = pd.DataFrame(
        {"site": "A", "instrument": "X", "scale": "s", "threshold": "0.5", "score": [1.0, 2.0, 3.0, 10.0]}
    )

    class Inst:  # minimal stand-in: only the scale keys are used
        scales = [type("S", (), {"key": "s"})()]

    tab = normality_table(scores, {"X": Inst()}, "g", 0.5, ["A"], conservative=1.0, liberal=3.228)
    # skewness 1.7636 > 1; kurtosis 3.228 is not strictly beyond 3.228 (R e1071: 3.228000000)
    assert bool(tab.beyond_conservative.iloc[0]) and not bool(tab.beyond_liberal.iloc[0])


def test_count_beyond_by_hand():
    df = pd.DataFrame(
        {
            "group": ["a", "a", "b", "b", "b"],
            "threshold": ["0.5"] * 4 + ["0.0"],
            "skewness": [0.2, 1.5, -0.3, 0.1, 3.0],
            "kurtosis": [-1.2, 0.4, 0.1, np.nan, 0.0],
            "beyond_conservative": [True, True, False, pd.NA, True],
            "beyond_liberal": [False, False, False, pd.NA, True],
            "conservative_limit": 1.0,
            "liberal_limit": 2.0,
        }
    )
    c = count_beyond(df, 0.5).iloc[0]
    assert (c.n_outcomes, c.n_beyond_conservative, c.n_beyond_liberal, c.n_undefined) == (4, 2, 0, 1)
    assert count_beyond_text(df, "0.5") == "2 of 4 scale outcomes exceeded \u00b11; 0 exceeded \u00b12"
    assert len(count_beyond(df)) == 2


def test_count_beyond_on_r_flags(table):
    want = pd.read_csv(GOLDEN / "normality.csv", dtype={"threshold": str})
    c = count_beyond(table, "0.5").iloc[0]
    r = want[want.threshold == "0.5"]
    assert c.n_beyond_conservative == (r.beyond_conservative == True).sum()  # noqa: E712
    assert c.n_beyond_liberal == (r.beyond_liberal == True).sum()  # noqa: E712
