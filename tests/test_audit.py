"""Reproduced vs published, and consistency checks of the print (statcheck-style, SEM bounds, implied F)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from stage_inputs import run_stats

from cocapp.presentation import audit as A
from cocapp.presentation.outputs import audit_files
from cocapp.stages.audit import load_published

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "publication"
PUBLISHED = ROOT / "data" / "published" / "cocapp2016_published.yaml"
KNOWN = {
    ("service_users", "RSA", "life_goals", "Champagne", "sem"),
    ("service_users", "RSA", "individually_tailored_services", "Artois", "sem"),
}


@pytest.fixture(scope="module")
def config(publication_config) -> dict:
    return publication_config


@pytest.fixture(scope="module")
def checks(config) -> pd.DataFrame:
    return A.consistency_checks(load_published(PUBLISHED), config)


def _flagged(df: pd.DataFrame) -> set[tuple]:
    bad = df[df["cannot_be_consistent"]]
    return {(r.group, r.instrument, r.scale, r.site, r.quantity) for r in bad.itertuples()}


def _corrupt(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = PUBLISHED.read_text("utf-8")
    assert text.count(old) == count, f"{old!r} occurs {text.count(old)} times"
    path = tmp_path / "published.yaml"
    path.write_text(text.replace(old, new), "utf-8")
    return path


# -- printed precision -----------------------------------------------------------------------------
def test_printed_keeps_trailing_zeros_and_precision():
    pub = load_published(PUBLISHED)
    row = pub["table2_service_users"]["STAR-P"]["positive_clinician_input"]
    f = row["anova"][2]
    assert f.text == "2.80" and f.decimals == 2 and f.interval() == pytest.approx((2.795, 2.805))
    cc_total = pub["table3_care_coordinators"]["RSA"]["total"]["anova"][2]
    assert cc_total.text == "0.997" and cc_total.half_unit == pytest.approx(0.0005)
    p0 = A._printed(pub["table4_correlations_service_users"]["pairs"][0]["p_reported"])
    assert p0.text == "0.000" and float(p0) == 0.0 and p0.decimals == 3
    assert A.Printed("< 0.001").interval() == (0.0, 0.001)
    assert A.Printed("448").half_unit == 0.0


def test_implied_f_equals_oneway_anova_on_raw_data():
    # independent check: scipy.stats.f_oneway on the raw scores vs F from (mean, SEM, n) summaries
    rng = np.random.default_rng(7)
    groups = [
        rng.normal(loc, 1 + 0.2 * i, size=n) for i, (loc, n) in enumerate([(3, 40), (3.3, 55), (2.8, 31)])
    ]
    means = np.array([g.mean() for g in groups])
    sems = np.array([g.std(ddof=1) / math.sqrt(len(g)) for g in groups])
    ns = np.array([len(g) for g in groups], float)
    assert A.implied_f(means, sems, ns) == pytest.approx(stats.f_oneway(*groups).statistic, rel=1e-9)


# -- the real print --------------------------------------------------------------------------------
def test_exactly_the_two_known_sems_cannot_be_consistent(checks):
    assert _flagged(checks) == KNOWN


def test_rows_of_the_known_sems_are_the_only_f_inconsistent_rows(checks):
    f_rows = checks[checks["check"] == "F_from_cells"]
    assert len(f_rows) == 22  # 16 service-user + 6 care-coordinator scales
    bad = f_rows[~f_rows["consistent"]]
    assert set(bad["scale"]) == {"life_goals", "individually_tailored_services"}
    assert set(bad["group"]) == {"service_users"}


def test_value_that_fits_is_given_and_fits(checks, config, tmp_path):
    text = PUBLISHED.read_text("utf-8")
    for _, _, scale, site, _ in KNOWN:
        cell = checks[
            (checks["check"] == "sem_bound")
            & (checks["scale"] == scale)
            & (checks["site"] == site)
            & (checks["group"] == "service_users")
        ].iloc[0]
        v = float(cell["suggested_value"])
        # a plausible SEM, below the bound, inside the feasible interval that excludes the printed one
        assert 0.05 < v < float(cell["recomputed_high"])
        assert cell["suggested_low"] <= v <= cell["suggested_high"] < float(cell["printed"])
        text = text.replace(
            f"[{'3.38, 0.97' if site == 'Champagne' else '3.27, 1.00'}]",
            f"[{'3.38' if site == 'Champagne' else '3.27'}, {cell['suggested_value']}]",
        )
    # with both suggestions written in, the print is consistent throughout
    path = tmp_path / "fixed.yaml"
    path.write_text(text, "utf-8")
    fixed = A.consistency_checks(load_published(path), config)
    assert fixed["consistent"].all()


def test_statcheck_p_values_of_the_print_are_consistent(checks):
    p = checks[checks["check"].isin(["p_from_F", "p_from_r"])]
    assert len(p) == 22 + 3
    assert p["consistent"].all()
    stars = checks[checks["check"] == "stars"]
    assert len(stars) == 22 and stars["consistent"].all()


def test_detector_does_not_read_print_anomalies(tmp_path, config):
    text = PUBLISHED.read_text("utf-8")
    cut = text.index("print_anomalies:")
    path = tmp_path / "published.yaml"
    path.write_text(text[:cut], "utf-8")
    assert _flagged(A.consistency_checks(load_published(path), config)) == KNOWN


# -- deliberately corrupted copies -----------------------------------------------------------------
def test_corrupted_impossible_sem_is_found_with_the_value_that_fits(tmp_path, config):
    # ES total, Dauphine: SEM 0.05 -> 0.50 (SD ~ 3.9 on a 1-4 scale)
    path = _corrupt(
        tmp_path, "[2.64, 0.05], [2.62, 0.05], [2.73, 0.04]]", "[2.64, 0.50], [2.62, 0.05], [2.73, 0.04]]"
    )
    chk = A.consistency_checks(load_published(path), config)
    assert _flagged(chk) == KNOWN | {("service_users", "ES", "total", "Dauphine", "sem")}
    cell = chk[
        (chk["check"] == "sem_bound")
        & (chk["instrument"] == "ES")
        & (chk["scale"] == "total")
        & (chk["site"] == "Dauphine")
    ].iloc[0]
    assert abs(float(cell["suggested_value"]) - 0.05) <= 0.011


def test_corrupted_p_is_found_by_statcheck(tmp_path, config):
    path = _corrupt(tmp_path, "[5, 429, 3.45, 0.005]", "[5, 429, 3.45, 0.050]")
    chk = A.consistency_checks(load_published(path), config)
    bad = chk[(chk["check"] == "p_from_F") & ~chk["consistent"]]
    assert list(zip(bad["instrument"], bad["scale"], strict=False)) == [("STAR-P", "total")]
    assert bad.iloc[0]["suggested_value"] == "0.005"
    assert bad.iloc[0]["cannot_be_consistent"]


def test_corrupted_correlation_is_found(tmp_path, config):
    path = _corrupt(tmp_path, "r: 0.138", "r: 0.038")
    chk = A.consistency_checks(load_published(path), config)
    bad = chk[(chk["check"] == "p_from_r") & ~chk["consistent"]]
    assert list(zip(bad["instrument"], bad["scale"], strict=False)) == [("STAR-P", "ES")]


def test_corrupted_plausible_mean_flags_its_row_and_lists_the_fix(tmp_path, config):
    # care coordinators, Choice, Languedoc mean 4.04 -> 3.04: no bound broken, but the row's F cannot hold
    path = _corrupt(tmp_path, "[4.04, 0.10]", "[3.04, 0.10]")
    chk = A.consistency_checks(load_published(path), config)
    row = chk[
        (chk["check"] == "F_from_cells") & (chk["group"] == "care_coordinators") & (chk["scale"] == "choice")
    ]
    assert not row.iloc[0]["consistent"]
    fits = chk[
        (chk["check"] == "F_single_cell_fit") & (chk["site"] == "Languedoc") & (chk["quantity"] == "mean")
    ]
    assert any(abs(float(v) - 4.04) <= 0.03 for v in fits["suggested_value"])
    assert _flagged(chk) == KNOWN  # no cell is declared impossible: one equation cannot single it out


# -- printed vs regenerated ------------------------------------------------------------------------
def test_comparison_on_fixture_matches_all_but_the_two_sems(
    config, checks, publication_stats, publication_reconciliation
):
    pub = load_published(PUBLISHED)
    cmp_ = A.compare(pub, config, publication_stats, publication_reconciliation, checks)
    # 12 returns + 22 rows x (4 ANOVA numbers + 12 site cells) + 3 pairs x 3 + 22 x (alpha, N)
    # + the number of significant outcomes per group (anova.csv given; issue 14)
    assert len(cmp_) == 12 + 22 * 16 + 9 + 44 + 2
    assert cmp_["match"].notna().all()
    bad = cmp_[cmp_["match"] == False]  # noqa: E712
    assert {(r.group, r.instrument, r.scale, r.site, r.quantity) for r in bad.itertuples()} == KNOWN
    assert bad["consistency_flag"].str.contains("cannot be consistent").all()
    # "0.000" printed p: the regenerated 1.6e-42 matches it (p < 0.0005)
    p0 = cmp_[(cmp_["table"] == "Table 4") & (cmp_["quantity"] == "p") & (cmp_["instrument"] == "RSA")]
    assert p0["match"].all()


def test_match_is_within_half_a_unit_of_the_last_digit(config):
    pub = {
        "sites": [{"name": "Artois"}],
        "table2_service_users": {
            "RSA": {
                "total": {
                    "anova": [A.Printed("5"), A.Printed("394"), A.Printed("0.65"), A.Printed("0.659")],
                    "sites": [[A.Printed("3.27"), A.Printed("0.12")]],
                }
            }
        },
    }
    anova = pd.DataFrame(
        [
            dict(
                group="service_users",
                instrument="RSA",
                scale="total",
                threshold="0.5",
                df1=5.0,
                df2=394.0,
                F=0.6549999,
                p=0.6595001,
            )
        ]
    )
    desc = pd.DataFrame(
        [
            dict(
                group="service_users",
                instrument="RSA",
                scale="total",
                threshold="0.5",
                site="Artois",
                mean=3.2650001,
                sem=0.1150,
            )
        ]
    )
    out = A.compare(pub, config, {"anova": anova, "descriptives": desc}).set_index("quantity")
    assert out.loc["F", "match"] and out.loc["mean", "match"] and out.loc["df2", "match"]
    assert not out.loc["p", "match"]  # 0.6595001 rounds to 0.660
    assert out.loc["sem", "match"]  # 0.115 is the edge of 0.12's interval


def test_missing_regenerated_values_are_nan_not_false(config):
    out = A.compare(load_published(PUBLISHED), config, {}, {})
    assert out["match"].isna().all()
    assert (out["note"] == "no regenerated value").all()


# -- the audit stage -------------------------------------------------------------------------------
A_STATS = ("anova", "descriptives", "reliability", "correlations")


def audit_args(folder: Path) -> list:
    stats = [x for name in A_STATS for x in (f"--{name}", FIX / "stats" / f"{name}.csv")]
    recon = [FIX / "ingest" / f"{g}_reconciliation.csv" for g in ("service_users", "care_coordinators")]
    outs = [
        "--comparison",
        folder / "published_comparison.csv",
        "--consistency",
        folder / "published_consistency.csv",
    ]
    statements = run_stats("missingness", "normality")
    return ["--published", PUBLISHED, *stats, *statements, "--reconciliation", *recon, *outs]


def test_stage_writes_the_documented_files_deterministically(
    tmp_path, config, cocapp_stage, documented_columns
):
    code, log = cocapp_stage("audit", config, *audit_args(tmp_path / "a"))
    assert code == 0, log
    # + 2 significant counts; + 7 of the missing-data and normality statements (run_stats fixture)
    assert "424 of 426 printed numbers matched within printed precision" in log
    assert "2 printed value(s) that cannot be consistent" in log
    # the files the workflow declares for the stage (reports/tables/...), and nothing else
    written = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").iterdir())
    assert written == sorted(Path(f).relative_to("reports/tables") for f in audit_files())
    for path in (tmp_path / "a").iterdir():
        columns = list(pd.read_csv(path, nrows=0).columns)
        assert columns == documented_columns(f"reports/tables/{path.name}"), path.name
    assert cocapp_stage("audit", config, *audit_args(tmp_path / "b"))[0] == 0
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_stage_names_a_stats_file_breaking_its_contract(tmp_path, config, cocapp_stage, publication_stats):
    bad = tmp_path / "anova.csv"
    publication_stats["anova"].drop(columns="F").to_csv(bad, index=False)
    args = [bad if a == FIX / "stats" / "anova.csv" else a for a in audit_args(tmp_path / "o")]
    code, log = cocapp_stage("audit", config, *args)
    assert code == 1
    assert f"{bad}: column(s) ['F'] missing (contract stats/anova.csv)" in log
    assert not (tmp_path / "o").exists()


# -- one check at a time ---------------------------------------------------------------------------
def _row(means: list[str], sems: list[str], F: str = "1.00", p: str = "0.400") -> A.SiteRow:
    """A hand-made printed row on a 1-5 scale, two sites of known size 5 each (df 1, 8)."""
    P = A.Printed
    return A.SiteRow(
        "Table 2", "g", "RSA", "total", ["A", "B"], P("1"), P("8"), P(F), P(p),
        [P(m) for m in means], [P(s) for s in sems], [5, 5], 1.0, 5.0,
    )  # fmt: skip


def test_sem_bound_of_one_cell_by_hand():
    # mean 3.00 on 1-5 with n >= 5: largest variance (5 - 3)(3 - 1) = 4, SEM <= sqrt(4 / 4) = 1
    row = _row(["3.00", "3.00"], ["1.00", "1.01"])
    ok, bad = A._check_cell(row, 0, 5.0), A._check_cell(row, 1, 5.0)
    assert ok["check"] == bad["check"] == "sem_bound"
    assert ok["recomputed_high"] == 1.0 and ok["consistent"] and not ok["cannot_be_consistent"]
    assert bad["cannot_be_consistent"]  # 1.01 prints values >= 1.005 > 1
    assert "with n >= 5 (Bhatia-Davis)" in ok["note"]


def test_mean_outside_the_scale_is_a_mean_range_failure():
    cell = A._check_cell(_row(["5.01", "3.00"], ["0.10", "0.10"]), 0, 5.0)
    assert cell["check"] == "mean_range" and cell["cannot_be_consistent"]
    assert cell["note"] == "mean outside the scale's range 1-5"


def test_p_from_f_and_r_by_hand():
    # F(1, 8) = 1.00: p = P(F > 1) = P(|t_8| > 1) = 0.3466 (t table); printed 0.347 fits, 0.300 does not
    assert A._check_p_from_f(_row(["3", "3"], ["1", "1"], "1.00", "0.347"))["consistent"]
    wrong = A._check_p_from_f(_row(["3", "3"], ["1", "1"], "1.00", "0.300"))
    assert wrong["cannot_be_consistent"] and wrong["suggested_value"] == "0.347"
    # r = 0.5, n = 5: t = 1 on 3 df, two-sided p = 0.391 (t table)
    pair = {"pair": ["RSA", "ES"], "r": "0.500", "n": 5, "p": "0.391"}
    check = A._check_p_from_r("Table 4", "g", pair)
    assert check["check"] == "p_from_r" and check["consistent"] and check["instrument"] == "RSA"
    assert round(check["recomputed"], 3) == 0.391


def test_f_from_cells_and_single_cell_fits_by_hand():
    # means 2 and 4, SEM 0.5 with n = 5 each: SD^2 = 1.25, SSB = 5 + 5 = 10, SSW = 2 * 4 * 1.25 = 10,
    # F = (10 / 1) / (10 / 8) = 8
    fits_row = _row(["2.00", "4.00"], ["0.50", "0.50"], "8.00", "0.022")
    assert A._check_f_from_cells(fits_row)["recomputed"] == pytest.approx(8.0)
    checks = A._site_row_checks(fits_row, None, 0.05)
    assert [c["check"] for c in checks] == ["p_from_F", "sem_bound", "sem_bound", "F_from_cells"]
    # printed F = 2.00 cannot come from these cells; no cell breaks a bound, so single-cell fits follow:
    # SEM_A = s with 10 / ((20 s^2 + 5) / 8) = 2 gives s = sqrt(7) / 2 = 1.3229
    wrong_f = _row(["2.00", "4.00"], ["0.50", "0.50"], "2.00", "0.195")
    checks = A._site_row_checks(wrong_f, None, 0.05)
    f_row = next(c for c in checks if c["check"] == "F_from_cells")
    fits = [c for c in checks if c["check"] == "F_single_cell_fit"]
    assert not f_row["consistent"]
    assert f"{len(fits)} single-cell values that would fit follow" in f_row["note"]
    sem_a = next(c for c in fits if c["site"] == "A" and c["quantity"] == "sem")
    assert sem_a["recomputed"] == pytest.approx(math.sqrt(7) / 2) and sem_a["suggested_value"] == "1.32"
