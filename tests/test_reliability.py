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
import yaml

from cocapp.config import validate_config, with_defaults
from cocapp.instruments import load_instrument, load_instruments
from cocapp.io import read_items
from cocapp.stats.reliability import (
    ITEM_COLUMNS,
    SCALE_COLUMNS,
    cronbach_alpha,
    feldt_interval,
    main,
    reliability_tables,
)

REF = Path(__file__).parent / "reference"
INPUTS = REF / "inputs"
GOLDEN = REF / "golden" / "measurement"


def raw_fixture_config() -> dict:
    cfg = yaml.safe_load((INPUTS / "measurement_config.yaml").read_text("utf-8"))
    cfg["instrument_paths"] = [str(INPUTS / "measurement_instruments")]
    return cfg


def fixture_config() -> dict:
    return with_defaults(validate_config(raw_fixture_config()))


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
def tables():
    cfg = fixture_config()
    inst = load_instruments(cfg["groups"]["users"]["instruments"], cfg["instrument_paths"])
    return reliability_tables(read_items(INPUTS / "measurement_items.csv"), inst, "users")


def test_scale_table_matches_r(tables):
    scales, _ = tables
    assert list(scales.columns) == SCALE_COLUMNS
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
    assert list(items.columns) == ITEM_COLUMNS
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


def test_agrees_with_pingouin_listwise(tables):
    """pingouin.cronbach_alpha(nan_policy="listwise") on the keyed items of each scale."""
    scales, _ = tables
    items = read_items(INPUTS / "measurement_items.csv")
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


def test_acceptable_follows_config_threshold():
    cfg = fixture_config()
    inst = load_instruments(["STAR-P"], cfg["instrument_paths"])
    items = read_items(INPUTS / "measurement_items.csv")
    strict, _ = reliability_tables(items, inst, "users", acceptable_alpha=0.92)
    assert strict.acceptable.tolist() == (strict.alpha >= 0.92).tolist()
    assert strict.acceptable.any() and not strict.acceptable.all()


def test_keying_matters():
    """Reverse keyed STAR-P items enter alpha after keying: raw printed answers would give a lower alpha."""
    items = read_items(INPUTS / "measurement_items.csv")
    inst = load_instrument("STAR-P")
    scales, _ = reliability_tables(items, {"STAR-P": inst}, "users")
    raw = items[inst.columns()].where(inst.valid_mask(items[inst.columns()]))
    a_raw, _ = pg.cronbach_alpha(data=raw, nan_policy="listwise")
    assert scales[scales.scale == "total"].alpha.iloc[0] > a_raw + 0.1


def test_stage_cli_writes_both_files_deterministically(tmp_path):
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(raw_fixture_config()), "utf-8")
    out, items_out = tmp_path / "rel.csv", tmp_path / "rel_items.csv"
    argv = [
        "--config",
        str(cfg_path),
        "--group",
        "users",
        "--items",
        str(INPUTS / "measurement_items.csv"),
        "--out",
        str(out),
        "--items-out",
        str(items_out),
    ]
    assert main(argv) == 0
    first = out.read_bytes(), items_out.read_bytes()
    assert main(argv) == 0
    assert (out.read_bytes(), items_out.read_bytes()) == first
    back = pd.read_csv(out)
    assert list(back.columns) == SCALE_COLUMNS and len(back) == 22
    assert main([*argv[:2], "--group", "nobody", *argv[4:]]) == 1


def test_missing_item_column_is_named():
    items = read_items(INPUTS / "measurement_items.csv").drop(columns=["starp_04"])
    with pytest.raises(ValueError, match="starp_04"):
        reliability_tables(items, {"STAR-P": load_instrument("STAR-P")}, "users")
