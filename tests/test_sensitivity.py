"""Tests of the mean-replacement sensitivity stage (cocapp.stats.sensitivity, its figures in
cocapp.presentation.sensitivity_figures, and ``cocapp sensitivity``).

The inputs are the hand-set statistics in tests/fixtures/sensitivity/ (see its README for what each
outcome is built to show); expected values are read off those files or stated by hand, never taken from
cocapp's own output.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from stage_inputs import without_imputation

from cocapp.config import load_config
from cocapp.instruments import instrument_file, load_instruments
from cocapp.presentation import verdict as V
from cocapp.presentation.sensitivity_figures import figure_bytes, n_p_figure, site_means_figure
from cocapp.stats import sensitivity as S
from cocapp.workflow import Workflow

FIX = Path(__file__).parent / "fixtures" / "sensitivity"
KEYS = ["group", "instrument", "scale", "threshold"]


@pytest.fixture(scope="module")
def config(sensitivity_config):
    return sensitivity_config


@pytest.fixture(scope="module")
def instruments():
    return load_instruments(["RSA", "STAR-P"])


@pytest.fixture(scope="module")
def read(sensitivity_inputs):
    """``read(name)``: a fresh copy of the fixture's ``<name>.csv`` as the stage reads it (contracts)."""
    return lambda name: sensitivity_inputs[name].copy()


@pytest.fixture(scope="module")
def summary(config, instruments, read):
    return S.sensitivity_summary(read("anova"), read("ancova"), read("descriptives"), config, instruments)


def row(df: pd.DataFrame, group: str, instrument: str, scale: str, threshold: str) -> pd.Series:
    sel = df[
        (df.group == group)
        & (df.instrument == instrument)
        & (df.scale == scale)
        & (df.threshold == threshold)
    ]
    assert len(sel) == 1, (group, instrument, scale, threshold)
    return sel.iloc[0]


def config_with(tmp_path: Path, **scoring_or_stats) -> dict:
    """The fixture config with scoring/statistics keys replaced (thresholds, primary_threshold, alpha)."""
    raw = yaml.safe_load((FIX / "config.yaml").read_text("utf-8"))
    for key, value in scoring_or_stats.items():
        section = "statistics" if key == "significance_level" else "scoring"
        raw[section][key] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), "utf-8")
    return load_config(path)


# -- summary -------------------------------------------------------------------------------------
def test_summary_has_one_row_per_outcome_and_configured_threshold(summary, documented_columns):
    assert len(summary) == 6 * 3
    assert not summary.duplicated(KEYS).any()
    # the columns docs/outputs.md documents, one ancova_<model>_* block per configured model
    documented = documented_columns("sensitivity/summary.csv")
    models = ["demographic", "service"]
    assert set(summary.columns) == {c.replace("<model>", m) for c in documented for m in models}
    # scales in instrument-file order (RSA choice before total), thresholds in config order
    users = summary[summary.group == "users"]
    assert list(dict.fromkeys(zip(users.instrument, users.scale, strict=True))) == [
        ("RSA", "choice"),
        ("RSA", "total"),
        ("STAR-P", "positive_collaboration"),
        ("STAR-P", "total"),
    ]
    assert summary.threshold.tolist()[:3] == ["0.0", "0.2", "0.5"]


def test_primary_rows_equal_the_main_anova_and_ancova_rows_exactly(summary, read):
    anova = read("anova")
    ancova = read("ancova")
    prim = summary[summary.is_primary]
    assert len(prim) == 6 and set(prim.threshold) == {"0.5"}
    for r in prim.itertuples(index=False):
        a = row(anova, r.group, r.instrument, r.scale, "0.5")
        for col in ["n", "df1", "df2", "F", "p", "eta2"]:
            assert getattr(r, col) == a[col], (r.group, r.scale, col)  # exact, not approx
        assert r.significant == bool(a["significant"])
        for m in ["demographic", "service"]:
            site = ancova[
                (ancova.group == r.group)
                & (ancova.instrument == r.instrument)
                & (ancova.scale == r.scale)
                & (ancova.threshold == "0.5")
                & (ancova.model == m)
                & (ancova.term == "site")
            ]
            assert len(site) == 1
            for col in ["n", "F", "p", "partial_eta2"]:
                assert getattr(r, f"ancova_{m}_{col}") == site[col].iloc[0], (r.group, r.scale, m, col)
        assert not r.changes_inference and r.n_primary == r.n


def test_changes_inference_agrees_with_the_p_values(summary, config, read):
    alpha = config["statistics"]["significance_level"]
    anova = read("anova")
    for r in summary.itertuples(index=False):
        p = row(anova, r.group, r.instrument, r.scale, r.threshold)["p"]
        p_prim = row(anova, r.group, r.instrument, r.scale, "0.5")["p"]
        assert r.significant == (p < alpha)
        assert r.changes_inference == ((p < alpha) != (p_prim < alpha))
    # the flips the fixture was built for (README table)
    assert row(summary, "users", "RSA", "choice", "0.0").changes_inference
    assert not row(summary, "users", "RSA", "choice", "0.2").changes_inference
    assert row(summary, "users", "STAR-P", "positive_collaboration", "0.0").changes_inference
    assert not row(summary, "users", "STAR-P", "positive_collaboration", "0.2").changes_inference
    assert not summary[(summary.group == "staff")].changes_inference.any()
    # p = alpha exactly is not significant (p < alpha)
    assert not row(summary, "staff", "RSA", "total", "0.5").significant
    # ANCOVA per model: users RSA choice service model loses significance at 0.0 and 0.2
    # (p 0.07, 0.06 vs 0.03 at the primary threshold)
    assert row(summary, "users", "RSA", "choice", "0.0").ancova_service_changes_inference
    assert row(summary, "users", "RSA", "choice", "0.2").ancova_service_changes_inference
    assert not row(summary, "users", "RSA", "choice", "0.2").ancova_demographic_changes_inference


def test_missing_or_failed_ancova_rows_give_na_and_a_note(summary):
    failed = row(summary, "users", "STAR-P", "positive_collaboration", "0.0")
    assert failed.ancova_service_n == 208
    assert np.isnan(failed.ancova_service_F) and np.isnan(failed.ancova_service_p)
    assert pd.isna(failed.ancova_service_significant) and pd.isna(failed.ancova_service_changes_inference)
    assert failed.note == "ANCOVA service: collinear covariates: years_in_services"
    absent = row(summary, "users", "STAR-P", "total", "0.2")
    assert pd.isna(absent.ancova_service_n) and np.isnan(absent.ancova_service_p)
    assert absent.note == "ANCOVA service: no site row in ancova.csv"
    assert absent.ancova_demographic_p == 0.45  # the other model is unaffected
    assert row(summary, "users", "RSA", "choice", "0.0").note == ""


def test_no_ancova_rows_at_all_does_not_crash(config, instruments, read):
    empty = read("ancova").iloc[0:0]
    out = S.sensitivity_summary(read("anova"), empty, read("descriptives"), config, instruments)
    assert len(out) == 18
    assert out["ancova_demographic_p"].isna().all() and out["ancova_service_significant"].isna().all()
    assert out["p"].notna().all()
    only_demo = read("ancova")
    only_demo = only_demo[only_demo.model == "demographic"]
    out = S.sensitivity_summary(read("anova"), only_demo, read("descriptives"), config, instruments)
    assert out["ancova_service_p"].isna().all() and out["ancova_demographic_p"].notna().all()


def test_significance_level_and_primary_threshold_come_from_config(tmp_path, instruments, read):
    anova = read("anova").drop(columns="significant")  # flags were computed at 0.05
    cfg = config_with(tmp_path, significance_level=0.1)
    out = S.sensitivity_summary(anova, read("ancova"), read("descriptives"), cfg, instruments)
    # staff RSA total p = 0.05 at 0.5 is significant at 0.1, so 0.0 (0.6) and 0.2 (0.5) now change
    assert row(out, "staff", "RSA", "total", "0.5").significant
    assert row(out, "staff", "RSA", "total", "0.0").changes_inference
    cfg = config_with(tmp_path, primary_threshold=0.2)
    out = S.sensitivity_summary(read("anova"), read("ancova"), read("descriptives"), cfg, instruments)
    assert out[out.is_primary].threshold.unique().tolist() == ["0.2"]
    # users STAR-P positive collaboration: ns at 0.2 (0.052), significant at 0.0 (0.046), ns at 0.5 (0.07)
    assert row(out, "users", "STAR-P", "positive_collaboration", "0.0").changes_inference
    assert not row(out, "users", "STAR-P", "positive_collaboration", "0.5").changes_inference
    assert row(out, "users", "RSA", "choice", "0.0").n_primary == 205


def test_significant_flag_computed_at_another_level_is_an_error(config, instruments, read):
    anova = read("anova")
    anova.loc[
        (anova.group == "staff") & (anova.scale == "total") & (anova.threshold == "0.5"), "significant"
    ] = True
    with pytest.raises(ValueError, match=r"anova.csv: staff RSA total threshold 0.5: significant=True"):
        S.sensitivity_summary(anova, read("ancova"), read("descriptives"), config, instruments)


def test_missing_threshold_and_duplicates_are_named(config, instruments, read):
    anova = read("anova")
    lacking = anova[~((anova.group == "staff") & (anova.scale == "choice") & (anova.threshold == "0.2"))]
    with pytest.raises(ValueError, match=r"staff RSA choice has no row for threshold 0.2"):
        S.sensitivity_summary(lacking, read("ancova"), read("descriptives"), config, instruments)
    dup = pd.concat([anova, anova.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match=r"anova.csv: more than one row for group='users'"):
        S.sensitivity_summary(dup, read("ancova"), read("descriptives"), config, instruments)
    with pytest.raises(ValueError, match=r"ancova.csv: column\(s\) \['term'\] missing"):
        S.sensitivity_summary(
            anova, read("ancova").drop(columns="term"), read("descriptives"), config, instruments
        )


def test_adding_a_threshold_adds_its_rows_without_code_change(tmp_path, instruments, read):
    cfg = config_with(tmp_path, thresholds=[0.0, 0.2, 0.25, 0.5])

    def with_025(df: pd.DataFrame, n_cols: tuple[str, ...] = ()) -> pd.DataFrame:
        # 0.25 rows: copies of the 0.5 rows (n equal to the primary n keeps every n non-decreasing)
        extra = df[df.threshold == "0.5"].copy()
        extra["threshold"] = "0.25"
        return pd.concat([df, extra], ignore_index=True)

    out = S.sensitivity_summary(
        with_025(read("anova")), with_025(read("ancova")), with_025(read("descriptives")), cfg, instruments
    )
    assert len(out) == 6 * 4
    assert out[(out.group == "users") & (out.scale == "choice")].threshold.tolist() == [
        "0.0",
        "0.2",
        "0.25",
        "0.5",
    ]
    r = row(out, "users", "RSA", "choice", "0.25")
    assert r.n == 240 and r.p == 0.012 and not r.changes_inference and r.n_not_decreasing
    pairs = S.changing_pairs(with_025(read("tukey")), cfg)
    assert set(pairs.threshold) == {"0.0", "0.2", "0.25", "0.5"}
    assert pairs[pairs.group == "users"].significant_at.iloc[0] == "0.2;0.25;0.5"
    facts = S.verdict_facts(
        out,
        S.site_shifts(with_025(read("descriptives")), cfg),
        pairs,
        pd.DataFrame(columns=S.CHECK_COLUMNS),
        cfg,
        instruments,
    )
    text = V.render_verdict(facts)
    assert "complete-case, 20 %, 25 % and 50 %; primary analysis: 50 %" in text


# -- site means ---------------------------------------------------------------------------------
def test_site_shifts_against_the_primary_means(config, summary, read):
    shifts = S.site_shifts(read("descriptives"), config)
    assert len(shifts) == 6 * 3 * 4
    north = row(shifts[shifts.site == "North"], "users", "RSA", "choice", "0.0")
    assert north["shift"] == 3.12 - 3.00 and north.mean_primary == 3.00 and north.n_primary == 78
    assert north.shift_sd == (3.12 - 3.00) / 0.84  # pooled SD of the primary analysis
    assert shifts[shifts.threshold == "0.5"]["shift"].eq(0).all()
    assert shifts[(shifts.group == "users") & (shifts.scale == "choice")].site.tolist()[:4] == [
        "North",
        "South",
        "East",
        "All",
    ]
    r = row(summary, "users", "RSA", "choice", "0.0")
    # hand: shifts at 0.0 are North +0.12, South +0.10, East -0.05
    assert r.max_abs_mean_shift_site == "North" and r.max_abs_mean_shift == pytest.approx(0.12, abs=1e-12)
    assert row(summary, "staff", "RSA", "total", "0.0").max_abs_mean_shift_site == "South"  # 3.55 vs 3.20


# -- checks ---------------------------------------------------------------------------------------
def test_monotonicity_check_passes_on_the_fixture(summary, config, read):
    counts = S.n_counts(summary, S.site_shifts(read("descriptives"), config), ["demographic", "service"])
    assert set(counts.source) >= {"anova", "ancova demographic", "ancova service", "site North", "site All"}
    assert S.check_n_monotone(counts, ["0.0", "0.2", "0.5"]).empty
    assert summary.n_not_decreasing.all()


def test_monotonicity_check_catches_a_decreasing_n(config, instruments, read):
    anova = read("anova")
    anova.loc[(anova.group == "users") & (anova.scale == "choice") & (anova.threshold == "0.2"), "n"] = 180
    out = S.sensitivity_summary(anova, read("ancova"), read("descriptives"), config, instruments)
    viol = S.check_n_monotone(S.n_counts(out), ["0.5", "0.0", "0.2"])  # order given does not matter
    assert len(viol) == 1
    v = viol.iloc[0]
    assert (v.group, v.scale, v.source, v.threshold, v.compared_with, v.expected, v.observed) == (
        "users",
        "choice",
        "anova",
        "0.2",
        "0.0",
        186,
        180,
    )
    assert not row(out, "users", "RSA", "choice", "0.2").n_not_decreasing
    assert (
        "n smaller than at the next lower threshold: anova" in row(out, "users", "RSA", "choice", "0.2").note
    )
    assert row(out, "users", "RSA", "choice", "0.5").n_not_decreasing
    # a site count that drops is caught too
    desc = read("descriptives")
    desc.loc[
        (desc.group == "staff") & (desc.scale == "total") & (desc.site == "East") & (desc.threshold == "0.5"),
        "n",
    ] = 16
    viol = S.check_n_monotone(S.n_counts(out, S.site_shifts(desc, config)), ["0.0", "0.2", "0.5"])
    site = viol[viol.source == "site East"]
    assert site[["group", "scale", "threshold", "expected", "observed"]].values.tolist() == [
        ["staff", "total", "0.5", 21, 16]
    ]


def test_complete_case_n_equals_reliability_n_complete(summary, config, read):
    rel = read("reliability")
    assert S.check_complete_case_n(summary, rel, config).empty
    # the check itself, against the fixture by hand: every n at 0.0 equals n_complete
    cc = summary[summary.threshold == "0.0"].merge(rel, on=["group", "instrument", "scale"])
    assert len(cc) == 6 and (cc.n == cc.n_complete).all()
    bad = rel.copy()
    bad.loc[(bad.group == "users") & (bad.scale == "choice"), "n_complete"] = 185
    bad = bad[~((bad.group == "staff") & (bad.scale == "total"))]
    out = S.check_complete_case_n(summary, bad, config)
    assert out[["group", "scale"]].values.tolist() == [["users", "choice"], ["staff", "total"]]
    assert out.expected.iloc[0] == 185 and pd.isna(out.expected.iloc[1])
    assert out.observed.tolist() == [186, 52]
    assert out.message.tolist()[1] == "no row in reliability.csv"


def test_complete_case_check_skipped_without_a_zero_threshold(tmp_path, summary, read):
    cfg = config_with(tmp_path, thresholds=[0.2, 0.5])
    assert S.check_complete_case_n(summary, read("reliability"), cfg).empty


# -- pairs ----------------------------------------------------------------------------------------
def test_changing_pairs(config, read):
    pairs = S.changing_pairs(read("tukey"), config)
    got = pairs.drop_duplicates(["group", "scale", "site_a", "site_b"])
    assert got[
        ["group", "scale", "site_a", "site_b", "significant_at", "not_significant_at"]
    ].values.tolist() == [
        ["users", "choice", "North", "South", "0.2;0.5", "0.0"],
        ["staff", "total", "North", "South", "0.5", "0.0;0.2"],
    ]
    users = pairs[pairs.group == "users"]
    assert users.p_adj.tolist() == [0.12, 0.03, 0.01]
    assert users.changes_inference.tolist() == [True, False, False]
    # North-East of users RSA choice is significant everywhere (0.04, 0.02, 0.01) and South-East of
    # STAR-P total has an empty p at 0.0 and is never significant: neither is a change
    assert not (pairs.site_b == "East").any()


# -- verdict ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def verdict(summary, config, instruments, read):
    shifts = S.site_shifts(read("descriptives"), config)
    pairs = S.changing_pairs(read("tukey"), config)
    checks = pd.concat(
        [
            S.check_n_monotone(
                S.n_counts(summary, shifts, ["demographic", "service"]), ["0.0", "0.2", "0.5"]
            ),
            S.check_complete_case_n(summary, read("reliability"), config),
        ],
        ignore_index=True,
    )
    facts = S.verdict_facts(summary, shifts, pairs, checks, config, instruments)
    return facts, V.render_verdict(facts)


def test_verdict_states_which_outcomes_keep_or_lose_significance(verdict):
    _, text = verdict
    head, users, staff = text.split("\n## ")
    assert users.startswith("Users\n") and staff.startswith("Staff\n")  # config order
    assert "> TEST FIXTURE: hand-set statistics for the sensitivity tests." in head.splitlines()
    expected_users = [
        "**Verdict.** The conclusion about site differences (one-way ANOVA or an ANCOVA model) depends "
        "on the replacement threshold for 2 of 4 outcomes (RSA Choice, STAR-P Positive collaboration); "
        "the other 2 keep their conclusion across complete-case and 20–50 % replacement.",
        "**One-way ANOVA, site effect.** Across complete-case and 20–50 % replacement, 2 of 4 outcomes "
        "keep their conclusion at every threshold.",
        "- Significant at every threshold: RSA Total.",
        "- Not significant at any threshold: STAR-P Total.",
        "- RSA Choice is significant in the primary analysis (50 %: n = 240, p = 0.012) but loses "
        "significance under complete-case analysis (n = 186, p = 0.083).",
        "- STAR-P Positive collaboration is not significant in the primary analysis (50 %: n = 236, "
        "p = 0.070) but becomes significant under complete-case analysis (n = 210, p = 0.046).",
        "**ANCOVA, service model (years_in_services), site effect.** Across complete-case and 20–50 % "
        "replacement, 1 of 4 outcomes keeps its conclusion at every threshold.",
        "- RSA Choice is significant in the primary analysis (50 %: n = 238, p = 0.030) but loses "
        "significance under complete-case analysis (n = 184, p = 0.070) and at 20 % (n = 203, p = 0.060).",
        "- No result at some thresholds, conclusion unchanged where estimable: STAR-P Positive "
        "collaboration (complete-case), STAR-P Total (20 %).",
        "**Tukey pairs.** 1 site pair changes significance between thresholds: RSA Choice North–South "
        "(significant at 20 % and 50 %, not under complete-case analysis).",
    ]
    expected_staff = [
        "**Verdict.** The conclusion about site differences (one-way ANOVA or an ANCOVA model) depends "
        "on the replacement threshold for 1 of 2 outcomes (RSA Choice); the other outcome keeps its "
        "conclusion across complete-case and 20–50 % replacement.",
        "**One-way ANOVA, site effect.** Across complete-case and 20–50 % replacement, every outcome "
        "(2 of 2) keeps its conclusion at every threshold.",
        "- Significant at every threshold: RSA Choice.",
        "- Not significant at any threshold: RSA Total.",
        "- RSA Choice is significant in the primary analysis (50 %: n = 69, p = 0.040) but loses "
        "significance under complete-case analysis (n = 57, p = 0.200) and at 20 % (n = 65, p = 0.100).",
        "**Tukey pairs.** 1 site pair changes significance between thresholds: RSA Total North–South "
        "(significant at 50 %, not under complete-case analysis or at 20 %).",
        "**Checks.** The number analysed never decreases as the threshold grows. The complete-case n of "
        "every outcome equals the reliability stage's n_complete.",
    ]
    for section, expected in ((users, expected_users), (staff, expected_staff)):
        lines = section.splitlines()
        for sentence in expected:
            assert sentence in lines, sentence
    # staff RSA choice keeps significance in the ANOVA (p 0.0496 at complete-case), so its p is not quoted
    assert "0.0496" not in text
    assert "RSA Choice is significant in the primary analysis (50 %: n = 70" not in staff


def test_verdict_facts_are_structured_and_json_safe(verdict):
    facts, _ = verdict
    json.dumps(facts, allow_nan=False)  # no NaN may reach the report
    users = facts["groups"][0]
    assert users["group"] == "users" and users["label"] == "Users" and users["n_outcomes"] == 4
    anova = users["analyses"][0]
    assert anova["analysis"] == "anova"
    status = {o["scale"] + "/" + o["instrument"]: o["status"] for o in anova["outcomes"]}
    assert status == {
        "choice/RSA": "loses_significance",
        "total/RSA": "significant_at_every_threshold",
        "positive_collaboration/STAR-P": "gains_significance",
        "total/STAR-P": "not_significant_at_any_threshold",
    }
    choice = anova["outcomes"][0]
    assert choice["changes"] == [
        {"threshold": "0.0", "label": "complete-case", "n": 186, "p": 0.083, "significant": False}
    ]
    assert choice["primary"]["p"] == 0.012
    assert [a["analysis"] for a in users["analyses"]] == ["anova", "ancova demographic", "ancova service"]
    assert users["checks"]["n_not_decreasing"]["passed"] and users["checks"]["complete_case_n"]["passed"]
    assert facts["threshold_labels"] == {"0.0": "complete-case", "0.2": "20 %", "0.5": "50 %"}


def test_verdict_when_nothing_changes(config, instruments, read):
    anova = read("anova")
    anova = anova[anova.group == "staff"]
    cfg = {**config, "groups": {"staff": config["groups"]["staff"]}}
    ancova = read("ancova")
    ancova = ancova[(ancova.group == "staff") & (ancova.model == "demographic")]
    cfg["groups"] = {"staff": {**config["groups"]["staff"], "ancova_models": {"demographic": ["age"]}}}
    out = S.sensitivity_summary(anova, ancova, read("descriptives"), cfg, instruments)
    facts = S.verdict_facts(
        out,
        S.site_shifts(read("descriptives"), cfg),
        S.changing_pairs(read("tukey")[:0], cfg),
        pd.DataFrame(columns=S.CHECK_COLUMNS),
        cfg,
        instruments,
        complete_case_checked=False,
    )
    text = V.render_verdict(facts)
    assert (
        "**Verdict.** No conclusion about site differences depends on the replacement threshold: all 2 "
        "outcomes keep their conclusion across complete-case and 20–50 % replacement."
    ) in text
    assert "**Tukey pairs.** No site pair changes significance between thresholds." in text
    assert "The complete-case n was not compared with the reliability stage." in text
    fig = site_means_figure(out, S.site_shifts(read("descriptives"), cfg), cfg, "staff", instruments)
    assert "no outcome changes its conclusion" in fig.texts[0].get_text()


def test_text_helpers():
    assert S.threshold_label("0.0") == "complete-case" and S.threshold_label("0.3") == "30 %"
    assert S._range_text(["0.5", "0.0", "0.2", "0.3"]) == "complete-case and 20–50 % replacement"
    assert S._range_text(["0.0", "0.5"]) == "complete-case and 50 % replacement"
    assert S._range_text(["0.2", "0.5"]) == "20–50 % replacement"
    assert S.format_p(2.1e-07) == "< 0.001" and S.format_p(0.049999) == "0.049999"
    assert S.format_p(0.04999) == "0.04999" and S.format_p(0.05001) == "0.050" and S.format_p(0.35) == "0.350"


# -- stage and figures ------------------------------------------------------------------------------
OUTPUTS = {
    "summary": "summary.csv",
    "site-shifts": "site_shifts.csv",
    "pairs": "pairs.csv",
    "checks": "checks.csv",
    "verdict": "verdict.md",
    "facts": "verdict.json",
}


def stage_args(config: dict, outdir: Path, **inputs: Path) -> list:
    """``cocapp sensitivity`` on the fixture files (``inputs`` replace some), outputs under ``outdir``."""
    files = {
        name: inputs.get(name, FIX / f"{name}.csv")
        for name in ("anova", "ancova", "tukey", "descriptives", "reliability")
    }
    args = [x for name, path in files.items() for x in (f"--{name}", path)]
    args += ["--instruments", *(instrument_file(k) for k in ("RSA", "STAR-P"))]
    args += [x for option, name in OUTPUTS.items() for x in (f"--{option}", outdir / name)]
    return [*args, "--figures", *(outdir / f for f in Workflow(config).sensitivity_figures())]


def test_stage_writes_every_output_deterministically(tmp_path, config, cocapp_stage, read):
    # run b draws the figures in two processes (the workflow's threads): the same bytes as one process
    for run, workers in (("a", "1"), ("b", "2")):
        code, log = cocapp_stage(
            "sensitivity",
            without_imputation(config),
            *stage_args(config, tmp_path / run),
            "--workers",
            workers,
        )
        assert code == 0, log
    # README: 2 ANOVA rows change (users RSA choice and STAR-P positive collaboration at 0.0); 2 pairs x 3
    assert "18 outcome x threshold rows, 2 change the inference; 6 pairs" in log
    for name in OUTPUTS.values():
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    figdir = tmp_path / "a" / "reports" / "figures" / "sensitivity"
    figs = sorted(p.name for p in figdir.iterdir())
    assert figs == sorted(
        f"{g}_{k}.{e}" for g in ("users", "staff") for k in ("n_p", "site_means") for e in ("png", "svg")
    )
    for name in figs:
        assert (figdir / name).read_bytes() == (
            tmp_path / "b" / figdir.relative_to(tmp_path / "a") / name
        ).read_bytes(), name
    svg = (figdir / "users_n_p.svg").read_text("utf-8")
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg
    assert b"Matplotlib" not in (figdir / "users_n_p.png").read_bytes()
    # the primary rows in the file carry the anova.csv values exactly (text round trip)
    out = pd.read_csv(tmp_path / "a" / "summary.csv", dtype={c: str for c in KEYS})
    anova = read("anova")
    prim = out[out.threshold == "0.5"].merge(anova[anova.threshold == "0.5"], on=KEYS, suffixes=("", "_in"))
    assert len(prim) == 6 and (prim.p == prim.p_in).all() and (prim.F == prim.F_in).all()
    assert pd.read_csv(tmp_path / "a" / "checks.csv").empty


def test_stage_reports_errors_and_warnings(tmp_path, config, cocapp_stage, read):
    bad = tmp_path / "anova.csv"
    read("anova").drop(columns="p").to_csv(bad, index=False)
    code, log = cocapp_stage(
        "sensitivity", without_imputation(config), *stage_args(config, tmp_path / "o", anova=bad)
    )
    assert code == 1
    assert f"{bad}: column(s) ['p'] missing" in log
    assert not (tmp_path / "o").exists()
    rel = read("reliability")
    rel.loc[0, "n_complete"] = 1
    rel.to_csv(tmp_path / "rel.csv", index=False)
    code, log = cocapp_stage(
        "sensitivity",
        without_imputation(config),
        *stage_args(config, tmp_path / "o", reliability=tmp_path / "rel.csv"),
    )
    assert code == 0, log
    assert "warning: complete-case ANOVA n = 186 but reliability n_complete = 1" in log
    assert "WARNING: the complete-case n differs" in (tmp_path / "o" / "verdict.md").read_text("utf-8")
    checks = pd.read_csv(tmp_path / "o" / "checks.csv")
    assert checks["check"].tolist() == ["complete_case_n"]


def test_figures_render_to_identical_bytes_twice(summary, config, instruments, read):
    shifts = S.site_shifts(read("descriptives"), config)
    for make in (
        lambda: n_p_figure(summary, config, "users", instruments),
        lambda: site_means_figure(summary, shifts, config, "users", instruments),
    ):
        for fmt in ("png", "svg"):
            assert figure_bytes(make(), fmt) == figure_bytes(make(), fmt)
    fig = site_means_figure(summary, shifts, config, "users", instruments)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["RSA Choice", "STAR-P Positive collaboration"]  # only outcomes whose inference changes


def test_outcome_without_a_primary_result_is_reported_not_compared(config, instruments, read):
    anova = read("anova")
    at = (anova.group == "staff") & (anova.scale == "total") & (anova.threshold == "0.5")
    anova.loc[at, "p"] = np.nan
    anova["significant"] = anova["significant"].astype("boolean")
    anova.loc[at, "significant"] = pd.NA
    out = S.sensitivity_summary(anova, read("ancova"), read("descriptives"), config, instruments)
    staff_total = out[(out.group == "staff") & (out.scale == "total")]
    assert staff_total.changes_inference.isna().all()  # nothing to compare with
    assert staff_total.significant.tolist()[:2] == [False, False]
    facts = S.verdict_facts(
        out,
        S.site_shifts(read("descriptives"), config),
        S.changing_pairs(read("tukey"), config),
        pd.DataFrame(columns=S.CHECK_COLUMNS),
        config,
        instruments,
    )
    anova_staff = facts["groups"][1]["analyses"][0]["outcomes"]
    assert [o["status"] for o in anova_staff] == [
        "significant_at_every_threshold",
        "not_estimable_at_primary",
    ]
    text = V.render_verdict(facts)
    assert "- RSA Total: no result in the primary analysis (50 %); not compared." in text
    assert "Across complete-case and 20–50 % replacement, 1 of 2 outcomes keeps its conclusion" in text


def test_bad_threshold_text_is_named(config, instruments, read):
    anova = read("anova")
    anova.loc[3, "threshold"] = "half"
    with pytest.raises(ValueError, match=r"anova.csv: column 'threshold', row 5: 'half' is not a number"):
        S.sensitivity_summary(anova, read("ancova"), read("descriptives"), config, instruments)


def test_a_model_the_group_does_not_configure_stays_empty(config, instruments, read):
    cfg = {**config, "groups": dict(config["groups"])}
    cfg["groups"]["staff"] = {**config["groups"]["staff"], "ancova_models": {"demographic": ["age"]}}
    out = S.sensitivity_summary(read("anova"), read("ancova"), read("descriptives"), cfg, instruments)
    staff = out[out.group == "staff"]
    assert staff.ancova_service_p.isna().all() and staff.ancova_service_n.isna().all()  # stale rows ignored
    assert (staff.note == "").all()
    assert out[out.group == "users"].ancova_service_p.notna().sum() == 10  # 12 rows, 2 without a result


# -- the verdict template: one set of facts, Markdown and HTML ----------------------------------------
VERDICT_FACTS = FIX / "verdict_facts.json"
# Written by hand from verdict_facts.json: p 0.0004 is below 0.001, 0.21 has three decimals, the shift
# -0.126 rounds to -0.13 and its SD units 0.5 to 0.50; thresholds in ascending order.
VERDICT_MD = """\
# Mean-replacement sensitivity analysis

> Synthetic fixture: hand-written verdict facts.

Thresholds compared (largest share of a scale's items that may be missing and be person-mean replaced): \
complete-case and 50 %; primary analysis: 50 %. Significant means p < 0.05. Generated from \
`summary.csv`, `pairs.csv` and `checks.csv`.

## Users & carers

**Verdict.** The conclusion about site differences (one-way ANOVA or an ANCOVA model) depends on the \
replacement threshold for 1 of 2 outcomes (RSA <Total>); the other outcome keeps its conclusion across \
complete-case and 50 % replacement.

**One-way ANOVA, site effect.** Across complete-case and 50 % replacement, 1 of 2 outcomes keeps its \
conclusion at every threshold.
- Not significant at any threshold: ES Other's total.
- RSA <Total> is significant in the primary analysis (50 %: n = 120, p < 0.001) but loses significance \
under complete-case analysis (n = 80, p = 0.210).

**Site means.** The largest shift of a site mean against the primary analysis is -0.13 (RSA <Total>, \
Artois, complete-case, 0.50 SD of the pooled scores); every shift is in `site_shifts.csv`.

**Tukey pairs.** No site pair changes significance between thresholds.

**Checks.** The number analysed never decreases as the threshold grows. The complete-case n was not \
compared with the reliability stage.
"""
# The same sentences as an HTML fragment: headings one level down, &, < and > escaped (quotes kept).
VERDICT_HTML = """\
<h3>Mean-replacement sensitivity analysis</h3>
<blockquote><p>Synthetic fixture: hand-written verdict facts.</p></blockquote>
<p>Thresholds compared (largest share of a scale's items that may be missing and be person-mean replaced): \
complete-case and 50 %; primary analysis: 50 %. Significant means p &lt; 0.05. Generated from \
<code>summary.csv</code>, <code>pairs.csv</code> and <code>checks.csv</code>.</p>
<h4>Users &amp; carers</h4>
<p><strong>Verdict.</strong> The conclusion about site differences (one-way ANOVA or an ANCOVA model) \
depends on the replacement threshold for 1 of 2 outcomes (RSA &lt;Total&gt;); the other outcome keeps its \
conclusion across complete-case and 50 % replacement.</p>
<p><strong>One-way ANOVA, site effect.</strong> Across complete-case and 50 % replacement, 1 of 2 outcomes \
keeps its conclusion at every threshold.</p>
<ul>
<li>Not significant at any threshold: ES Other's total.</li>
<li>RSA &lt;Total&gt; is significant in the primary analysis (50 %: n = 120, p &lt; 0.001) but loses \
significance under complete-case analysis (n = 80, p = 0.210).</li>
</ul>
<p><strong>Site means.</strong> The largest shift of a site mean against the primary analysis is -0.13 \
(RSA &lt;Total&gt;, Artois, complete-case, 0.50 SD of the pooled scores); every shift is in \
<code>site_shifts.csv</code>.</p>
<p><strong>Tukey pairs.</strong> No site pair changes significance between thresholds.</p>
<p><strong>Checks.</strong> The number analysed never decreases as the threshold grows. The complete-case \
n was not compared with the reliability stage.</p>"""


def test_verdict_template_renders_markdown_and_html_from_the_same_facts():
    facts = json.loads(VERDICT_FACTS.read_text("utf-8"))
    assert V.render_verdict(facts) == VERDICT_MD
    assert V.render_verdict(facts, fmt="html") == VERDICT_HTML
    with pytest.raises(ValueError, match="fmt must be"):
        V.render_verdict(facts, fmt="docx")


def test_verdict_lists_at_most_max_pairs_changing_pairs():
    facts = json.loads(VERDICT_FACTS.read_text("utf-8"))
    pair = {
        "label": "RSA <Total>",
        "site_b": "Burgundy",
        "significant_at": ["0.5"],
        "not_significant_at": ["0.0"],
    }
    facts["groups"][0]["changing_pairs"] = [{**pair, "site_a": f"Site{i}"} for i in range(3)]
    md = V.render_verdict(facts, max_pairs=2)
    assert (
        "**Tukey pairs.** 3 site pairs change significance between thresholds: "
        "RSA <Total> Site0–Burgundy (significant at 50 %, not under complete-case analysis); "
        "RSA <Total> Site1–Burgundy (significant at 50 %, not under complete-case analysis); "
        "and 1 more in `pairs.csv`.\n"
    ) in md
    assert "; and 1 more in <code>pairs.csv</code>.</p>" in V.render_verdict(facts, max_pairs=2, fmt="html")


def test_changed_labels_keep_outcome_order():
    def analysis(*statuses: str) -> dict:
        return {"outcomes": [{"label": x, "status": s} for x, s in zip("ABC", statuses, strict=True)]}

    never = "not_significant_at_any_threshold"
    first = analysis(never, never, never)
    gains_a_loses_c = analysis("gains_significance", never, "loses_significance")
    gains_c = analysis(never, never, "gains_significance")
    assert V.changed_labels({"analyses": [first, gains_c, gains_a_loses_c]}) == ["A", "C"]
    assert V.changed_labels({"analyses": [first]}) == []


def test_largest_site_shift_per_outcome_and_threshold(config):
    """Hand-made shifts: the largest |shift| over configured sites (not All), first site on a tie."""
    shifts = pd.DataFrame(
        {
            "group": ["users"] * 8,
            "instrument": ["RSA"] * 8,
            "scale": ["total"] * 8,
            "threshold": ["0.0"] * 4 + ["0.2"] * 4,
            "site": ["North", "South", "East", "All"] * 2,
            "shift": [0.1, -0.3, 0.2, 0.9, 0.25, -0.25, float("nan"), 0.0],
            "shift_sd": [0.05, -0.15, 0.1, 0.45, 0.125, -0.125, float("nan"), 0.0],
        }
    )
    best = S._largest_site_shifts(shifts, config)
    assert best["threshold"].tolist() == ["0.0", "0.2"]
    assert best["max_abs_mean_shift_site"].tolist() == ["South", "North"]  # All's 0.9 is not a site
    assert best["max_abs_mean_shift"].tolist() == [0.3, 0.25]
    assert best["max_abs_mean_shift_sd"].tolist() == [0.15, 0.125]


def test_anova_significance_must_agree_with_the_files_significant_column():
    anova = pd.DataFrame(
        {"group": ["g"] * 2, "instrument": ["RSA"] * 2, "scale": ["total"] * 2, "threshold": ["0.5"] * 2}
    ).assign(p=[0.01, 0.2], significant=["True", "False"])
    assert S._anova_significance(anova, 0.05).tolist() == [True, False]
    with pytest.raises(ValueError, match="another significance_level"):
        S._anova_significance(anova, 0.005)


def _changing_pairs_by_hand(tukey: pd.DataFrame, thresholds: list[str], primary: str, alpha: float):
    """The definition of changing_pairs written out pair by pair (the reference for the vectorised one)."""
    out = []
    pairs = dict.fromkeys(map(tuple, tukey[["group", "instrument", "scale", "site_a", "site_b"]].to_numpy()))
    for key in pairs:
        rows = tukey[
            (tukey["group"] == key[0])
            & (tukey["instrument"] == key[1])
            & (tukey["scale"] == key[2])
            & (tukey["site_a"] == key[3])
            & (tukey["site_b"] == key[4])
        ]
        rows = rows.set_index("threshold").reindex([t for t in thresholds if t in set(rows["threshold"])])
        sig = {t: (None if np.isnan(p) else bool(p < alpha)) for t, p in rows["p_adj"].items()}
        if not ({True, False} <= set(sig.values())):
            continue
        at = ";".join(t for t, s in sig.items() if s is True)
        not_at = ";".join(t for t, s in sig.items() if s is False)
        prim = sig.get(primary)
        for t, s in sig.items():
            change = None if s is None or prim is None else s != prim
            out.append((*key, t, s, prim, change, at, not_at))
    return out


def test_changing_pairs_equals_the_pair_by_pair_definition():
    """Shuffled rows, missing p values, pairs without a primary row: the vectorised changing_pairs
    gives exactly the rows of the pair-by-pair definition, in first-appearance order."""
    rng = np.random.default_rng(11)
    thresholds = ["0.0", "0.2", "0.5"]  # canonical threshold text
    rows = []
    for scale in ("a", "b"):
        for i in range(12):
            for j in range(i + 1, 12):
                for t in thresholds:
                    if rng.random() < 0.1:
                        continue  # some pairs lack a threshold (also the primary one)
                    p = np.nan if rng.random() < 0.1 else rng.uniform(0, 0.1)
                    rows.append(("g", "X", scale, f"S{i:02d}", f"S{j:02d}", t, 0.1, p))
    cols = ["group", "instrument", "scale", "site_a", "site_b", "threshold", "diff", "p_adj"]
    tukey = pd.DataFrame(rows, columns=cols).sample(frac=1, random_state=3).reset_index(drop=True)
    cfg = {
        "groups": {"g": {}},
        "scoring": {"thresholds": [0, 0.2, 0.5], "primary_threshold": 0.5},
        "statistics": {"significance_level": 0.05},
    }
    got = S.changing_pairs(tukey, cfg)
    expected = _changing_pairs_by_hand(tukey, thresholds, "0.5", 0.05)
    assert len(expected) > 50
    na = lambda v: None if v is pd.NA else bool(v)  # noqa: E731
    keys = ["group", "instrument", "scale", "site_a", "site_b", "threshold"]
    flags = ["significant", "significant_primary", "changes_inference"]
    actual = [
        (*r[:6], *(na(v) for v in r[6:9]), r[9], r[10])
        for r in got[[*keys, *flags, "significant_at", "not_significant_at"]].itertuples(index=False)
    ]
    assert actual == expected
    assert list(got.columns) == S.PAIRS_COLUMNS
