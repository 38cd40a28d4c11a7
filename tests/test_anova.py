"""One-way ANOVA: NIST StRD certified values, R goldens (tests/reference/comparisons.R), hand-computed
cases, edge cases, a pingouin cross-check, and the ``compare`` stage end to end."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from cocapp.stats.anova import ANOVA_COLUMNS, anova_frame, oneway_anova, site_codes

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
    assert list(res) == ANOVA_COLUMNS


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


# -- the compare stage end to end (CLI on the fixture) --------------------------------------------
def write_config(tmp_path: Path, post_hoc: str = "tukey", instruments=("RSA", "STAR-P", "ES")) -> Path:
    cfg = yaml.safe_load((HERE / "fixtures" / "tiny" / "config.yaml").read_text())
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
    cfg["statistics"]["post_hoc"] = {"ancova": post_hoc, "reference_site": "Burgundy"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run_stage(tmp_path: Path, config: Path, out: str = "out", scores: Path | None = None) -> Path:
    from cocapp.stats.compare import main

    outdir = tmp_path / out
    rc = main(
        [
            "--config",
            str(config),
            "--group",
            "service_users",
            "--threshold",
            "0.5",
            "--scores",
            str(scores or REF / "inputs" / "comparisons_scores.csv"),
            "--respondents",
            str(REF / "inputs" / "comparisons_respondents.csv"),
            "--outdir",
            str(outdir),
        ]
    )
    assert rc == 0
    return outdir


def totals_only(tmp_path: Path, instruments=("RSA", "STAR-P")) -> Path:
    """A smaller scores file (two outcomes) so that the stage tests stay fast."""
    d = fixture_scores()
    d = d[(d.scale == "total") & d.instrument.isin(instruments)]
    path = tmp_path / "scores_small.csv"
    d.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def stage_output(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("compare")
    return run_stage(tmp, write_config(tmp))


def test_compare_stage_writes_every_table(stage_output):
    from cocapp.stats.compare import OUTPUT_COLUMNS

    outdir = stage_output
    for name, cols in OUTPUT_COLUMNS.items():
        df = pd.read_csv(outdir / f"{name}.csv", dtype={"threshold": str})
        assert list(df.columns) == cols, name
        assert len(df) > 0, name
        if "threshold" in df:
            assert set(df["threshold"]) == {"0.5"}
    anova = pd.read_csv(outdir / "anova.csv")
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
    means = pd.read_csv(outdir / "ancova_means.csv")
    sel = means[(means.scale == "total") & (means.instrument == "RSA") & (means.model == "service")]
    assert list(sel.site) == SITES
    gold_means = pd.read_csv(GOLDEN / "ancova_means.csv")
    merged = gold_means.merge(means, on=["instrument", "scale", "model", "site"], suffixes=("_r", ""))
    assert len(merged) == len(gold_means)
    np.testing.assert_allclose(merged["adj_mean"], merged["adj_mean_r"], rtol=1e-9)
    corr = pd.read_csv(outdir / "correlations.csv")
    assert list(corr.site.unique()) == ["All", *SITES]
    gold = pd.read_csv(GOLDEN / "correlations.csv")
    np.testing.assert_allclose(corr["r"], gold["r"], rtol=1e-9)
    assert set(pd.read_csv(outdir / "ancova_posthoc.csv")["method"]) == {"tukey"}
    tukey = pd.read_csv(outdir / "tukey.csv")
    assert (tukey.groupby(["instrument", "scale"]).size() == 15).all()


def test_compare_stage_is_deterministic_and_honours_post_hoc_switch(tmp_path):
    small = totals_only(tmp_path)
    a = run_stage(tmp_path, write_config(tmp_path, "sidak"), "a", small)
    b = run_stage(tmp_path, write_config(tmp_path, "sidak"), "b", small)
    for f in sorted(a.iterdir()):
        assert f.read_bytes() == (b / f.name).read_bytes(), f.name
    assert set(pd.read_csv(a / "ancova_posthoc.csv")["method"]) == {"sidak"}


def test_compare_stage_one_instrument_gives_empty_correlations(tmp_path):
    small = totals_only(tmp_path, ("RSA",))
    outdir = run_stage(tmp_path, write_config(tmp_path, instruments=("RSA",)), scores=small)
    corr = pd.read_csv(outdir / "correlations.csv")
    assert len(corr) == 0 and "r" in corr.columns
    assert len(pd.read_csv(outdir / "anova.csv")) == 1


def test_compare_stage_reports_missing_respondent(tmp_path, capsys):
    from cocapp.stats.compare import main

    resp = pd.read_csv(REF / "inputs" / "comparisons_respondents.csv").iloc[1:]
    path = tmp_path / "resp.csv"
    resp.to_csv(path, index=False)
    rc = main(
        [
            "--config",
            str(write_config(tmp_path)),
            "--group",
            "service_users",
            "--threshold",
            "0.5",
            "--scores",
            str(REF / "inputs" / "comparisons_scores.csv"),
            "--respondents",
            str(path),
            "--outdir",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 1
    assert "have scores but no respondent row" in capsys.readouterr().err
    assert not (tmp_path / "o" / "anova.csv").exists()


def test_compare_stage_rejects_scores_of_another_threshold(tmp_path, capsys):
    from cocapp.stats.compare import main

    rc = main(
        [
            "--config", str(write_config(tmp_path)), "--group", "service_users", "--threshold", "0.2",
            "--scores", str(totals_only(tmp_path)),
            "--respondents", str(REF / "inputs" / "comparisons_respondents.csv"),
            "--outdir", str(tmp_path / "o"),
        ]
    )  # fmt: skip
    assert rc == 1
    assert "no rows for threshold 0.2" in capsys.readouterr().err
