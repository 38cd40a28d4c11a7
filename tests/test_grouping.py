"""Rows without a known group (``grouping.unknown``) and the grouping's words (``grouping.label``).

Run as the workflow runs the stages, in a copy of the tiny fixture study (the ``study`` fixture).
"""

import shutil
from pathlib import Path

import pandas as pd
import yaml
from stage_inputs import ingest_inputs

from cocapp.config import load_config
from cocapp.contracts import read
from cocapp.presentation.tables import table_returns
from cocapp.words import grouping_words, in_sentence

KINDS = ("items", "respondents", "reconciliation")


def blank_two_sites(study: Path) -> None:
    """users.csv: U03's site empty, U05's site 'West' (not configured)."""
    path = study / "data/raw/users.csv"
    d = pd.read_csv(path, dtype=str, keep_default_na=False)
    d.loc[d.id == "U03", "site"] = ""
    d.loc[d.id == "U05", "site"] = "West"
    d.to_csv(path, index=False, lineterminator="\n")


def set_grouping(study: Path, **grouping) -> dict:
    cfg = yaml.safe_load((study / "config.yaml").read_text("utf-8"))
    cfg["grouping"] = grouping
    (study / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), "utf-8")
    return load_config(study / "config.yaml")


def ingest(cocapp_stage, config) -> tuple[int, str]:
    args = [
        x
        for kind in KINDS
        for x in (f"--{kind}", *(f"data/derived/ingest/{g}_{kind}.csv" for g in config["groups"]))
    ]
    return cocapp_stage("ingest", config, *ingest_inputs(config), *args)


def test_empty_or_unknown_group_is_an_error_by_default_each_reported_once(study, cocapp_stage):
    blank_two_sites(study)
    code, log = ingest(cocapp_stage, load_config("config.yaml"))
    assert code != 0 and not Path("data/derived").exists()
    row3 = [line for line in log.splitlines() if "column 'site', data row 3" in line]
    assert row3 == ["  - data/raw/users.csv: column 'site', data row 3: value (empty): must not be empty"]
    row5 = [line for line in log.splitlines() if "column 'site', data row 5" in line]
    assert len(row5) == 1 and "value 'West': site must be one of the configured sites" in row5[0]
    assert "grouping.unknown: exclude" in row5[0]


def test_excluded_rows_are_listed_with_their_reason_and_counted_in_table_1(study, cocapp_stage):
    blank_two_sites(study)
    config = set_grouping(study, label="Region", unknown="exclude")
    code, log = ingest(cocapp_stage, config)
    assert code == 0, log
    assert "users: 12 raw rows, 10 analysed, 2 excluded" in log
    recon = read("reconciliation", "data/derived/ingest/users_reconciliation.csv")
    assert len(recon) == 12  # every raw row
    out = recon[recon.id.isin(["U03", "U05"])].set_index("id")
    assert list(out.status) == ["excluded", "excluded"]
    assert pd.isna(out.loc["U03", "site"]) and out.loc["U05", "site"] == "West"
    assert out.loc["U03", "reason"].startswith("region empty (excluded from every analysis")
    assert out.loc["U05", "reason"].startswith("region 'West', not a configured region (excluded")
    for kind in ("items", "respondents"):
        frame = read(kind, f"data/derived/ingest/users_{kind}.csv")
        assert len(frame) == 10 and not frame.id.isin(["U03", "U05"]).any()
        assert set(frame.site) == {"North", "South"}
    recons = {
        g: read("reconciliation", f"data/derived/ingest/{g}_reconciliation.csv") for g in ("users", "staff")
    }
    rows = {r[0]: r[1:] for r in table_returns(recons, config).rows}
    users_analysed = int((recons["users"].status == "analysed").sum())
    assert rows["No or unknown region (excluded)"] == ["2", "0", "0", "0"]
    assert rows["Total"][:2] == ["12", str(users_analysed)]
    north = (recons["users"].site == "North").sum()
    assert rows["North (England)"][0] == str(north)


def test_table_1_has_no_unknown_row_when_every_row_has_a_site(study, cocapp_stage):
    config = load_config("config.yaml")
    assert ingest(cocapp_stage, config)[0] == 0
    recons = {
        g: read("reconciliation", f"data/derived/ingest/{g}_reconciliation.csv") for g in ("users", "staff")
    }
    firsts = [r[0] for r in table_returns(recons, config).rows]
    assert firsts == ["North (England)", "South (Wales)", "Total"]


def test_grouping_words():
    assert grouping_words({}).label == "Site" and grouping_words({}).nouns == "sites"
    w = grouping_words({"grouping": {"label": "Education level"}})
    assert (w.label, w.plural, w.noun, w.nouns) == (
        "Education level",
        "Education levels",
        "education level",
        "education levels",
    )
    w = grouping_words({"grouping": {"label": "NHS trust", "plural": "NHS trusts"}})
    assert (w.noun, w.nouns) == ("NHS trust", "NHS trusts")
    assert in_sentence("A") == "a"


# -- one raw copy per group ------------------------------------------------------------------------
def test_a_second_copy_of_a_raw_file_must_hold_the_same_data(study, cocapp_stage):
    """data/raw/users.txt beside users.csv: checked (same data: fine, logged); an edit to it that the
    workflow would silently ignore is refused, naming both files, the column, row and values."""
    from cocapp.workflow import Workflow

    copy = study / "data/raw/users.txt"
    copy.write_bytes((study / "data/raw/users.csv").read_bytes())
    config = load_config("config.yaml")
    assert Workflow(config).raw_copies() == ["data/raw/users.txt"]
    code, log = ingest(cocapp_stage, config)
    assert code == 0, log
    assert "data/raw/users.txt: a copy of data/raw/users.csv, checked: same data" in log
    d = pd.read_csv(copy, dtype=str, keep_default_na=False)
    d.loc[d.id == "U04", "rsa_02"] = "1" if d.loc[d.id == "U04", "rsa_02"].item() != "1" else "2"
    d.to_csv(copy, index=False, lineterminator="\n")
    shutil.rmtree("data/derived")
    code, log = ingest(cocapp_stage, config)
    assert code != 0 and not Path("data/derived").exists()
    assert "data/raw/users.txt: another copy of data/raw/users.csv (groups.users.raw) with different" in log
    assert "column 'rsa_02', data row 4:" in log


def test_a_copy_with_an_invalid_value_is_refused_naming_the_column_row_and_value(study, cocapp_stage):
    """A copy whose edit breaks a rule (a response out of range) is refused with the rule's own
    message: the copy's file, the column, the data row and the value, not only a count of problems."""
    copy = study / "data/raw/users.txt"
    d = pd.read_csv(study / "data/raw/users.csv", dtype=str, keep_default_na=False)
    d.loc[d.id == "U04", "rsa_02"] = "77"
    d.to_csv(copy, index=False, lineterminator="\n")
    code, log = ingest(cocapp_stage, load_config("config.yaml"))
    assert code != 0 and not Path("data/derived").exists()
    assert "data/raw/users.txt: another copy of data/raw/users.csv (groups.users.raw) with different" in log
    assert (
        "data/raw/users.txt: column 'rsa_02', data row 4: value '77': must be an integer from 1 to 5" in log
    )
