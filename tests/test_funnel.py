"""Funnel plot control limits (cocapp.stats.funnel; Spiegelhalter 2005): a hand-computed example and
base R (tests/reference/funnel.R writes golden/funnel/funnel.csv from inputs/funnel_sites.csv)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cocapp.stats.funnel import funnel_curve, funnel_sites, level_label, z_for

REF = Path(__file__).parent / "reference"


def test_hand_computed_two_sites():
    """n = 4 and 16, means 10 and 12, SD 2 at both: target = (4·10 + 16·12)/20 = 11.6; pooled σ =
    √((3·4 + 15·4)/18) = 2; se = 2/√4 = 1 and 2/√16 = 0.5; z = −1.6 and 0.8; precision = n/σ² = 1 and 4;
    95 % limits of site A: 11.6 ± 1.959964 = [9.640036, 13.559964] (inside)."""
    f = funnel_sites(["A", "B"], [4, 16], [10.0, 12.0], [2.0, 2.0])
    assert f["target"].tolist() == pytest.approx([11.6, 11.6], rel=1e-15)
    assert f["sd_within"].tolist() == pytest.approx([2.0, 2.0], rel=1e-15)
    assert f["se"].tolist() == pytest.approx([1.0, 0.5], rel=1e-15)
    assert f["precision"].tolist() == pytest.approx([1.0, 4.0], rel=1e-15)
    assert f["z"].tolist() == pytest.approx([-1.6, 0.8], rel=1e-14)
    assert f["outside"].tolist() == ["", ""] and f["direction"].tolist() == ["", ""]
    curve = funnel_curve(11.6, np.array([1.0]), [0.95])
    assert curve[["lower", "upper"]].iloc[0].tolist() == pytest.approx([9.640036, 13.559964], abs=1e-6)


def test_outside_labels_the_widest_limit_and_direction():
    """z = 2.5 is outside 95 % (1.96) but inside 99.8 % (3.09); z = −4 outside both."""
    # σ = 1 (SD 1 everywhere), big reference site fixes the target near 0
    f = funnel_sites(["big", "hi", "lo"], [1_000_000, 4, 4], [0.0, 1.25, -2.0], [1.0, 1.0, 1.0])
    assert f["z"].round(2).tolist()[1:] == [2.5, -4.0]
    assert f["outside"].tolist() == ["", "95%", "99.8%"]
    assert f["direction"].tolist() == ["", "above", "below"]


def test_sites_without_values_keep_their_row():
    f = funnel_sites(["A", "B", "C"], [0, 5, 1], [np.nan, 3.0, 5.0], [np.nan, 1.0, np.nan])
    assert f["site"].tolist() == ["A", "B", "C"]
    assert np.isnan(f["z"].iloc[0]) and f["outside"].iloc[0] == ""
    # a site of one respondent contributes to the target but not to the within-site variance
    assert f["target"].iloc[0] == pytest.approx((5 * 3.0 + 5.0) / 6)
    assert f["sd_within"].iloc[0] == pytest.approx(np.sqrt(4 * 1.0 / (6 - 2)))


def test_matches_r():
    d = pd.read_csv(REF / "inputs" / "funnel_sites.csv")
    g = pd.read_csv(REF / "golden" / "funnel" / "funnel.csv")
    f = funnel_sites(d["site"], d["n"], d["mean"], d["sd"])
    for col in ("target", "sd_within", "se", "precision", "z"):
        np.testing.assert_allclose(f[col], g[col], rtol=1e-9, err_msg=col)
    for level, tag in ((0.95, "95"), (0.998, "998")):
        curve = funnel_curve(float(f["target"].iloc[0]), f["precision"].to_numpy(), [level])
        np.testing.assert_allclose(curve["lower"], g[f"lower_{tag}"], rtol=1e-9)
        np.testing.assert_allclose(curve["upper"], g[f"upper_{tag}"], rtol=1e-9)
        inside = (g[f"lower_{tag}"] <= d["mean"]) & (d["mean"] <= g[f"upper_{tag}"])
        assert ((f["outside"] != "") | inside).all()


def test_levels():
    assert z_for(0.95) == pytest.approx(1.959963984540054, rel=1e-15)
    assert z_for(0.998) == pytest.approx(3.090232306167813, rel=1e-15)
    assert level_label(0.998) == "99.8%" and level_label(0.95) == "95%"
    with pytest.raises(ValueError, match="between 0 and 1"):
        z_for(1.0)


# -- over-dispersion (Spiegelhalter 2005, section 6): base R goldens (tests/reference/funnel.R) ------------
@pytest.mark.parametrize("method", ["multiplicative", "additive"])
@pytest.mark.parametrize("input_name", ["funnel_sites.csv", "funnel_overdispersed.csv"])
def test_overdispersion_matches_r(input_name, method):
    d = pd.read_csv(REF / "inputs" / input_name)
    g = pd.read_csv(REF / "golden" / "funnel" / "overdispersion.csv")
    g = g[(g["input"] == input_name) & (g["method"] == method)].reset_index(drop=True)
    assert len(g) == len(d)
    f = funnel_sites(d["site"], d["n"], d["mean"], d["sd"], overdispersion=method)
    assert (f["overdispersion"] == method).all()
    np.testing.assert_allclose(f["phi"], g["phi"], rtol=1e-9)
    np.testing.assert_allclose(f["tau2"], g["tau2"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(f["z_adjusted"], g["z_adjusted"], rtol=1e-9)
    for level, tag in ((0.95, "95"), (0.998, "998")):
        phi, tau2 = float(f["phi"].iloc[0]), float(f["tau2"].iloc[0])
        curve = funnel_curve(float(f["target"].iloc[0]), f["precision"].to_numpy(), [level], phi, tau2)
        np.testing.assert_allclose(curve["lower"], g[f"lower_{tag}"], rtol=1e-9)
        np.testing.assert_allclose(curve["upper"], g[f"upper_{tag}"], rtol=1e-9)
        beyond = (d["mean"] < g[f"lower_{tag}"]) | (d["mean"] > g[f"upper_{tag}"])
        assert ((f["outside"] != "") >= beyond).all()


def test_overdispersion_reduces_the_sites_flagged_in_a_national_sized_study():
    """40 sites of 200-20,000 respondents with real between-site spread: nearly all outside the plain
    limits, few after either adjustment; φ̂ > 1 here (R: 48.8)."""
    d = pd.read_csv(REF / "inputs" / "funnel_overdispersed.csv")
    plain = funnel_sites(d["site"], d["n"], d["mean"], d["sd"])
    counts = {
        m: int((funnel_sites(d["site"], d["n"], d["mean"], d["sd"], overdispersion=m)["outside"] != "").sum())
        for m in ("multiplicative", "additive")
    }
    assert (plain["outside"] != "").sum() >= 30
    assert all(c <= 8 for c in counts.values()), counts
    assert (
        (plain["z_adjusted"] == plain["z"]).all() and (plain["phi"] == 1).all() and (plain["tau2"] == 0).all()
    )


def test_hand_computed_additive_tau2():
    """Four sites, se = 1 each (w = 1): z = −3, −1, 1, 3 Winsorised at 10/90 % (type 7: ±2.4) give
    φ̂ = (2·2.4² + 2)/4 = 3.38; τ² = (4·3.38 − 3)/(4 − 4/4) = 10.52/3."""
    from cocapp.stats.funnel import overdispersion

    phi, tau2 = overdispersion(np.array([-3.0, -1.0, 1.0, 3.0]), np.ones(4), "additive")
    assert phi == 1.0 and tau2 == pytest.approx(10.52 / 3, rel=1e-12)
    assert overdispersion(np.array([-0.1, 0.1, 0.0]), np.ones(3), "additive") == (1.0, 0.0)
    assert overdispersion(np.array([-0.1, 0.1, 0.0]), np.ones(3), "multiplicative") == (1.0, 0.0)
    with pytest.raises(ValueError, match="overdispersion"):
        overdispersion(np.zeros(3), np.ones(3), "quadratic")
