"""Config schema and instrument files: every problem names its key."""

import copy
from pathlib import Path

import pytest
import yaml

from cocapp.config import ConfigError, format_threshold, load_config, validate_config, with_defaults
from cocapp.instruments import InstrumentError, load_instrument
from cocapp.workflow import Workflow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cfg():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def problem(cfg) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    return str(info.value)


def test_default_config_is_valid():
    config = load_config(ROOT / "config.yaml")
    assert [s["name"] for s in config["sites"]][:2] == ["Artois", "Burgundy"]
    assert config["scoring"]["thresholds"] == [0.0, 0.2, 0.3, 0.4, 0.5]
    assert config["scoring"]["primary_threshold"] == 0.5


def test_unknown_key_is_named(cfg):
    cfg["scoring"]["treshold"] = 0.5
    assert "key scoring" in problem(cfg) and "'treshold'" in problem(cfg)


def test_wrong_type_is_named(cfg):
    cfg["statistics"]["significance_level"] = "0.05"
    assert "key statistics.significance_level" in problem(cfg)


def test_threshold_out_of_range_is_named(cfg):
    cfg["scoring"]["thresholds"] = [0.0, 1.5]
    assert "key scoring.thresholds.1" in problem(cfg)


def test_primary_threshold_must_be_listed(cfg):
    cfg["scoring"]["primary_threshold"] = 0.35
    assert "key scoring.primary_threshold" in problem(cfg)


def test_ancova_model_covariates_must_be_declared(cfg):
    cfg["groups"]["service_users"]["ancova_models"]["demographic"].append("income")
    assert "key groups.service_users.ancova_models.demographic: covariate 'income'" in problem(cfg)


def test_unknown_instrument_is_named(cfg):
    cfg["groups"]["care_coordinators"]["instruments"] = ["RSA", "PHQ-9"]
    assert "key groups.care_coordinators.instruments: no instrument file PHQ-9.yaml" in problem(cfg)


def test_reference_site_must_be_a_site(cfg):
    cfg["statistics"]["post_hoc"]["reference_site"] = "Brittany"
    assert "key statistics.post_hoc.reference_site" in problem(cfg)


def test_raw_file_type_is_checked(cfg):
    cfg["groups"]["service_users"]["raw"] = "data/raw/service_users.xls"
    assert "key groups.service_users.raw" in problem(cfg)


def test_missing_required_section(cfg):
    del cfg["scoring"]
    assert "'scoring' is a required property" in problem(cfg)


def test_explicit_values_win_over_defaults(cfg):
    cfg["statistics"]["confidence_level"] = 0.9
    out = with_defaults(validate_config(copy.deepcopy(cfg)))
    assert out["statistics"]["confidence_level"] == 0.9
    assert out["statistics"]["post_hoc"]["ancova"] == "tukey"


def test_format_threshold():
    assert [format_threshold(t) for t in (0, 0.2, "0.5", 1)] == ["0.0", "0.2", "0.5", "1.0"]


# -- instrument files -----------------------------------------------------------------------------------
def test_builtin_instruments_match_instruments_md():
    rsa, starp, es = (load_instrument(k) for k in ("RSA", "STAR-P", "ES"))
    assert (rsa.n_items, starp.n_items, es.n_items) == (36, 12, 28)
    assert [s.k for s in starp.scales] == [6, 3, 3, 12]
    assert sorted(starp.reverse_keyed) == [4, 8, 12]
    assert rsa.scale("choice").items == (3, 6, 7, 13, 29)
    assert es.scale("righteous_anger").items == (3, 4, 7, 15)
    assert 15 in es.reverse_keyed and 3 not in es.reverse_keyed
    assert starp.score_kind == "sum" and rsa.score_kind == "mean"
    assert starp.scale_range(starp.scale("total")) == (0, 48)
    assert not any(i.verified for i in (rsa, starp, es))
    assert rsa.reference == {} and es.reference == {}


def write_instrument(folder: Path, text: str) -> None:
    (folder / "TEST.yaml").write_text(text)


GOOD = """
key: TEST
name: A test scale
items: 4
column_pattern: "t{item}"
response: {min: 0, max: 3}
missing_codes: {9: no_response}
score: {kind: mean}
reverse_keyed: [2]
subscales:
  a: {items: [1, 2]}
  b: {items: [3, 4]}
total: {items: all}
"""


def test_new_instrument_is_a_file_not_code(tmp_path):
    write_instrument(tmp_path, GOOD)
    inst = load_instrument("TEST", [tmp_path])
    assert inst.columns() == ["t1", "t2", "t3", "t4"]
    assert [s.key for s in inst.scales] == ["a", "b", "total"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("items: [3, 4]", "items: [3, 5]"), "subscales/b: items [5] outside 1..4"),
        (("missing_codes: {9: no_response}", "missing_codes: {2: no_response}"), "key missing_codes: code 2"),
        (("kind: mean", "kind: median"), "key score/kind"),
        (("reverse_keyed: [2]", "reverse_keyed: [7]"), "key reverse_keyed: items [7] outside 1..4"),
        (("key: TEST", "key: OTHER"), "does not match the file name"),
    ],
)
def test_bad_instrument_file_names_the_key(tmp_path, change, message):
    write_instrument(tmp_path, GOOD.replace(*change))
    with pytest.raises(InstrumentError) as info:
        load_instrument("TEST", [tmp_path])
    assert "TEST.yaml" in str(info.value) and message in str(info.value)


def test_workflow_targets_follow_config(cfg):
    full = Workflow(with_defaults(validate_config(copy.deepcopy(cfg))))
    assert full.groups == ["service_users", "care_coordinators"]
    assert "reports/tables/table3_care_coordinators.docx" in full.table_files()
    assert "reports/figures/sites/care_coordinators/RSA_total.png" in full.figure_files()
    assert "reports/tables/published_comparison.csv" in full.final_targets()
    assert [full.qualitative_file(k) for k in ("segments", "cases", "codebook", "interviews")] == [
        "data/raw/qualitative/segments.csv",
        "data/raw/qualitative/cases.csv",
        "data/raw/qualitative/codebook.csv",
        "data/raw/qualitative/interviews.csv",
    ]
    # one group, no published reference, no qualitative arm: the file lists shrink with the config
    del cfg["groups"]["care_coordinators"]
    del cfg["published"]
    cfg["qualitative"] = {"enabled": False}
    w = Workflow(with_defaults(validate_config(cfg)))
    assert w.groups == ["service_users"]
    assert not any("care_coordinators" in f for f in w.table_files() + w.figure_files())
    assert [f for f in w.table_files() if f.endswith(".csv")] == [
        "reports/tables/table1_returns.csv",
        "reports/tables/table2_service_users.csv",
        "reports/tables/table3_correlations_service_users.csv",
        "reports/tables/reliability.csv",
        "reports/tables/ancova_means.csv",
    ]
    assert w.sensitivity_figures() == [
        f"reports/figures/sensitivity/service_users_{k}.{e}"
        for k in ("n_p", "site_means")
        for e in ("png", "svg")
    ]
    assert w.audit_files() == [] and w.final_targets() == ["reports/report.html"]
