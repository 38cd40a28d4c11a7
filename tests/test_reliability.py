"""Reliability: Cronbach's alpha on complete cases, Feldt CI, item table.

Expected values come from tests/reference/measurement.R (base-R formula, checked there against
psych::alpha; Feldt interval from qf) on tests/reference/inputs/measurement_items.csv, from hand
calculation, and from pingouin.cronbach_alpha(nan_policy="listwise").
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from cocapp.contracts import CONTRACTS, read
from cocapp.instruments import load_instrument, load_instruments
from cocapp.stats.reliability import cronbach_alpha, feldt_interval, reliability_tables

REF = Path(__file__).parent / "reference"
INPUTS = REF / "inputs"
GOLDEN = REF / "golden" / "measurement"


def assert_close(got: pd.DataFrame, want: pd.DataFrame, keys: list[str], cols: list[str], rel: float = 1e-9):
    """Same keys; numbers equal within ``rel`` (NaN where R has NA)."""
    merged = want.merge(got, on=keys, how="left", suffixes=("_r", ""), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", keys]
    assert len(got) == len(want)
    for c in cols:
        w = pd.to_numeric(merged[f"{c}_r"]).to_numpy(dtype=float)
        g = pd.to_numeric(merged[c]).to_numpy(dtype=float)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=c)
        ok = ~np.isnan(w)
        np.testing.assert_allclose(g[ok], w[ok], rtol=rel, atol=1e-12, err_msg=c)


@pytest.fixture(scope="module")
def tables(measurement_items, measurement_instruments):
    return reliability_tables(measurement_items, measurement_instruments, "users")


def test_scale_table_matches_r(tables):
    scales, _ = tables
    want = pd.read_csv(GOLDEN / "reliability.csv")
    cols = [
        "n_complete",
        "k_items",
        "alpha",
        "ci_low",
        "ci_high",
        "alpha_standardized",
        "mean_inter_item_r",
        "scale_mean",
        "scale_sd",
    ]
    assert_close(scales, want, ["instrument", "scale"], cols)
    merged = want.merge(scales, on=["instrument", "scale"], suffixes=("_r", ""))
    assert merged["acceptable_r"].astype("boolean").equals(merged["acceptable"].astype("boolean"))


def test_item_table_matches_r(tables):
    _, items = tables
    want = pd.read_csv(GOLDEN / "reliability_items.csv")
    cols = ["n_complete", "item_mean", "item_sd", "corrected_item_total_r", "alpha_if_deleted"]
    assert_close(items, want, ["instrument", "scale", "item"], cols)


def test_rows_follow_instrument_order(tables):
    scales, _ = tables
    assert list(scales.instrument.unique()) == ["RSA", "STAR-P", "ES", "EDGE"]
    assert list(scales[scales.instrument == "STAR-P"].scale) == [
        "positive_collaboration",
        "positive_clinician_input",
        "non_supportive_clinician_input",
        "total",
    ]


def test_agrees_with_pingouin_listwise(tables, measurement_items):
    """pingouin.cronbach_alpha(nan_policy="listwise") on the keyed items of each scale."""
    scales, _ = tables
    items = measurement_items
    for key in ["RSA", "STAR-P", "ES"]:
        inst = load_instrument(key)
        keyed = inst.keyed(items)
        for scale in inst.scales:
            data = keyed[inst.columns(scale.items)]
            a, _ = pg.cronbach_alpha(data=data, nan_policy="listwise")
            row = scales[(scales.instrument == key) & (scales.scale == scale.key)].iloc[0]
            assert row.alpha == pytest.approx(a, rel=1e-12)
            # pingouin 0.5-0.7 takes n for its Feldt interval before dropping incomplete rows, so the
            # interval is checked on the complete rows; it also rounds the interval to 3 decimals.
            _, ci = pg.cronbach_alpha(data=data.dropna())
            assert row.ci_low == pytest.approx(ci[0], abs=5e-4)
            assert row.ci_high == pytest.approx(ci[1], abs=5e-4)


def test_hand_computed_alpha():
    """Items a = (1, 2, 3), b = (1, 3, 2): var a = var b = 1, total (2, 5, 5) has var 3.

    alpha = 2 (1 - 2/3) = 2/3."""
    res = cronbach_alpha(np.array([[1.0, 1.0], [2.0, 3.0], [3.0, 2.0]]))
    assert res.alpha == pytest.approx(2 / 3, rel=1e-15)
    assert res.mean_inter_item_r == pytest.approx(0.5, rel=1e-15)  # r(a, b) = 0.5
    np.testing.assert_allclose(res.corrected_item_total_r, [0.5, 0.5], rtol=1e-15)
    assert np.isnan(res.alpha_if_deleted).all()
    assert "two-item scale" in "; ".join(res.notes)


def test_feldt_matches_r_qf():
    # R: 1 - (1 - 0.8) * qf(c(0.975, 0.025), 99, 891)
    lo, hi = feldt_interval(0.8, 100, 10)
    assert lo == pytest.approx(0.7360484591, rel=1e-9)
    assert hi == pytest.approx(0.8536918191, rel=1e-9)
    assert all(np.isnan(feldt_interval(0.8, 1, 10)))


def test_alpha_rejects_missing_values():
    with pytest.raises(ValueError, match="complete cases"):
        cronbach_alpha(np.array([[1.0, np.nan], [2.0, 3.0]]))


@pytest.mark.parametrize(
    ("scale", "n", "note"),
    [
        ("single", 369, "single-item scale"),
        ("constant", 326, "zero variance of the scale total"),
        ("sparse", 1, "only 1 complete case"),
        ("allmiss", 0, "no complete case"),
        ("total", 0, "no complete case"),
    ],
)
def test_edge_cases_are_documented_nan(tables, scale, n, note):
    scales, items = tables
    row = scales[(scales.instrument == "EDGE") & (scales.scale == scale)].iloc[0]
    assert row.n_complete == n
    assert np.isnan(row.alpha) and np.isnan(row.ci_low) and np.isnan(row.ci_high)
    assert pd.isna(row.acceptable)
    assert note in row.note
    sel = items[(items.instrument == "EDGE") & (items.scale == scale)]
    assert sel.alpha_if_deleted.isna().all()


def test_item_without_variance_inside_a_scale():
    """One constant item: alpha is defined, its correlations and the mean inter-item r are not."""
    x = np.array([[1.0, 3, 2], [2, 3, 3], [3, 3, 5], [4, 3, 4]])
    res = cronbach_alpha(x)
    # hand: item variances 5/3, 0, 5/3; total (6, 8, 11, 11) has variance 18/3 = 6;
    # alpha = 1.5 (1 - (10/3)/6) = 2/3
    assert res.alpha == pytest.approx(2 / 3, rel=1e-14)
    assert np.isnan(res.mean_inter_item_r)
    assert np.isnan(res.corrected_item_total_r[1])
    assert "without variance" in "; ".join(res.notes)


def test_acceptable_follows_config_threshold(measurement_config, measurement_items):
    inst = load_instruments(["STAR-P"], measurement_config["instrument_paths"])
    strict, _ = reliability_tables(measurement_items, inst, "users", acceptable_alpha=0.92)
    assert strict.acceptable.tolist() == (strict.alpha >= 0.92).tolist()
    assert strict.acceptable.any() and not strict.acceptable.all()


def test_keying_matters(measurement_items):
    """Reverse keyed STAR-P items enter alpha after keying: raw printed answers would give a lower alpha."""
    items = measurement_items
    inst = load_instrument("STAR-P")
    scales, _ = reliability_tables(items, {"STAR-P": inst}, "users")
    raw = items[inst.columns()].where(inst.valid_mask(items[inst.columns()]))
    a_raw, _ = pg.cronbach_alpha(data=raw, nan_policy="listwise")
    assert scales[scales.scale == "total"].alpha.iloc[0] > a_raw + 0.1


# -- the reliability stage ------------------------------------------------------------------------
def test_stage_writes_both_files_deterministically(tmp_path, cocapp_stage, measurement_config):
    items = INPUTS / "measurement_items.csv"
    runs = []
    for name in ("a", "b"):
        out, items_out = tmp_path / name / "reliability.csv", tmp_path / name / "reliability_items.csv"
        args = ["--items", items, "--alpha-out", out, "--items-out", items_out]
        code, log = cocapp_stage("reliability", measurement_config, *args)
        assert code == 0, log
        runs.append((out.read_bytes(), items_out.read_bytes()))
    assert runs[0] == runs[1]
    assert "users: 22 scales" in log
    back = read("reliability", tmp_path / "a" / "reliability.csv")  # under its contract
    assert list(back.columns) == CONTRACTS["reliability"].names and len(back) == 22
    by_item = read("reliability_items", tmp_path / "a" / "reliability_items.csv")
    assert list(by_item.columns) == CONTRACTS["reliability_items"].names


def test_stage_needs_one_items_file_per_group(tmp_path, cocapp_stage, measurement_config):
    items = INPUTS / "measurement_items.csv"
    out = ["--alpha-out", tmp_path / "r.csv", "--items-out", tmp_path / "ri.csv"]
    code, log = cocapp_stage("reliability", measurement_config, "--items", items, items, *out)
    assert code == 1 and "--items: 2 file(s) given for 1 configured group(s) ['users']" in log
    code, log = cocapp_stage("reliability", measurement_config, "--items", tmp_path / "none.csv", *out)
    assert code == 1 and "none.csv: file not found" in log
    assert not any(tmp_path.iterdir())


def test_missing_item_column_is_named(measurement_items):
    items = measurement_items.drop(columns=["starp_04"])
    with pytest.raises(ValueError, match="starp_04"):
        reliability_tables(items, {"STAR-P": load_instrument("STAR-P")}, "users")
