"""Honesty about synthetic data (issue 14): calibration targets are matched by construction, the rest is
illustrative, a real study is never said to be calibrated, and every mismatch of the audit has a reason."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
from stage_inputs import run_stats

from cocapp.config import ConfigError, validate_config
from cocapp.presentation import audit as A
from cocapp.presentation import calibration as C
from cocapp.stages.audit import load_published

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "publication"
PUBLISHED = ROOT / "data" / "published" / "cocapp2016_published.yaml"
TARGETS = ROOT / "reports" / "synthetic_calibration.csv"
CALIBRATION = {"targets": str(TARGETS), "report": "reports/synthetic_calibration.md", "threshold": 0.5}


@pytest.fixture(scope="module")
def targets() -> pd.DataFrame:
    return C.parse_targets(pd.read_csv(TARGETS, dtype=str, keep_default_na=False), str(TARGETS))


def _config(base: dict, *, synthetic=True, calibration=CALIBRATION, primary=None) -> dict:
    cfg = copy.deepcopy(base)
    cfg["study"]["synthetic"] = synthetic
    cfg["study"].pop("calibration", None)
    if calibration:
        cfg["study"]["calibration"] = dict(calibration)
    if primary is not None:
        cfg["scoring"]["primary_threshold"] = primary
    return cfg


def _at_threshold(stats: dict, threshold: str, shift: float = 0.0) -> dict:
    """The fixture's stats relabelled to ``threshold`` (as if scored there), means shifted by ``shift``."""
    out = {}
    for name, df in stats.items():
        df = df.copy()
        if "threshold" in df.columns:
            df = df[df["threshold"] == "0.5"].copy()
            df["threshold"] = threshold
        if name == "descriptives":
            df["mean"] = df["mean"] + shift
        out[name] = df
    return out


# -- evidence --------------------------------------------------------------------------------------
def test_every_printed_number_of_the_default_was_a_calibration_target(
    publication_config, publication_stats, publication_reconciliation, targets
):
    cfg = _config(publication_config)
    out = A.compare(
        load_published(PUBLISHED), cfg, publication_stats, publication_reconciliation, None, targets
    )
    assert (out["evidence"] == "calibration target").all()
    assert (out["calibration_target"] != "").all()
    row = out[(out["table"] == "Table 1") & (out["site"] == "Artois")].iloc[0]
    assert row["calibration_target"] == "service_users/Artois/n_returned"
    # a printed correlation p rests on both its r and its n targets
    p = out[(out["table"] == "Table 4") & (out["quantity"] == "p")].iloc[0]
    assert p["calibration_target"].count(";") == 1


def test_other_threshold_makes_threshold_dependent_numbers_illustrative(
    publication_config, publication_stats, publication_reconciliation, targets
):
    cfg = _config(publication_config, primary=0.4)
    stats = _at_threshold(publication_stats, "0.4")
    out = A.compare(load_published(PUBLISHED), cfg, stats, publication_reconciliation, None, targets)
    by_table = out.groupby("table")["evidence"].agg(set).to_dict()
    assert by_table["Table 1"] == {"calibration target"}  # returns: no threshold
    assert by_table["Reliability"] == {"calibration target"}  # complete cases: no threshold
    for t in ("Table 2", "Table 3", "Table 4"):
        assert by_table[t] == {"illustrative"}, t


def test_a_real_study_is_never_called_calibrated(
    publication_config, publication_stats, publication_reconciliation, targets
):
    cfg = _config(publication_config, synthetic=False, calibration=None)
    out = A.compare(
        load_published(PUBLISHED), cfg, publication_stats, publication_reconciliation, None, targets
    )
    assert (out["evidence"] == "independent").all() and (out["calibration_target"] == "").all()
    statement = C.calibration_statement(cfg, targets)
    assert not statement["declared"] and statement["illustrative"] == [] and statement["families"] == []
    # and the config check refuses a calibration on data that are not synthetic
    bad = _config(publication_config, synthetic=False)
    with pytest.raises(ConfigError, match="study.calibration: given, but study.synthetic is false"):
        validate_config(bad)


def test_synthetic_without_declared_calibration_says_so(publication_config, publication_stats):
    cfg = _config(publication_config, calibration=None)
    out = A.compare(load_published(PUBLISHED), cfg, publication_stats, {}, None, None)
    assert (out["evidence"] == "synthetic, calibration not declared").all()
    assert not C.calibration_statement(cfg, None)["declared"]


def test_statement_counts_the_targets_by_family(publication_config, targets):
    s = C.calibration_statement(_config(publication_config), targets)
    assert s["declared"] and s["primary_is_calibrated"] and s["threshold"] == "0.5"
    assert s["n_targets"] == len(targets) == s["n_passed"]
    fams = {f["family"]: f["n_targets"] for f in s["families"]}
    assert sum(fams.values()) == len(targets)
    assert fams["returns"] == 14 and fams["Tukey p against the reference site"] == 5
    assert s["anova_thresholds"] == ["0.0", "0.2", "0.3", "0.4", "0.5"]
    assert any(f.startswith("ANCOVA") for f in s["illustrative"])
    assert not C.calibration_statement(_config(publication_config, primary=0.4), targets)[
        "primary_is_calibrated"
    ]


def test_targets_file_with_a_bad_pass_value_names_row_and_column():
    df = pd.DataFrame(
        [
            dict(
                target_id="x",
                group="g",
                instrument="",
                scale="",
                site="A",
                statistic="mean",
                **{"pass": "yes"},
            )
        ]
    )
    with pytest.raises(ValueError, match=r"t.csv: column 'pass', row 2: 'yes'"):
        C.parse_targets(df, "t.csv")
    with pytest.raises(ValueError, match="column 'statistic' missing"):
        C.parse_targets(df.drop(columns="statistic"), "t.csv")


# -- reasons for mismatches ------------------------------------------------------------------------
def test_method_differences_name_the_paper_setting(publication_config):
    pub = load_published(PUBLISHED)
    same = {d["setting"]: d for d in A.method_differences(pub, publication_config)}
    assert set(same) == {
        "scoring.primary_threshold",
        "statistics.significance_level",
        "statistics.post_hoc.anova",
        "statistics.acceptable_alpha",
    }
    assert not any(d["differs"] for d in same.values())
    cfg = _config(publication_config, primary=0.4)
    cfg["statistics"]["post_hoc"]["anova"] = "games_howell"
    diff = {d["setting"]: d for d in A.method_differences(pub, cfg) if d["differs"]}
    assert set(diff) == {"scoring.primary_threshold", "statistics.post_hoc.anova"}
    assert diff["scoring.primary_threshold"]["published"] == "0.50"


def test_every_mismatch_at_threshold_04_carries_the_threshold_reason(
    tmp_path, publication_config, publication_stats, cocapp_stage
):
    """The stage as the workflow runs it, primary_threshold 0.4 and results that differ from the print."""
    cfg = _config(publication_config, primary=0.4)
    stats = _at_threshold(publication_stats, "0.4", shift=0.05)
    args = ["--published", PUBLISHED, "--calibration", TARGETS, *run_stats("missingness", "normality")]
    for name, df in stats.items():
        if name in ("anova", "descriptives", "reliability", "correlations"):
            path = tmp_path / f"{name}.csv"
            df.to_csv(path, index=False)
            args += [f"--{name}", path]
    recon = [FIX / "ingest" / f"{g}_reconciliation.csv" for g in ("service_users", "care_coordinators")]
    out = tmp_path / "published_comparison.csv"
    args += ["--reconciliation", *recon, "--comparison", out, "--consistency", tmp_path / "c.csv"]
    code, log = cocapp_stage("audit", cfg, *args)
    assert code == 0, log
    cmp_ = pd.read_csv(out, dtype=str, keep_default_na=False)
    bad = cmp_[cmp_["match"] == "False"]
    assert len(bad) >= 132  # every shifted mean at least
    assert (bad["reason"] != "").all()
    assert bad["reason"].str.contains("scoring.primary_threshold = 0.4 configured, the paper used 0.50").all()
    assert (cmp_.loc[cmp_["match"] != "False", "reason"] == "").all()
    assert "evidence illustrative:" in log


def test_reason_order_and_fallbacks():
    diffs = [
        dict(setting="s", configured="1", published="2", published_key="k", differs=True, affects=("site",))
    ]
    assert A.mismatch_reason("site", "cannot be consistent (x)", "illustrative", diffs).startswith(
        "the printed value cannot be consistent (x); method differs from the paper: s = 1 configured"
    )
    assert A.mismatch_reason("returns", "", "illustrative", diffs).startswith("not a calibration target")
    assert A.mismatch_reason("returns", "", "independent", diffs).startswith("unexplained")
    assert A.mismatch_reason("returns", "", "calibration target", []).startswith("calibration target missed")


# -- the sensitivity verdict -----------------------------------------------------------------------
def _facts() -> dict:
    import json

    return json.loads((Path(__file__).parent / "fixtures" / "sensitivity" / "verdict_facts.json").read_text())


def test_verdict_says_which_analyses_are_calibrated(publication_config, targets):
    from cocapp.presentation.verdict import render_verdict

    facts = _facts()
    facts["synthetic"] = True
    statement = C.calibration_statement(_config(publication_config), targets)
    # the fixture's thresholds are all among the calibrated ones; its changing outcome moved into an
    # ANCOVA model (never calibrated) to see the headline called illustrative
    g = next(
        g
        for g in facts["groups"]
        if any(o["status"] == "loses_significance" for o in g["analyses"][0]["outcomes"])
    )
    moved = copy.deepcopy(g["analyses"][0])
    moved.update(analysis="ancova m", model="m", covariates=["age"])
    for o in g["analyses"][0]["outcomes"]:
        if o["status"] == "loses_significance":
            o["status"] = "significant_at_every_threshold"
    g["analyses"].append(moved)
    C.add_verdict_calibration(facts, statement)
    evidence = {a["analysis"]: a["evidence"] for g in facts["groups"] for a in g["analyses"]}
    assert evidence.pop("anova") == "calibration target"
    assert set(evidence.values()) == {"illustrative"}
    md = render_verdict(facts)
    assert "**What synthetic data can show.**" in md
    assert "calibration report: `reports/synthetic_calibration.md`" in md
    assert "holds by construction and is no evidence of robustness" in md
    assert "These changes come from: ANCOVA m model (illustrative). None of them rests on a calibrated" in md


def test_verdict_of_real_data_claims_no_calibration(publication_config):
    from cocapp.presentation.verdict import render_verdict

    facts = _facts()
    facts["synthetic"] = False
    cfg = _config(publication_config, synthetic=False, calibration=None)
    C.add_verdict_calibration(facts, C.calibration_statement(cfg, None))
    assert {a["evidence"] for g in facts["groups"] for a in g["analyses"]} == {"independent"}
    md = render_verdict(facts)
    assert "calibrat" not in md and "illustrative" not in md
