"""Reference values: one-sample t-tests against the instrument files' reference blocks.

Expected values come from R ``t.test(x, mu = ref)`` in tests/reference/measurement.R on
tests/reference/inputs/measurement_scores.csv, with FIXTURE reference blocks in
tests/reference/inputs/measurement_instruments/ (made-up values for tests, not published ones). The
shipped instrument files have empty blocks: the stage must say so and never invent a value.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cocapp.config import site_names
from cocapp.instruments import load_instrument, load_instruments
from cocapp.stats.reference import NO_REFERENCE, NO_SCALE_REFERENCE, one_sample_t, reference_table

REF = Path(__file__).parent / "reference"
INPUTS = REF / "inputs"
GOLDEN = REF / "golden" / "measurement"


@pytest.fixture(scope="module")
def setup(measurement_config, measurement_instruments, measurement_scores):
    scores, inst = measurement_scores, measurement_instruments
    table = pd.concat(
        [reference_table(scores, inst, "users", t, site_names(measurement_config)) for t in ["0.0", "0.5"]],
        ignore_index=True,
    )
    return scores, inst, table


def test_matches_r_t_test(setup):
    _, _, table = setup
    want = pd.read_csv(GOLDEN / "reference_comparison.csv", dtype={"threshold": str})
    keys = ["instrument", "scale", "threshold", "site"]
    compared = table[table.reference_mean.notna()]
    merged = want.merge(compared, on=keys, how="left", suffixes=("_r", ""), indicator=True)
    assert (merged["_merge"] == "both").all() and len(compared) == len(want)
    for c in [
        "reference_mean",
        "n",
        "mean",
        "sd",
        "difference",
        "diff_ci_low",
        "diff_ci_high",
        "t",
        "df",
        "p",
        "cohens_d",
        "cohens_d_reference_sd",
    ]:
        w, g = merged[f"{c}_r"].to_numpy(float), merged[c].to_numpy(float)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=c)
        np.testing.assert_allclose(g[~np.isnan(w)], w[~np.isnan(w)], rtol=1e-9, atol=1e-12, err_msg=c)


def test_empty_reference_block_says_so(setup):
    _, inst, table = setup
    assert inst["RSA"].reference == {}
    rsa = table[table.instrument == "RSA"]
    assert (rsa.status == NO_REFERENCE).all()
    assert (rsa.site == "All").all() and len(rsa) == 2 * 6  # one row per scale and threshold
    assert rsa[["reference_mean", "mean", "t", "p", "cohens_d"]].isna().all().all()


def test_scale_missing_from_block(setup):
    _, _, table = setup
    pci = table[(table.instrument == "STAR-P") & (table.scale == "positive_clinician_input")]
    assert (pci.status == NO_SCALE_REFERENCE).all() and pci.reference_mean.isna().all()
    assert (pci.reference_sample.str.startswith("FIXTURE")).all()


def test_statuses_of_edge_cases(setup):
    _, _, table = setup
    t = table[(table.threshold == "0.5") & (table.instrument == "EDGE")].set_index(["scale", "site"])
    assert t.loc[("constant", "All"), "status"] == "not computable: zero variance"
    assert t.loc[("allmiss", "All"), "status"] == "not computable: no respondent with a score"
    assert t.loc[("sparse", "Beta"), "status"].startswith("not computable: 1 respondent")
    assert t.loc[("sparse", "All"), "status"] == "compared"
    # reference without an SD: d on the reference SD is undefined
    assert np.isnan(t.loc[("sparse", "All"), "cohens_d_reference_sd"])


def test_shipped_instruments_have_no_reference_values(default_config):
    """The default config compares nothing and says so for every scale (nothing invented)."""
    cfg = default_config
    inst = load_instruments(cfg["groups"]["service_users"]["instruments"], cfg["instrument_paths"])
    scores = pd.DataFrame(
        {
            "id": ["a", "b"],
            "site": ["Artois", "Burgundy"],
            "instrument": "STAR-P",
            "scale": "total",
            "threshold": "0.5",
            "score": [30.0, 40.0],
        }
    )
    tab = reference_table(scores, inst, "service_users", "0.5", site_names(cfg))
    assert len(tab) == 16 and (tab.status == NO_REFERENCE).all()
    assert tab.reference_mean.isna().all() and tab.t.isna().all()


def test_hand_computed_t():
    # x = 1..4, mu = 2: mean 2.5, sd = sqrt(5/3), t = 0.5 / (sd / 2); R t.test(1:4, mu = 2): p = 0.4950253461
    r = one_sample_t(np.array([1.0, 2.0, 3.0, 4.0]), 2.0)
    sd = np.sqrt(5 / 3)
    assert r["t"] == pytest.approx(0.5 / (sd / 2), rel=1e-14)
    assert r["p"] == pytest.approx(0.4950253461, rel=1e-9)
    assert r["cohens_d"] == pytest.approx(0.5 / sd, rel=1e-14)
    assert r["df"] == 3.0


def test_reference_block_is_read_from_the_instrument_file():
    inst = load_instrument("STAR-P", [INPUTS / "measurement_instruments"])
    assert inst.reference["scales"]["total"] == {"n": 120, "mean": 36.0, "sd": 8.0}
