"""One-way ANOVA: NIST StRD certified values, R goldens (tests/reference/comparisons.R), hand-computed
cases, edge cases, a pingouin cross-check, and the ``compare-sites`` and ``ancova`` stages end to end."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cocapp.config import validate_config, with_defaults
from cocapp.contracts import CONTRACTS, read
from cocapp.instruments import load_instrument
from cocapp.stats.anova import anova_frame, oneway_anova, site_codes

HERE = Path(__file__).parent
NIST = HERE / "data" / "nist"
REF = HERE / "reference"
GOLDEN = REF / "golden" / "comparisons"
SITES = ["Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence"]


# -- NIST StRD one-way ANOVA (SmLs01-09) ------------------------------------------------------------
def read_nist(name: str) -> tuple[np.ndarray, list[Decimal], dict[str, Decimal]]:
    """Treatment codes, responses as exact decimals, and the certified values printed in the file."""
    lines = (NIST / f"{name}.dat").read_text().splitlines()
    head = "\n".join(lines[:60])
    first, last = map(int, re.search(r"Data\s+\(lines (\d+) to (\d+)\)", head).groups())
    rows = [ln.split() for ln in lines[first - 1 : last]]
    codes = np.array([int(r[0]) for r in rows]) - 1
    values = [Decimal(r[1]) for r in rows]

    def numbers(prefix: str) -> list[str]:
        line = next(ln for ln in lines if ln.strip().startswith(prefix))
        return line[len(line) - len(line.lstrip()) + len(prefix) :].split()

    between, within = numbers("Between Treatment"), numbers("Within Treatment")
    cert = {
        "df1": Decimal(between[0]),
        "ss_between": Decimal(between[1]),
        "ms_between": Decimal(between[2]),
        "F": Decimal(between[3]),
        "df2": Decimal(within[0]),
        "ss_within": Decimal(within[1]),
        "ms_within": Decimal(within[2]),
        "r2": Decimal(numbers("Certified R-Squared")[0]),
        "resid_sd": Decimal(next(ln for ln in lines if "Standard Deviation" in ln).split()[-1]),
    }
    return codes, values, cert


NIST_SETS = [f"SmLs0{i}" for i in range(1, 10)]


@pytest.mark.parametrize("name", NIST_SETS)
def test_nist_certified_values(name):
    """Certified F, SS, MS, R² and residual SD to at least 12 significant digits (required: 9).

    float64 cannot hold SmLs07-09's responses (1000000000000.4 is stored as ...0.39990234375, an error
    of 1e-4 on deviations of 0.1), so the data are read as exact decimals and shifted by the first
    response in exact decimal arithmetic before conversion; ANOVA is invariant to a shift, so the
    certified values apply unchanged. The float64 path is tested separately below.
    """
    codes, values, cert = read_nist(name)
    shift = values[0]
    y = np.array([float(v - shift) for v in values])
    levels = [str(i) for i in range(codes.max() + 1)]
    res = oneway_anova(y, codes, levels)
    assert res["df1"] == float(cert["df1"]) and res["df2"] == float(cert["df2"])
    for key in ("F", "ss_between", "ss_within", "ms_between", "ms_within"):
        assert res[key] == pytest.approx(float(cert[key]), rel=1e-12), key
    assert res["eta2"] == pytest.approx(float(cert["r2"]), rel=1e-12)
    assert np.sqrt(res["ms_within"]) == pytest.approx(float(cert["resid_sd"]), rel=1e-12)


def exact_f(codes: np.ndarray, y: np.ndarray) -> Fraction:
    """F in exact rational arithmetic from the float64 values as stored (integer sums on a common
    power-of-two denominator, so it is independent of any floating-point algorithm)."""
    ratios = [float(v).as_integer_ratio() for v in y]
    den = max(d for _, d in ratios)
    ints = [num * (den // d) for num, d in ratios]
    k = int(codes.max()) + 1
    n_g, s_g, q_g = [0] * k, [0] * k, [0] * k
    for v, c in zip(ints, codes.tolist(), strict=True):
        n_g[c] += 1
        s_g[c] += v
        q_g[c] += v * v
    n, total = sum(n_g), sum(s_g)
    ssb = sum(Fraction(s * s, m) for s, m in zip(s_g, n_g, strict=True)) - Fraction(total * total, n)
    ssw = sum(q_g) - sum(Fraction(s * s, m) for s, m in zip(s_g, n_g, strict=True))
    return (ssb / (k - 1)) / (ssw / (n - k))  # the common scale den² cancels


@pytest.mark.parametrize("name", NIST_SETS)
def test_nist_float64_input_is_stable(name):
    """On the float64-parsed data (what a CSV reader gives) F equals the exact F of those stored values
    to 1e-12: the centred algorithm adds no error of its own. For SmLs01-06 that is also the certified
    F to 9 digits; SmLs07-09's stored floats themselves differ from the certified data (see above).
    """
    codes, values, cert = read_nist(name)
    y = np.array([float(v) for v in values])
    levels = [str(i) for i in range(codes.max() + 1)]
    res = oneway_anova(y, codes, levels)
    assert res["F"] == pytest.approx(float(exact_f(codes, y)), rel=1e-12)
    if name <= "SmLs06":
        assert res["F"] == pytest.approx(float(cert["F"]), rel=1e-9)


# -- R goldens ------------------------------------------------------------------------------------
def fixture_scores() -> pd.DataFrame:
    return pd.read_csv(REF / "inputs" / "comparisons_scores.csv", dtype={"threshold": str})


def test_anova_matches_r():
    """aov (SS, F, p), car::leveneTest(center = mean | median) and oneway.test (Welch), 1e-9 relative."""
    scores = fixture_scores()
    golden = pd.read_csv(GOLDEN / "anova.csv")
    cols = [c for c in golden.columns if c not in ("instrument", "scale")]
    assert len(golden) == 5
    for g in golden.itertuples(index=False):
        d = scores[(scores.instrument == g.instrument) & (scores.scale == g.scale)]
        res = anova_frame(d, SITES)
        for c in cols:
            expected = getattr(g, c)
            if pd.isna(expected):  # R: Welch undefined with a one-value site
                assert np.isnan(res[c]), (g.scale, c)
            else:
                assert res[c] == pytest.approx(expected, rel=1e-9, abs=1e-300), (g.instrument, g.scale, c)


def test_hand_computed_example():
    """Groups {1,2,3} and {4,5,6}: SS_b = 13.5, SS_w = 4, F(1, 4) = 13.5, eta² = 13.5/17.5,
    omega² = (13.5 - 1)/(17.5 + 1)."""
    res = oneway_anova(np.array([1.0, 2, 3, 4, 5, 6]), np.array([0, 0, 0, 1, 1, 1]), ["a", "b"])
    assert (res["df1"], res["df2"]) == (1.0, 4.0)
    assert res["ss_between"] == pytest.approx(13.5, rel=1e-15)
    assert res["ss_within"] == pytest.approx(4.0, rel=1e-15)
    assert res["F"] == pytest.approx(13.5, rel=1e-15)
    assert res["eta2"] == pytest.approx(13.5 / 17.5, rel=1e-15)
    assert res["omega2"] == pytest.approx(12.5 / 18.5, rel=1e-15)
    # F(1, 4) = t² of the pooled two-sample t test with t = 3/sqrt(2/3)
    assert res["p"] == pytest.approx(2 * stats.t.sf(3 / np.sqrt(2 / 3), 4), rel=1e-12)
    assert res["significant"] is True and res["note"] == ""


def test_welch_matches_pingouin():
    """Cross-check with pingouin.welch_anova (pingouin reports F and p; its ddof2 is our welch_df2)."""
    pg = pytest.importorskip("pingouin")
    d = fixture_scores()
    d = d[(d.instrument == "RSA") & (d.scale == "total") & d.score.notna()]
    res = anova_frame(d, SITES)
    ref = pg.welch_anova(data=d, dv="score", between="site").iloc[0]
    assert res["welch_F"] == pytest.approx(ref["F"], rel=1e-9)
    assert res["welch_df2"] == pytest.approx(ref["ddof2"], rel=1e-9)
    assert res["welch_p"] == pytest.approx(ref["p_unc"] if "p_unc" in ref else ref["p-unc"], rel=1e-9)


# -- edge cases -----------------------------------------------------------------------------------
def test_empty_site_left_out_and_named():
    y = np.array([1.0, 2, 3, 4, 5, 7])
    res = oneway_anova(y, np.array([0, 0, 0, 2, 2, 2]), ["a", "b", "c"])
    assert res["k_sites"] == 2 and res["df1"] == 1.0 and res["df2"] == 4.0
    assert "no values at site(s) b" in res["note"]
    assert np.isfinite(res["F"])


def test_site_with_one_value_counts_in_df():
    res = oneway_anova(np.array([1.0, 2, 3, 10]), np.array([0, 0, 0, 1]), ["a", "b"])
    assert (res["df1"], res["df2"]) == (1.0, 2.0) and np.isfinite(res["F"])
    assert np.isnan(res["welch_F"]) and "Welch test needs" in res["note"]


def test_constant_outcome_gives_nan_with_note():
    res = oneway_anova(np.full(6, 3.0), np.array([0, 0, 0, 1, 1, 1]), ["a", "b"])
    assert np.isnan(res["F"]) and np.isnan(res["p"]) and res["significant"] is None
    assert "constant" in res["note"]


def test_no_within_site_variation_gives_infinite_f():
    res = oneway_anova(np.array([1.0, 1, 2, 2]), np.array([0, 0, 1, 1]), ["a", "b"])
    assert res["F"] == np.inf and res["p"] == 0.0 and "no variation within sites" in res["note"]


def test_single_site_gives_nan_with_note():
    res = oneway_anova(np.array([1.0, 2, 3]), np.array([1, 1, 1]), ["a", "b"])
    assert np.isnan(res["F"]) and "fewer than two sites" in res["note"]


def test_non_finite_values_rejected():
    with pytest.raises(ValueError, match="finite"):
        oneway_anova(np.array([1.0, np.nan]), np.array([0, 1]), ["a", "b"])


def test_unknown_site_named():
    with pytest.raises(ValueError, match="Atlantis"):
        site_codes(["Artois", "Atlantis"], SITES)


# -- the compare-sites and ancova stages end to end (on the R golden inputs) ----------------------
COMPARE = ("anova", "tukey", "games_howell", "correlations")
ANCOVA = ("ancova", "ancova_means", "ancova_posthoc", "ancova_slopes")


def comparisons_config(
    tiny_config: dict, post_hoc: str = "tukey", instruments=("RSA", "STAR-P", "ES"), thresholds=(0.5,)
) -> dict:
    """The tiny study's config with the R fixture's six sites and one group of five covariates."""
    cfg = copy.deepcopy(tiny_config)
    cfg["sites"] = [{"name": s} for s in SITES]
    cfg["groups"] = {
        "service_users": {
            "raw": "data/raw/users.csv",
            "id_column": "id",
            "site_column": "site",
            "instruments": list(instruments),
            "covariates": {
                "age": {"type": "numeric"},
                "gender": {"type": "categorical"},
                "ethnicity": {"type": "categorical"},
                "relationship_status": {"type": "categorical"},
                "years_in_services": {"type": "numeric"},
            },
            "ancova_models": {
                "demographic": ["age", "gender", "ethnicity", "relationship_status"],
                "service": ["years_in_services"],
            },
        }
    }
    cfg["scoring"] = {"thresholds": list(thresholds), "primary_threshold": 0.5}
    cfg["statistics"]["post_hoc"] = {"ancova": post_hoc, "reference_site": "Burgundy"}
    return with_defaults(validate_config(cfg))


def scores_file(folder: Path, instruments=("RSA", "STAR-P", "ES"), totals_only: bool = False) -> Path:
    """The R fixture's scores as the score stage writes them (with the item counts of its contract)."""
    d = fixture_scores()
    d = d[d.instrument.isin(instruments) & ((d.scale == "total") | (not totals_only))].copy()
    k = {(i, s.key): s.k for i in instruments for s in load_instrument(i).scales}
    d["items_total"] = [k[(i, s)] for i, s in zip(d.instrument, d.scale, strict=True)]
    d["items_allowed_missing"] = d["items_total"] // 2  # floor(0.5 k)
    scored = d["score"].notna()
    d["items_answered"] = d["items_total"].where(scored, d["items_total"] - d["items_allowed_missing"] - 1)
    path = folder / "scores.csv"
    d[CONTRACTS["scores"].names].to_csv(path, index=False)
    return path


def outputs(folder: Path, names) -> dict[str, Path]:
    return {name: folder / f"{name}.csv" for name in names}


def options(outs: dict[str, Path]) -> list[str]:
    return [x for name, path in outs.items() for x in (f"--{name.replace('_', '-')}", str(path))]


RESPONDENTS = REF / "inputs" / "comparisons_respondents.csv"


@pytest.fixture(scope="module")
def compare_output(tmp_path_factory, run_cocapp, tiny_config) -> dict[str, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("compare")
    outs = outputs(tmp, COMPARE)
    assert (
        run_cocapp(
            "compare-sites", comparisons_config(tiny_config), "--scores", scores_file(tmp), *options(outs)
        )
        == 0
    )
    return {name: read(name, path) for name, path in outs.items()}  # each file under its contract


@pytest.fixture(scope="module")
def ancova_output(tmp_path_factory, run_cocapp, tiny_config) -> dict[str, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("ancova")
    outs = outputs(tmp, ANCOVA)
    args = ["--scores", scores_file(tmp), "--respondents", RESPONDENTS, *options(outs)]
    assert run_cocapp("ancova", comparisons_config(tiny_config), *args) == 0
    return {name: read(name, path) for name, path in outs.items()}


def test_compare_sites_stage_writes_every_table(compare_output):
    for name, df in compare_output.items():
        assert list(df.columns) == CONTRACTS[name].names, name  # in the documented order
        assert len(df) > 0 and set(df["threshold"]) == {"0.5"}, name
    anova = compare_output["anova"]
    assert list(zip(anova.instrument, anova.scale, strict=True)) == [
        ("RSA", "life_goals"),
        ("RSA", "total"),
        ("STAR-P", "total"),
        ("ES", "self_esteem_self_efficacy"),
        ("ES", "total"),
    ]
    # the stage's numbers are the R ones (full precision survives the CSV round trip)
    golden = pd.read_csv(GOLDEN / "anova.csv")
    np.testing.assert_allclose(anova["F"], golden["F"], rtol=1e-9)
    edge = anova[anova.scale == "self_esteem_self_efficacy"].iloc[0]
    assert edge["k_sites"] == 5 and "Provence" in edge["note"]
    corr = compare_output["correlations"]
    assert list(corr.site.unique()) == ["All", *SITES]
    gold = pd.read_csv(GOLDEN / "correlations.csv")
    np.testing.assert_allclose(corr["r"], gold["r"], rtol=1e-9)
    for name in ("tukey", "games_howell"):
        pairs = compare_output[name]
        assert (pairs.groupby(["instrument", "scale"]).size() == 15).all(), name
        # the pairs with the site without scores are written empty, with the reason
        empty = pairs[(pairs.scale == "self_esteem_self_efficacy") & (pairs.site_b == "Provence")]
        assert len(empty) == 5 and empty["p_adj"].isna().all(), name
        assert empty["note"].str.contains("Provence").all(), name


def test_ancova_stage_writes_every_table(ancova_output):
    for name, df in ancova_output.items():
        assert list(df.columns) == CONTRACTS[name].names, name
        assert len(df) > 0 and set(df["threshold"]) == {"0.5"}, name
    means = ancova_output["ancova_means"]
    sel = means[(means.scale == "total") & (means.instrument == "RSA") & (means.model == "service")]
    assert list(sel.site) == SITES
    gold_means = pd.read_csv(GOLDEN / "ancova_means.csv")
    merged = gold_means.merge(means, on=["instrument", "scale", "model", "site"], suffixes=("_r", ""))
    assert len(merged) == len(gold_means)
    np.testing.assert_allclose(merged["adj_mean"], merged["adj_mean_r"], rtol=1e-9)
    assert set(ancova_output["ancova_posthoc"]["method"]) == {"tukey"}
    assert set(ancova_output["ancova"]["model"]) == {"demographic", "service"}


def test_stages_are_deterministic_and_honour_post_hoc_switch(tmp_path, run_cocapp, tiny_config):
    small = scores_file(tmp_path, ("RSA", "STAR-P"), totals_only=True)
    config = comparisons_config(tiny_config, "sidak")
    runs = []
    for name in ("a", "b"):
        outs = outputs(tmp_path / name, COMPARE + ANCOVA)
        compare = {k: outs[k] for k in COMPARE}
        adjusted = {k: outs[k] for k in ANCOVA}
        assert run_cocapp("compare-sites", config, "--scores", small, *options(compare)) == 0
        assert (
            run_cocapp("ancova", config, "--scores", small, "--respondents", RESPONDENTS, *options(adjusted))
            == 0
        )
        runs.append({k: p.read_bytes() for k, p in outs.items()})
    assert runs[0] == runs[1]
    assert set(read("ancova_posthoc", tmp_path / "a" / "ancova_posthoc.csv")["method"]) == {"sidak"}


def test_one_instrument_gives_an_empty_correlation_table(tmp_path, cocapp_stage, tiny_config):
    small = scores_file(tmp_path, ("RSA",), totals_only=True)
    outs = outputs(tmp_path, COMPARE)
    code, log = cocapp_stage(
        "compare-sites",
        comparisons_config(tiny_config, instruments=("RSA",)),
        "--scores",
        small,
        *options(outs),
    )
    assert code == 0, log
    corr = read("correlations", outs["correlations"])  # a header-only file still meets its contract
    assert len(corr) == 0 and list(corr.columns) == CONTRACTS["correlations"].names
    assert len(read("anova", outs["anova"])) == 1


def test_ancova_stage_reports_missing_respondent(tmp_path, cocapp_stage, tiny_config):
    resp = pd.read_csv(RESPONDENTS).iloc[1:]
    path = tmp_path / "resp.csv"
    resp.to_csv(path, index=False)
    outs = outputs(tmp_path / "o", ANCOVA)
    args = ["--scores", scores_file(tmp_path), "--respondents", path, *options(outs)]
    code, log = cocapp_stage("ancova", comparisons_config(tiny_config), *args)
    assert code == 1
    assert "have scores but no respondent row" in log
    assert not (tmp_path / "o").exists()


def test_stage_rejects_scores_without_a_configured_threshold(tmp_path, cocapp_stage, tiny_config):
    outs = outputs(tmp_path / "o", COMPARE)
    config = comparisons_config(tiny_config, thresholds=(0.2, 0.5))
    small = scores_file(tmp_path, ("RSA", "STAR-P"), totals_only=True)
    code, log = cocapp_stage("compare-sites", config, "--scores", small, *options(outs))
    assert code == 1
    assert "no rows for threshold 0.2" in log
    assert not (tmp_path / "o").exists()
