"""Analyses of multiply imputed data and their pooling (:mod:`cocapp.stats.mi`, stage ``impute``).

Pooling itself is checked against R mice in tests/test_pooling.py. Here: with m identical complete
datasets (no between-imputation variance) the pooled results must be the complete-data results of the
pipeline's own stages (site means, one-way F, ANCOVA site F, Tukey differences) to rounding; the tipping
point rule on a hand-made table; and the stage gives the same bytes with 1 or 2 worker processes.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stage_inputs import instrument_inputs

from cocapp.instruments import load_instruments
from cocapp.stages.runner import run_stage
from cocapp.stats.adjusted import compare_adjusted
from cocapp.stats.compare import compare_sites
from cocapp.stats.imputation import impute_group
from cocapp.stats.mi import ONEWAY, analyse, pool_analyses, tipping_points
from cocapp.stats.scoring import score_group

REF = Path(__file__).parent / "reference"
SITES = ["Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence"]
COVARIATES = {"age": {"type": "numeric"}, "gender": {"type": "categorical"}}
SPEC = {"covariates": COVARIATES, "ancova_models": {"demographic": ["age", "gender"]}, "item_columns": {}}


@pytest.fixture(scope="module")
def complete():
    d = pd.read_csv(REF / "inputs" / "imputation_items.csv", dtype={"id": str})
    items = d.drop(columns=["age", "gender"])
    resp = d[["id", "site", "age", "gender"]]
    inst = load_instruments(["RSA"])
    imp = impute_group("cc", items, resp, inst, SITES, COVARIATES, m=2, iterations=2, seed=3)
    return imp.dataset(0), resp, inst


def test_identical_imputations_pool_to_the_complete_data_analysis(complete):
    items, resp, inst = complete
    one = analyse(items, resp, inst, "cc", SPEC, SITES, alpha=0.05, confidence=0.95)
    pooled = pool_analyses([one, one, one], SITES, 0.0, alpha=0.05, confidence=0.95)
    scores = score_group(items, inst, [0.0])
    ref = compare_sites(scores, ["RSA"], SITES, "cc", "0.0", alpha=0.05, confidence=0.95)
    adj = compare_adjusted(
        scores,
        resp,
        ["RSA"],
        SITES,
        "cc",
        "0.0",
        covariates=COVARIATES,
        models=SPEC["ancova_models"],
        alpha=0.05,
        confidence=0.95,
        posthoc="tukey",
    )
    tests = pooled["tests"].set_index(["scale", "analysis", "method"])
    for _, a in ref["anova"].iterrows():
        for method in ("D1", "D2"):
            t = tests.loc[(a["scale"], ONEWAY, method)]
            np.testing.assert_allclose([t["F"], t["df1"]], [a["F"], a["df1"]], rtol=1e-9)
    site_terms = adj["ancova"][adj["ancova"]["term"] == "site"]
    for _, a in site_terms.iterrows():
        t = tests.loc[(a["scale"], "ANCOVA: demographic", "D1")]
        np.testing.assert_allclose(t["F"], a["F"], rtol=1e-9)
        assert t["fmi"] == 0.0
    pairs = pooled["pairs"]
    oneway = pairs[pairs["analysis"] == ONEWAY].reset_index(drop=True)
    np.testing.assert_allclose(oneway["diff"], ref["tukey"]["diff"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(oneway["se"], ref["tukey"]["se"], rtol=1e-9)
    adjm = pooled["means"][pooled["means"]["analysis"] == "ANCOVA: demographic"].reset_index(drop=True)
    np.testing.assert_allclose(adjm["estimate"], adj["ancova_means"]["adj_mean"], rtol=1e-9)
    np.testing.assert_allclose(adjm["se"], adj["ancova_means"]["se"], rtol=1e-9)


def test_tipping_point_is_the_smallest_delta_that_changes_the_conclusion():
    rows = []
    for delta, p in [(0.0, 0.01), (-0.25, 0.03), (-0.5, 0.07), (-1.0, 0.2), (0.5, 0.06)]:
        rows.append(
            {
                "group": "g",
                "instrument": "I",
                "scale": "s",
                "delta": delta,
                "analysis": ONEWAY,
                "method": "D1",
                "p": p,
                "significant": p < 0.05,
            }
        )
    tip = tipping_points(pd.DataFrame(rows), [0, -0.25, -0.5, -1, 0.5]).iloc[0]
    assert tip["significant_mar"] is True or tip["significant_mar"] == True  # noqa: E712
    assert tip["tipping_delta"] == -0.5  # |-0.5| = |0.5|: the negative shift is listed first
    assert tip["p_at_tipping"] == 0.07
    rows = [r | {"p": 0.5, "significant": False} for r in rows]
    none = tipping_points(pd.DataFrame(rows), [0, -0.25]).iloc[0]
    assert np.isnan(none["tipping_delta"]) and "unchanged" in none["conclusion"]


def _stage_files(tmp_path: Path) -> tuple[dict, list[str]]:
    d = pd.read_csv(REF / "inputs" / "imputation_items.csv", dtype={"id": str})
    items = d.drop(columns=["age", "gender"])
    items.insert(0, "row", np.arange(1, len(d) + 1))
    resp = d[["id", "site", "age", "gender"]].copy()
    resp.insert(0, "row", np.arange(1, len(d) + 1))
    items.to_csv(tmp_path / "items.csv", index=False)
    resp.to_csv(tmp_path / "resp.csv", index=False)
    settings = {
        "study": {"synthetic": True},
        "sites": [{"name": s} for s in SITES],
        "groups": {"cc": {"label": "CC", "instruments": ["RSA"], "item_columns": {}, **SPEC}},
        "statistics": {"significance_level": 0.05, "confidence_level": 0.95},
        "imputation": {
            "m": 3,
            "iterations": 2,
            "seed": 9,
            "donors": 5,
            "min_correlation": 0.1,
            "deltas": [0, -0.5],
            "delta_sites": ["Artois"],
            "delta_ancova": True,
        },
    }
    return settings, [str(tmp_path / "items.csv"), str(tmp_path / "resp.csv")]


@pytest.mark.parametrize("workers", [1, 2])
def test_stage_writes_the_same_bytes_with_any_number_of_workers(tmp_path, workers):
    settings, (items, resp) = _stage_files(tmp_path)
    outs = {}
    for run in ("a", "b"):
        out = tmp_path / f"{run}{workers}"
        out.mkdir()
        names = ["means", "tests", "pairs", "correlations", "tipping", "diagnostics", "predictors"]
        argv = ["--settings", json.dumps(settings), "--items", items, "--respondents", resp]
        argv += instrument_inputs(settings)
        for n in names:
            argv += [f"--{n}", str(out / f"mi_{n}.csv")]
        argv += [
            "--figures",
            str(out / "cc_mi_convergence.png"),
            str(out / "cc_mi_convergence.svg"),
            "--workers",
            str(workers if run == "a" else 1),
        ]
        log = io.StringIO()
        assert run_stage("impute", argv, stream=log) == 0, log.getvalue()
        outs[run] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert outs["a"] == outs["b"]
    tests = pd.read_csv(tmp_path / f"a{workers}" / "mi_tests.csv")
    assert set(tests["delta"]) == {0.0, -0.5} and (tests["m"] == 3).all()


def test_pooled_adjusted_means_follow_the_configured_weighting(complete):
    """statistics.adjusted_means_weights reaches the pooled ANCOVA means: with identical imputations
    they equal the complete-data ANCOVA's proportional-weight means (not the equal-weight ones)."""
    items, resp, inst = complete
    one = analyse(
        items, resp, inst, "cc", SPEC, SITES, alpha=0.05, confidence=0.95, emm_weights="proportional"
    )
    pooled = pool_analyses([one, one], SITES, 0.0, alpha=0.05, confidence=0.95)
    scores = score_group(items, inst, [0.0])
    kw = dict(
        covariates=COVARIATES, models=SPEC["ancova_models"], alpha=0.05, confidence=0.95, posthoc="tukey"
    )
    prop = compare_adjusted(scores, resp, ["RSA"], SITES, "cc", "0.0", emm_weights="proportional", **kw)
    equal = compare_adjusted(scores, resp, ["RSA"], SITES, "cc", "0.0", **kw)
    adjm = pooled["means"][pooled["means"]["analysis"] == "ANCOVA: demographic"].reset_index(drop=True)
    np.testing.assert_allclose(adjm["estimate"], prop["ancova_means"]["adj_mean"], rtol=1e-9)
    assert not np.allclose(adjm["estimate"], equal["ancova_means"]["adj_mean"], rtol=1e-9)


def test_analyse_names_an_unknown_site(complete):
    # the site codes are taken once per dataset; an unknown site still fails as site_codes words it
    items, resp, inst = complete
    odd = items.assign(site=items["site"].where(items.index != 3, "Elsewhere"))
    with pytest.raises(
        ValueError, match=r"items: column 'site': value\(s\) \['Elsewhere'\] are not configured"
    ):
        analyse(odd, resp, inst, "cc", SPEC, SITES, alpha=0.05, confidence=0.95)


def test_analyse_gives_the_same_results_with_prepared_models(complete):
    # the second dataset of a group reuses the models (and coded covariates) the first prepared
    items, resp, inst = complete
    kw = {"alpha": 0.05, "confidence": 0.95}
    shared: dict = {}
    first = analyse(items, resp, inst, "cc", SPEC, SITES, site_models=shared, **kw)
    again = analyse(items, resp, inst, "cc", SPEC, SITES, site_models=shared, **kw)
    fresh = analyse(items, resp, inst, "cc", SPEC, SITES, **kw)
    for out in (again, fresh):
        for mname, a in first["ancova"].items():
            for c, v in a.items():
                np.testing.assert_array_equal(out["ancova"][mname][c], v)
