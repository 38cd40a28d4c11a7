"""Ingest and validation: good input, one test per class of bad input, .sav reading.

The stage runs as the workflow runs it (``cocapp ingest --settings ...``) in a copy of the tiny fixture
study; every data problem must stop it with a message naming file, column, row and value, and leave
no derived file behind."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml
from stage_inputs import ingest_inputs

from cocapp.cli import main as cli_main
from cocapp.config import load_config
from cocapp.contracts import read
from cocapp.ingest import ingest_study
from cocapp.io import read_raw
from cocapp.validate import DataValidationError

TINY = Path(__file__).parent / "fixtures" / "tiny"
KINDS = ("items", "respondents", "reconciliation")


def edit_csv(path: Path, fn) -> None:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = fn(df)
    df.to_csv(path, index=False, lineterminator="\n")


def run_ingest(cocapp_stage) -> tuple[int, str]:
    """``cocapp ingest`` with the study's config (in the working directory), as its rule runs it."""
    config = load_config("config.yaml")
    args = [
        x
        for kind in KINDS
        for x in (f"--{kind}", *(f"data/derived/ingest/{g}_{kind}.csv" for g in config["groups"]))
    ]
    return cocapp_stage("ingest", config, *ingest_inputs(config), *args)


@pytest.fixture
def run_failing(cocapp_stage):
    def run() -> str:
        code, log = run_ingest(cocapp_stage)
        assert code != 0
        assert not Path("data/derived").exists(), "no derived file may be left behind"
        return log

    return run


# -- good input ----------------------------------------------------------------------------------------
def test_ingest_writes_items_respondents_reconciliation(study, cocapp_stage):
    code, log = run_ingest(cocapp_stage)
    assert code == 0, log
    assert "users: 12 raw rows" in log
    written = sorted(str(p) for p in Path("data/derived/ingest").iterdir())
    assert written == sorted(f"data/derived/ingest/{g}_{k}.csv" for g in ("users", "staff") for k in KINDS)
    # each file meets the contract the later stages read it with
    items = read("items", "data/derived/ingest/users_items.csv")
    rec = read("reconciliation", "data/derived/ingest/users_reconciliation.csv").fillna({"reason": ""})
    resp = read("respondents", "data/derived/ingest/users_respondents.csv")
    raw = pd.read_csv("data/raw/users.csv", dtype={"id": str})
    # every raw row is accounted for, in file order, numbered as data rows
    assert rec["row"].tolist() == list(range(1, len(raw) + 1))
    assert rec["id"].tolist() == raw["id"].tolist()
    assert set(rec["status"]) <= {"analysed", "excluded"}
    # U01: rsa_03 = 8 (not applicable) and rsa_06 = 9 (no response) are kept apart as codes
    u01 = items[items.id == "U01"].iloc[0]
    assert u01["rsa_03"] == 8 and u01["rsa_06"] == 9
    # U03 answered no RSA item: excluded from RSA with the reason, still analysed for STAR-P
    u03 = rec[rec.id == "U03"].iloc[0]
    assert u03["RSA_status"] == "excluded" and u03["STAR-P_status"] == "analysed"
    assert u03["status"] == "analysed" and "answered no item of RSA" in u03["reason"]
    # U04 has no gender: noted, and the categorical covariate is a label elsewhere
    assert "covariate gender missing" in rec[rec.id == "U04"].iloc[0]["reason"]
    assert resp.loc[resp.id == "U01", "gender"].item() in {"Male", "Female"}
    assert pd.isna(resp.loc[resp.id == "U04", "gender"].item())


def test_row_excluded_when_no_instrument_answered(study):
    def blank(df):
        for c in df.columns:
            if c.startswith(("rsa_", "starp_")):
                df.loc[df.id == "U05", c] = ""
        return df

    edit_csv(study / "data/raw/users.csv", blank)
    res = ingest_study(load_config("config.yaml"))["users"]
    rec = res.reconciliation.set_index("id")
    assert rec.loc["U05", "status"] == "excluded"
    assert "answered no item of RSA, STAR-P" in rec.loc["U05", "reason"]


# -- one test per class of bad input --------------------------------------------------------------------
def test_out_of_range_item(study, run_failing):
    edit_csv(study / "data/raw/users.csv", lambda d: d.assign(rsa_07=d.rsa_07.mask(d.id == "U02", "6")))
    err = run_failing()
    assert "data/raw/users.csv: column 'rsa_07', data row 2: value '6'" in err
    assert "integer from 1 to 5" in err


def test_non_numeric_item(study, run_failing):
    edit_csv(
        study / "data/raw/users.csv", lambda d: d.assign(starp_05=d.starp_05.mask(d.id == "U07", "often"))
    )
    err = run_failing()
    assert "column 'starp_05', data row 7: value 'often': must be a number" in err


def test_fractional_item_is_out_of_range(study, run_failing):
    edit_csv(study / "data/raw/staff.csv", lambda d: d.assign(rsa_01=d.rsa_01.mask(d.id == "S03", "2.5")))
    err = run_failing()
    assert "data/raw/staff.csv: column 'rsa_01', data row 3: value '2.5'" in err


def test_duplicate_id(study, run_failing):
    edit_csv(study / "data/raw/users.csv", lambda d: d.assign(id=d.id.mask(d.id == "U09", "U08")))
    err = run_failing()
    assert "column 'id', data row 8: value 'U08': id must be unique" in err
    assert "column 'id', data row 9: value 'U08': id must be unique" in err


def test_empty_id(study, run_failing):
    edit_csv(study / "data/raw/users.csv", lambda d: d.assign(id=d.id.mask(d.id == "U04", "")))
    err = run_failing()
    assert "column 'id', data row 4: value (empty): must not be empty" in err


def test_unknown_site(study, run_failing):
    edit_csv(study / "data/raw/staff.csv", lambda d: d.assign(site=d.site.mask(d.id == "S05", "West")))
    err = run_failing()
    assert (
        "data/raw/staff.csv: column 'site', data row 5: value 'West': site must be one of the configured"
        in err
    )


def test_missing_column(study, run_failing):
    edit_csv(study / "data/raw/users.csv", lambda d: d.drop(columns=["starp_12"]))
    err = run_failing()
    assert "data/raw/users.csv: column 'starp_12': required column is missing" in err


def test_empty_file(study, run_failing):
    (study / "data/raw/staff.csv").write_text("")
    err = run_failing()
    assert "data/raw/staff.csv: file is empty" in err


def test_header_only_file(study, run_failing):
    path = study / "data/raw/staff.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")
    err = run_failing()
    assert "data/raw/staff.csv: the file has a header but no data rows" in err


def test_duplicate_column_name(study, run_failing):
    path = study / "data/raw/users.csv"
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace("rsa_02", "rsa_01")
    path.write_text("\n".join(lines) + "\n")
    err = run_failing()
    assert "data/raw/users.csv: column 'rsa_01': the column name appears more than once" in err


def test_ragged_row_is_reported(study, run_failing):
    path = study / "data/raw/staff.csv"
    lines = path.read_text().splitlines()
    lines[3] = lines[3] + ",1,2,3"
    path.write_text("\n".join(lines) + "\n")
    err = run_failing()
    assert "data/raw/staff.csv: 1 row(s) with a different number of cells than the header's 41" in err
    assert "line 4 has 44" in err


def test_covariate_out_of_range(study, run_failing):
    edit_csv(study / "data/raw/users.csv", lambda d: d.assign(age=d.age.mask(d.id == "U06", "140")))
    err = run_failing()
    assert "column 'age', data row 6: value '140': covariate 'age' must lie in 16..100" in err


def test_unlabelled_category(study, run_failing):
    edit_csv(study / "data/raw/users.csv", lambda d: d.assign(gender=d.gender.mask(d.id == "U10", "7")))
    err = run_failing()
    assert (
        "column 'gender', data row 10: value '7': covariate 'gender' must be one of its labelled codes" in err
    )


# the config is checked before any stage runs (the Snakefile validates it; `cocapp check-config`)
def test_malformed_config(study, capsys):
    cfg = yaml.safe_load(Path("config.yaml").read_text())
    cfg["scoring"]["thresholds"] = [0.0, "half"]
    Path("config.yaml").write_text(yaml.safe_dump(cfg))
    assert cli_main(["check-config", "config.yaml"]) == 1
    assert "key scoring.thresholds.1" in capsys.readouterr().err


def test_config_unknown_key_and_bad_value(study, capsys):
    cfg = yaml.safe_load(Path("config.yaml").read_text())
    cfg["statistics"]["signifcance_level"] = 0.05
    cfg["scoring"]["primary_threshold"] = 0.3
    Path("config.yaml").write_text(yaml.safe_dump(cfg))
    assert cli_main(["check-config", "config.yaml"]) == 1
    err = capsys.readouterr().err
    assert "key statistics" in err and "signifcance_level" in err


def test_many_problems_are_capped_with_a_count(study, run_failing):
    def wreck(df):
        for c in [c for c in df.columns if c.startswith("rsa_")]:
            df[c] = "7"
        return df

    edit_csv(study / "data/raw/users.csv", wreck)
    err = run_failing()
    assert err.count("must be an integer from 1 to 5") == 50
    assert f"and {12 * 36 - 50} more problems not listed" in err
    assert f"{12 * 36} problems found" in err


# -- the files on the command line --------------------------------------------------------------------
def outputs(config) -> list[str]:
    return [x for k in KINDS for x in (f"--{k}", *(f"out/{g}_{k}.csv" for g in config["groups"]))]


def test_ingest_reads_only_the_files_given_and_they_must_be_the_configured_ones(study, cocapp_stage):
    """The raw files come from the command line (one per group, config order), never from a folder:
    a file given for the wrong group, a copy that is no copy of a raw file, or a codebook a group needs
    but was not given stops the stage with a message naming the file."""
    config = load_config("config.yaml")
    inputs = ingest_inputs(config)
    assert inputs[: inputs.index("--codebook")] == ["--raw", "data/raw/users.csv", "data/raw/staff.csv"]
    code, log = cocapp_stage(
        "ingest", config, "--raw", "data/raw/staff.csv", "data/raw/users.csv", *outputs(config)
    )
    assert code == 1
    assert (
        "--raw: data/raw/staff.csv is given for group users (config order), but groups.users.raw is " in log
    )
    code, log = cocapp_stage(
        "ingest", config, *inputs[:5], "--copies", "data/raw/codebook.csv", *outputs(config)
    )
    assert (
        code == 1
        and "--copies: data/raw/codebook.csv is given, but no configured group's raw file needs" in log
    )
    # the codebook of the text tables is needed, and was not given
    code, log = cocapp_stage("ingest", config, *inputs[:3], *outputs(config))
    assert (
        code == 1
        and "--codebook: groups.users.codebook is data/raw/codebook.csv, which the group needs" in log
    )
    assert not Path("out").exists()


def test_instruments_are_the_files_given(study, cocapp_stage):
    """The instrument files come from --instruments (the workflow finds them when it is parsed): a
    configured instrument without its file, or a file of an instrument no group uses, is an error."""
    from cocapp.instruments import builtin_instrument_dir

    config = load_config("config.yaml")
    rsa, star_p, es = (str(builtin_instrument_dir() / f"{k}.yaml") for k in ("RSA", "STAR-P", "ES"))
    code, log = cocapp_stage("ingest", config, *ingest_inputs(config), "--instruments", rsa, *outputs(config))
    assert code == 1 and "instrument STAR-P: no file STAR-P.yaml given (--instruments: " in log
    code, log = cocapp_stage(
        "ingest", config, *ingest_inputs(config), "--instruments", rsa, star_p, es, *outputs(config)
    )
    assert code == 1 and f"--instruments: {es} is given, but no configured group uses instrument ES" in log
    assert not Path("out").exists()
    # score reads its own group's instruments only
    assert cocapp_stage("ingest", config, *ingest_inputs(config), *outputs(config))[0] == 0
    args = ["--group", "staff", "--items", "out/staff_items.csv", "--instruments", rsa, star_p]
    args += ["--out", "s.csv"]
    code, log = cocapp_stage("score", config, *args, group="staff")
    assert code == 1 and "no configured group (staff) uses instrument STAR-P" in log


def test_a_copy_is_checked_only_when_given(study, cocapp_stage):
    """Another copy beside a raw file (users.sav beside users.csv) is an input of ingest: the workflow
    lists it when it is parsed and gives it; the stage checks the copies it is given."""
    write_sav_copy(study)
    config = load_config("config.yaml")
    inputs = ingest_inputs(config)
    assert inputs[inputs.index("--copies") :] == ["--copies", "data/raw/users.sav"]
    code, log = cocapp_stage("ingest", config, *inputs, *outputs(config))
    assert code == 0 and "data/raw/users.sav: a copy of data/raw/users.csv, checked: same data" in log
    without = inputs[: inputs.index("--copies")]
    code, log = cocapp_stage("ingest", config, *without, *outputs(config))
    assert code == 0 and "users.sav" not in log


# -- SPSS input ----------------------------------------------------------------------------------------
def write_sav_copy(study: Path) -> Path:
    """The users CSV as a .sav: site as labelled codes, 8/9 declared user-missing on items."""
    df = pd.read_csv(study / "data/raw/users.csv")
    df["site"] = df["site"].map({"North": 1, "South": 2}).astype(float)
    items = [c for c in df.columns if c.startswith(("rsa_", "starp_"))]
    path = study / "data/raw/users.sav"
    pyreadstat.write_sav(
        df,
        str(path),
        file_label="TEST fixture",
        variable_value_labels={
            "site": {1: "North", 2: "South"},
            "gender": {1: "Male", 2: "Female"},
            **{c: {8: "not applicable / don't know", 9: "no response"} for c in items},
        },
        missing_ranges={c: [8, 9] for c in items},
    )
    return path


def test_sav_keeps_user_missing_codes_and_labels(study):
    path = write_sav_copy(study)
    table = read_raw(path)
    assert table.kind == "sav"
    assert table.missing_codes["rsa_03"] == {8.0: "not applicable / don't know", 9.0: "no response"}
    assert table.data.loc[0, "rsa_03"] == 8  # user-missing kept as the code, not NaN
    assert table.value_labels["site"] == {1.0: "North", 2.0: "South"}


def test_sav_and_csv_give_identical_tables(study):
    write_sav_copy(study)
    cfg = load_config("config.yaml")
    from_csv = ingest_study(cfg, ["users"])["users"]
    cfg["groups"]["users"]["raw"] = "data/raw/users.sav"
    from_sav = ingest_study(cfg, ["users"])["users"]
    for kind in ("items", "respondents", "reconciliation"):
        a, b = getattr(from_csv, kind), getattr(from_sav, kind)
        pd.testing.assert_frame_equal(
            a.astype(object).fillna(np.nan), b.astype(object).fillna(np.nan), check_dtype=False
        )


def test_sav_unknown_site_code_is_named(study):
    path = write_sav_copy(study)
    df, meta = pyreadstat.read_sav(str(path), user_missing=True)
    df.loc[4, "site"] = 3.0
    pyreadstat.write_sav(
        df,
        str(path),
        variable_value_labels={"site": {1: "North", 2: "South"}},
        missing_ranges=meta.missing_ranges,
    )
    cfg = load_config("config.yaml")
    cfg["groups"]["users"]["raw"] = "data/raw/users.sav"
    with pytest.raises(DataValidationError) as info:
        ingest_study(cfg, ["users"])
    assert "data/raw/users.sav: column 'site', data row 5: value 3: site must be one of" in str(info.value)
