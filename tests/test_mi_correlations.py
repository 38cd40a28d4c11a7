"""Pooled correlations of multiple imputation follow ``groups.<g>.correlations`` (issue 13).

The completed datasets inputs/pooling_items_imputed.csv (RSA answers imputed m = 5 times by R mice,
tests/reference/make_pooling_inputs.R) are analysed by :func:`cocapp.stats.mi.analyse` and pooled by
:func:`cocapp.stats.mi.pool_analyses`, as the impute stage does; R scored the same scales itself and
pooled Fisher's z with ``mice::pool.scalar`` (tests/reference/pooling.R -> golden/pooling/
scale_correlations.csv).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cocapp.config import correlation_measures
from cocapp.instruments import load_instrument
from cocapp.stats.mi import analyse, pool_analyses

REF = Path(__file__).parent / "reference"
SITES = ["Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence"]
CHOSEN = [
    {"instrument": "RSA", "scale": "life_goals"},
    {"instrument": "RSA", "scale": "choice"},
    {"instrument": "RSA", "scale": "total"},
]
VALUES = ["r", "ci_low", "ci_high", "p", "df", "riv", "fmi", "re"]


def pooled(spec: dict) -> pd.DataFrame:
    done = pd.read_csv(REF / "inputs" / "pooling_items_imputed.csv", dtype={"id": str})
    instruments = {"RSA": load_instrument("RSA")}
    results = [
        analyse(
            d.drop(columns=".imp").reset_index(drop=True),
            None,
            instruments,
            "care_coordinators",
            spec,
            SITES,
            alpha=0.05,
            confidence=0.95,
            full=True,
            adjusted=False,
        )
        for _, d in done.groupby(".imp", sort=True)
    ]
    return pool_analyses(results, SITES, 0.0, alpha=0.05, confidence=0.95)["correlations"]


@pytest.fixture(scope="module")
def chosen() -> pd.DataFrame:
    return pooled({"instruments": ["RSA"], "correlations": CHOSEN, "ancova_models": {}, "covariates": {}})


def test_chosen_scales_are_pooled_as_r_pools_them(chosen):
    gold = pd.read_csv(REF / "golden" / "pooling" / "scale_correlations.csv")
    assert len(chosen) == len(gold) == 7 * 3  # all sites and every site, three pairs
    both = gold.merge(chosen, on=["site", "x", "y"], suffixes=("_r", ""), validate="one_to_one")
    assert len(both) == len(gold)
    assert (both["n"] == both["n_r"]).all() and (both["m"] == 5).all()
    for col in VALUES:
        np.testing.assert_allclose(both[col], both[f"{col}_r"], rtol=1e-9, err_msg=col)
    assert (both["significant"] == (both["p_r"] < 0.05)).all()


def test_pairs_and_names_are_those_of_the_complete_case_correlations(chosen):
    """Same pairs, same names, same order as correlations.csv builds them from the config."""
    config = {"groups": {"care_coordinators": {"instruments": ["RSA"], "correlations": CHOSEN}}}
    names = [name for name, _, _ in correlation_measures(config, "care_coordinators")]
    assert names == ["RSA.life_goals", "RSA.choice", "RSA"]
    pairs = list(dict.fromkeys(zip(chosen["x"], chosen["y"], strict=True)))
    assert pairs == [(names[0], names[1]), (names[0], names[2]), (names[1], names[2])]
    assert list(dict.fromkeys(chosen["site"])) == ["All", *SITES]


def test_without_a_choice_only_totals_are_pooled():
    """No ``correlations`` key: every instrument's total (one instrument here: nothing to correlate)."""
    out = pooled({"instruments": ["RSA"], "ancova_models": {}, "covariates": {}})
    assert out.empty
