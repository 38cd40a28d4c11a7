"""A study is a folder: ``cocapp init`` makes one, ``cocapp run DIR`` runs the workflow on it.

* ``cocapp init DIR`` writes a config with every schema key (optional ones commented out), the
  folders and a README; it never overwrites a study.
* ``cocapp init DIR --from FILE`` drafts the codebook and instrument skeletons from a CSV or an SPSS
  file (labels and user-missing codes read from the .sav).
* The Snakefile reads the study's config only: a ``--configfile`` replaces the folder's config.yaml,
  it is never merged into it.
* The minimal config (required keys only) runs end to end with ``cocapp run``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cocapp.cli import main, snakemake_command
from cocapp.config import ConfigError, config_schema, load_config
from cocapp.init_study import HERE as INIT_TEMPLATES
from cocapp.init_study import init_study

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"

MINIMAL = """\
study: {name: Minimal, synthetic: false}
sites: [{name: North}, {name: South}]
groups:
  users:
    raw: data/raw/users.csv
    codebook: data/raw/codebook.csv
    id_column: id
    site_column: site
    instruments: [RSA, STAR-P]
scoring: {thresholds: [0.0, 0.5], primary_threshold: 0.5}
statistics: {significance_level: 0.05}
"""


def _env() -> dict:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def schema_keys(node: dict, prefix: str = "") -> list[str]:
    """Every property name of the config schema as a dotted path (``*`` for a mapping's entries)."""
    keys: list[str] = []
    for name, sub in (node.get("properties") or {}).items():
        path = f"{prefix}{name}"
        keys.append(path)
        keys += schema_keys(sub, path + ".")
        if isinstance(sub.get("items"), dict):
            keys += schema_keys(sub["items"], path + ".")
        if isinstance(sub.get("additionalProperties"), dict):
            keys += schema_keys(sub["additionalProperties"], path + ".*.")
    return keys


def test_init_template_shows_every_config_key(tmp_path):
    """The config ``cocapp init`` writes names every key of the schema (required ones set, optional
    ones commented out with their defaults): a key added to the schema must be added to the template."""
    init_study(tmp_path / "s")
    text = (tmp_path / "s" / "config.yaml").read_text("utf-8")
    schema = config_schema()
    defs = schema.get("definitions", {})
    keys = schema_keys(schema)
    keys += [f"groups.*.covariates.*.{k}" for k in schema_keys(defs["covariate"])]
    missing = [k for k in keys if not re.search(rf"(^|[\s{{,#]){re.escape(k.split('.')[-1])}:", text, re.M)]
    assert missing == []


def test_init_without_data_makes_the_folders_and_a_config_to_fill_in(tmp_path, capsys):
    study = tmp_path / "new-study"
    assert main(["init", str(study)]) == 0
    assert (study / "data" / "raw").is_dir() and (study / "instruments").is_dir()
    assert "cocapp run" in (study / "README.md").read_text("utf-8")
    config = yaml.safe_load((study / "config.yaml").read_text("utf-8"))
    assert config["study"] == {"name": "new-study", "synthetic": False}
    assert config["instrument_paths"] == ["instruments"]
    # the placeholders make check-config name what is still to be filled in
    with pytest.raises(ConfigError, match="EDIT_INSTRUMENT"):
        load_config(study / "config.yaml")
    # a second init never overwrites the study
    before = (study / "config.yaml").read_bytes()
    assert main(["init", str(study)]) == 1
    assert "exists already" in capsys.readouterr().err
    assert (study / "config.yaml").read_bytes() == before


def test_init_from_csv_drafts_a_config_that_validates(tmp_path):
    study = tmp_path / "drafted"
    assert main(["init", str(study), "--from", str(TINY / "data" / "raw" / "users.csv")]) == 0
    assert (study / "data" / "raw" / "users.csv").read_bytes() == (TINY / "data/raw/users.csv").read_bytes()
    config = load_config(study / "config.yaml")
    group = config["groups"]["users"]
    assert group["raw"] == "data/raw/users.csv" and group["codebook"] == "data/raw/codebook.csv"
    assert (group["id_column"], group["site_column"]) == ("id", "site")
    assert group["instruments"] == ["RSA", "STARP"]
    assert [s["name"] for s in config["sites"]] == ["North", "South"]
    rsa = yaml.safe_load((study / "instruments" / "RSA.yaml").read_text("utf-8"))
    assert (rsa["items"], rsa["column_pattern"]) == (36, "rsa_{item:02d}")
    # 1..5 answered; 8 and 9 lie beyond a gap: drafted as missing codes, to be checked
    assert rsa["response"] == {"min": 1, "max": 5}
    assert rsa["missing_codes"] == {8: "no_response", 9: "no_response"}
    assert rsa["subscales"] == {} and rsa["total"]["items"] == "all"
    starp = yaml.safe_load((study / "instruments" / "STARP.yaml").read_text("utf-8"))
    assert starp["response"] == {"min": 0, "max": 4} and starp["missing_codes"] == {}
    codebook = pd.read_csv(study / "data" / "raw" / "codebook.csv", dtype=str, keep_default_na=False)
    assert list(codebook.columns) == ["dataset", "variable", "label", "type", "valid_values", "missing_codes"]
    types = dict(zip(codebook.variable, codebook.type, strict=True))
    assert types["id"] == "string" and types["site"] == "site" and types["rsa_01"] == "item"
    assert codebook.set_index("variable").loc["site", "valid_values"] == "North; South"
    assert len(codebook) == len(pd.read_csv(TINY / "data/raw/users.csv", nrows=0).columns)


def test_init_from_named_items_drafts_one_instrument_with_a_subscale_per_prefix(tmp_path):
    """examples/education's survey (items A1 ... O3 and swls_1 ... swls_5): A/C/E/N/O become one
    instrument with the columns listed and five subscales; every drafted file validates."""
    from cocapp.instruments import load_instrument
    from cocapp.io import read_codebook

    study = tmp_path / "named"
    survey = ROOT / "examples" / "education" / "data" / "raw" / "survey.csv"
    assert main(["init", str(study), "--from", str(survey)]) == 0
    assert sorted(p.name for p in (study / "instruments").iterdir()) == ["ACENO.yaml", "SWLS.yaml"]
    config = load_config(study / "config.yaml")  # schema and cross checks
    assert config["groups"]["survey"]["instruments"] == ["ACENO", "SWLS"]
    assert main(["check-config", str(study / "config.yaml")]) == 0
    paths = [study / "instruments"]
    aceno, swls = load_instrument("ACENO", paths), load_instrument("SWLS", paths)  # schema-validated
    columns = [f"{c}{i}" for c in "ACENO" for i in (1, 2, 3)]
    assert aceno.columns() == columns and aceno.n_items == 15
    assert [(s.key, s.label, aceno.columns(s.items)) for s in aceno.scales] == [
        *((c.lower(), c, [f"{c}{i}" for i in (1, 2, 3)]) for c in "ACENO"),
        ("total", "Total", columns),
    ]
    assert (aceno.response_min, aceno.response_max, aceno.missing_codes) == (1, 5, {9.0: "no_response"})
    assert (swls.columns(), swls.response_max) == ([f"swls_{i}" for i in range(1, 6)], 7)
    codebook = read_codebook(study / "data" / "raw" / "codebook.csv")  # every type is a schema type
    assert set(codebook.set_index("variable").loc[columns, "type"]) == {"item"}


def test_named_families_with_different_ranges_stay_apart():
    from cocapp.init_study import find_item_families
    from cocapp.io import RawTable

    def families(b_max: int) -> list[tuple[str, list[str], dict]]:
        answers = {"A": [1, 2, 3, 4, 5, 5, 5], "B": list(range(1, b_max + 1)) + [1] * (7 - b_max)}
        data = pd.DataFrame({f"{p}{i}": answers[p] for p in "AB" for i in (1, 2, 3)})
        return [(f.key, f.columns, f.subscales) for f in find_item_families(RawTable("x.csv", data))]

    a, b = [f"A{i}" for i in (1, 2, 3)], [f"B{i}" for i in (1, 2, 3)]
    assert families(5) == [("AB", a + b, {"A": a, "B": b})]
    assert families(7) == [("A", a, {}), ("B", b, {})]


def test_init_from_sav_reads_labels_and_user_missing_codes(tmp_path):
    import pyreadstat

    rng = np.random.default_rng(1)
    n = 30
    data = pd.DataFrame(
        {
            "resp": np.arange(1, n + 1, dtype=float),
            "educ": rng.integers(1, 4, n).astype(float),
            **{f"Q{i}": rng.integers(1, 5, n).astype(float) for i in range(1, 7)},
            "age": rng.integers(18, 80, n).astype(float),
        }
    )
    data.loc[3, "Q2"] = 9.0
    source = tmp_path / "survey.sav"
    answers = {1.0: "Never", 2.0: "Sometimes", 3.0: "Often", 4.0: "Always", 9.0: "No answer"}
    pyreadstat.write_sav(
        data,
        source,
        column_labels=["Respondent", "Education level", *[f"Question {i}" for i in range(1, 7)], "Age"],
        variable_value_labels={
            "educ": {1.0: "Primary", 2.0: "Secondary", 3.0: "Tertiary"},
            **{f"Q{i}": answers for i in range(1, 7)},
        },
        missing_ranges={f"Q{i}": [9.0] for i in range(1, 7)},
    )
    study = tmp_path / "from-sav"
    init_study(study, source)
    codebook = pd.read_csv(study / "data/raw/codebook.csv", dtype=str, keep_default_na=False)
    row = codebook.set_index("variable")
    assert row.loc["educ", "label"] == "Education level"
    assert row.loc["educ", "valid_values"] == "1=Primary; 2=Secondary; 3=Tertiary"
    assert row.loc["Q1", "type"] == "item" and row.loc["Q1", "label"] == "Question 1"
    assert row.loc["Q1", "missing_codes"] == "9=No answer"
    assert row.loc["Q1", "valid_values"] == "1=Never; 2=Sometimes; 3=Often; 4=Always; 9=No answer"
    q = yaml.safe_load((study / "instruments" / "Q.yaml").read_text("utf-8"))
    assert (q["items"], q["column_pattern"]) == (6, "Q{item}")
    # the range is the labelled answers, the user-missing code is a missing code
    assert q["response"]["min"] == 1 and q["response"]["max"] == 4
    assert q["response"]["labels"] == {1: "Never", 2: "Sometimes", 3: "Often", 4: "Always"}
    assert q["missing_codes"] == {9: "no_response"}
    config = yaml.safe_load((study / "config.yaml").read_text("utf-8"))
    group = config["groups"]["survey"]
    assert "codebook" not in group  # a .sav brings its own labels
    assert (group["id_column"], group["site_column"]) == ("resp", "educ")
    assert [s["name"] for s in config["sites"]] == ["Primary", "Secondary", "Tertiary"]
    load_config(study / "config.yaml")


def test_run_command_uses_the_study_folder_and_its_config_only(tmp_path):
    cmd = snakemake_command(tmp_path, ["-n"])
    assert cmd[cmd.index("-s") + 1] == str(ROOT / "Snakefile")
    assert cmd[cmd.index("--directory") + 1] == str(tmp_path)
    assert "--configfile" not in cmd  # the Snakefile's configfile: config.yaml, relative to the folder
    assert cmd[-3:] == ["--cores", "all", "-n"]
    assert "--cores" not in snakemake_command(tmp_path, ["-c1"])[:-1]


def test_a_configfile_replaces_the_folder_config_never_merges(tmp_path):
    """The trap of the issue: ``snakemake --configfile ../study/config.yaml`` from the clone merged the
    study into the clone's config (its groups came along). Now the given file is the only config."""
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "config.yaml").write_text((ROOT / "config.yaml").read_text("utf-8"), "utf-8")
    study = tmp_path / "study"
    shutil.copytree(TINY, study)
    (study / "config.yaml").write_text(MINIMAL, "utf-8")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-n", "--cores", "1"]
    cmd += ["--configfile", str(study / "config.yaml"), "-d", str(study)]
    proc = subprocess.run(cmd, cwd=clone, capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "scores/users.csv" in out
    assert "service_users" not in out and "care_coordinators" not in out and "qualitative" not in out


@pytest.mark.slow
def test_minimal_config_runs_end_to_end(tmp_path):
    """Only the required keys (no labels, no countries, no covariates, no published reference, no
    qualitative arm): ``cocapp run`` makes every output; scores as hand-computed in test_workflow_e2e."""
    study = tmp_path / "minimal"
    shutil.copytree(TINY, study)
    (study / "config.yaml").write_text(MINIMAL, "utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "cocapp", "run", str(study), "--cores", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = (study / "reports" / "report.html").read_text("utf-8")
    assert "Minimal" in report
    scores = pd.read_csv(study / "data/derived/scores/users.csv", dtype={"id": str, "threshold": str})
    sel = scores[(scores.id == "U01") & (scores.instrument == "RSA") & (scores.scale == "choice")]
    # U01 RSA choice: items 3 (=8) and 6 (=9) missing; 7, 13, 29 answered 3, 3, 4 -> 10/3 at 0.5
    assert sel.set_index("threshold").score.to_dict()["0.5"] == pytest.approx(10 / 3, rel=1e-15)
    assert np.isnan(sel.set_index("threshold").score.to_dict()["0.0"])
    assert not (study / "reports/tables/published_comparison.csv").exists()


def test_init_templates_are_package_data():
    assert (INIT_TEMPLATES / "config.yaml.j2").is_file() and (INIT_TEMPLATES / "README.md.j2").is_file()
