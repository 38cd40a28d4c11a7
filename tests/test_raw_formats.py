"""Every raw format a health-services team exports gives the same study: the default's questionnaires
written as SPSS .zsav/.por, Stata .dta, SAS .xpt, Excel .xlsx and CSV/TSV in several encodings,
delimiters and decimal marks are ingested and scored, and every derived file (items, respondents,
reconciliation, scores) is byte-identical to the one from the shipped .sav files.

pyreadstat cannot write .sas7bdat; that reader is tested on small real SAS files from pyreadstat's own
test data (tests/fixtures/formats, see its README)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from stage_inputs import ingest_inputs

from cocapp.io import RawReadError, ReadOptions, read_raw

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"
FORMATS = Path(__file__).parent / "fixtures" / "formats"
GROUPS = ("service_users", "care_coordinators")
KINDS = ("items", "respondents", "reconciliation")
# por names are at most 8 characters: the long covariate names get short columns (covariates.*.column)
POR_NAMES = {
    "ethnicity": "ethnic",
    "relationship_status": "relstat",
    "years_in_services": "yrs_serv",
    "years_as_care_coordinator": "yrs_cc",
}
CATEGORICAL = ("gender", "ethnicity", "relationship_status")


def run_study(run_cocapp, config: dict, out: Path) -> dict[str, bytes]:
    """ingest + score of every group, as the workflow runs them; {file name: bytes}."""
    args = [x for kind in KINDS for x in (f"--{kind}", *(out / f"{g}_{kind}.csv" for g in config["groups"]))]
    assert run_cocapp("ingest", config, *ingest_inputs(config), *args) == 0
    for g in config["groups"]:
        code = run_cocapp(
            "score",
            config,
            "--group",
            g,
            "--items",
            out / f"{g}_items.csv",
            "--out",
            out / f"{g}_scores.csv",
            group=g,
        )
        assert code == 0
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.csv"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, run_cocapp, default_config) -> dict[str, bytes]:
    """The derived files of the shipped .sav inputs."""
    config = copy.deepcopy(default_config)
    for g in GROUPS:
        config["groups"][g]["raw"] = str(RAW / f"{g}.sav")
    return run_study(run_cocapp, config, tmp_path_factory.mktemp("reference"))


def sav(group: str):
    return pyreadstat.read_sav(str(RAW / f"{group}.sav"), user_missing=True)


def text_frame(group: str) -> pd.DataFrame:
    """The default's CSV export of ``group`` (site as names, codes as codes), every cell as text."""
    return pd.read_csv(RAW / f"{group}.csv", dtype=str, keep_default_na=False)


def with_comment(df: pd.DataFrame, text: str) -> pd.DataFrame:
    """A free-text column the study does not use, with characters outside ASCII (as real exports have)."""
    df = df.copy()
    df["comment"] = [text if i % 7 == 0 else "" for i in range(len(df))]
    return df


def write_csv(df: pd.DataFrame, path: Path, sep: str, encoding: str, decimal_comma: bool = False) -> None:
    if decimal_comma:
        df = df.copy()
        for col in ("age", "years_in_services"):
            df[col] = df[col].map(lambda v: f"{v},0" if v else v)
    text = df.to_csv(index=False, sep=sep, lineterminator="\r\n")
    path.write_bytes(text.encode(encoding))


def write_zsav(group: str, path: Path, config: dict) -> None:
    df, meta = sav(group)
    pyreadstat.write_sav(
        df,
        str(path),
        compress=True,
        column_labels=meta.column_labels,
        variable_value_labels=meta.variable_value_labels,
        missing_ranges=meta.missing_ranges,
    )


def write_por(group: str, path: Path, config: dict) -> None:
    """Portable file: 8-character names (read back in upper case), site as text, categories as codes
    labelled by the config's covariate ``levels``."""
    df, meta = sav(group)
    labels = meta.variable_value_labels
    df["site"] = df["site"].map(labels["site"])
    pyreadstat.write_por(df.rename(columns=POR_NAMES), str(path))
    g = config["groups"][group]
    for name, cov in g["covariates"].items():
        if name in POR_NAMES:
            cov["column"] = POR_NAMES[name]
        if name in CATEGORICAL:
            cov["levels"] = {int(k): v for k, v in labels[name].items()}


def write_sav_text_coded(group: str, path: Path, config: dict) -> None:
    """SPSS with text-coded site and categories labelled by text value labels (as SAS character formats
    label them): the site column holds the config's site codes ('A' = 'Artois'), each category 'c<code>'."""
    df, meta = sav(group)
    labels = meta.variable_value_labels
    codes = {s["name"]: s["code"] for s in config["sites"]}
    df["site"] = df["site"].map(lambda v: codes[labels["site"][v]])
    text_labels = {"site": {c: name for name, c in codes.items()}}
    for name in CATEGORICAL:
        if name in df.columns:
            df[name] = df[name].map(lambda v: f"c{int(v)}" if pd.notna(v) else "")
            text_labels[name] = {f"c{int(k)}": t for k, t in labels[name].items()}
    pyreadstat.write_sav(df, str(path), variable_value_labels=text_labels)
    config["groups"][group]["codebook"] = None  # the file's own labels only


def write_dta(group: str, path: Path, config: dict) -> None:
    """Stata: value labels; the item missing codes 8 and 9 as extended missing values .a and .b."""
    df, meta = sav(group)
    df = df.astype(object)
    items = [c for c in df.columns if c.startswith(("rsa_", "starp_", "es_"))]
    for col in items:
        df[col] = df[col].map(lambda v: {8.0: "a", 9.0: "b"}.get(v, v))
    labels = {k: {int(c): t for c, t in v.items()} for k, v in meta.variable_value_labels.items()}
    pyreadstat.write_dta(
        df,
        str(path),
        variable_value_labels=labels,
        missing_user_values={c: ["a", "b"] for c in items},
    )
    config["groups"][group]["read"] = {"extended_missing": {"a": 8, "b": 9}}


def write_xpt(group: str, path: Path, config: dict) -> None:
    """SAS transport: no labels, so site as text and the codebook for the categories."""
    df, meta = sav(group)
    df["site"] = df["site"].map(meta.variable_value_labels["site"])
    pyreadstat.write_xport(df, str(path), table_name=group[:8])


def write_xlsx(group: str, path: Path, config: dict) -> None:
    """A workbook whose answers are on the sheet "Responses" (not the first): numbers as numbers."""
    import openpyxl

    df = text_frame(group)
    book = openpyxl.Workbook()
    book.active.title = "About"
    book.active.append(["Exported from the survey tool"])
    sheet = book.create_sheet("Responses")
    sheet.append(list(df.columns))
    for rec in df.itertuples(index=False):
        sheet.append([int(v) if v.isdigit() else (v or None) for v in rec])
    book.save(path)
    config["groups"][group]["read"] = {"sheet": "Responses"}


def text_writer(sep: str, encoding: str, read: dict | None = None, decimal_comma: bool = False):
    def write(group: str, path: Path, config: dict) -> None:
        text = "Café, 5½ weeks" if encoding == "latin-1" else "Café – “good”; 5½ weeks"
        write_csv(with_comment(text_frame(group), text), path, sep, encoding, decimal_comma)
        if read:
            config["groups"][group]["read"] = dict(read)

    return write


VARIANTS = {
    "zsav": (".zsav", write_zsav),
    "por": (".por", write_por),
    "sav-text-coded": (".sav", write_sav_text_coded),
    "dta": (".dta", write_dta),
    "xpt": (".xpt", write_xpt),
    "xlsx": (".xlsx", write_xlsx),
    "csv-utf8": (".csv", text_writer(",", "utf-8")),
    "csv-utf8-bom": (".csv", text_writer(",", "utf-8-sig")),
    # Excel on Windows: cp1252, semicolons, decimal comma (encoding detected, delimiter detected)
    "csv-excel-cp1252-semicolon-decimal-comma": (".csv", text_writer(";", "cp1252", {"decimal": ","}, True)),
    "csv-latin1-declared": (".csv", text_writer(",", "latin-1", {"encoding": "latin-1"})),
    "tsv-utf8": (".tsv", text_writer("\t", "utf-8")),
    # Excel's "Unicode text": UTF-16 with a byte-order mark, tab-separated
    "txt-utf16-tab": (".txt", text_writer("\t", "utf-16")),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_format_gives_byte_identical_outputs(variant, reference, run_cocapp, default_config, tmp_path):
    suffix, write = VARIANTS[variant]
    config = copy.deepcopy(default_config)
    for g in GROUPS:
        path = tmp_path / f"{g}{suffix}"
        config["groups"][g]["codebook"] = str(RAW / "codebook.csv")
        write(g, path, config)
        config["groups"][g]["raw"] = str(path)
        if config["groups"][g]["codebook"] is None:
            del config["groups"][g]["codebook"]
    got = run_study(run_cocapp, config, tmp_path / "derived")
    assert list(got) == list(reference)
    for name in reference:
        assert got[name] == reference[name], f"{variant}: {name} differs from the .sav run"


def test_encoding_detection_is_logged(tmp_path, capsys, default_config, run_cocapp):
    config = copy.deepcopy(default_config)
    for g in GROUPS:
        path = tmp_path / f"{g}.csv"
        text_writer(";", "cp1252")(g, path, config)
        config["groups"][g]["raw"] = str(path)
    run_study(run_cocapp, config, tmp_path / "derived")
    assert f"{tmp_path}/service_users.csv: encoding cp1252" in capsys.readouterr().err


# -- SAS .sas7bdat (pyreadstat cannot write it: real files from pyreadstat's test data) -------------
def test_sas7bdat_values_and_catalog_value_labels():
    plain = read_raw(FORMATS / "sample.sas7bdat")
    assert plain.kind == "sas7bdat"
    assert plain.data["mynum"].tolist() == [1.1, 1.2, -1000.3, -1.4, 1000.3]
    assert plain.data["mychar"].tolist() == ["a", "b", "c", "d", "e"]
    assert plain.data["mylabl"].tolist() == [1.0, 2.0, 1.0, 2.0, 1.0]  # codes stay codes
    table = read_raw(
        FORMATS / "test_data_linux.sas7bdat",
        options=ReadOptions(catalog=str(FORMATS / "test_formats_linux.sas7bcat")),
    )
    assert table.data["SEXA"].tolist() == ["1", "2", "1"]  # not replaced by their labels
    # a character column labelled by a $format keeps text codes ('1', not 1.0): site and category
    # columns are read through them as text (see the sav-text-coded variant above)
    assert table.value_labels["SEXA"] == {"1": "Male", "2": "Female"}


def test_por_value_labels():
    table = read_raw(FORMATS / "sample.por")
    assert table.kind == "por"
    assert table.value_labels["MYLABL"] == {1.0: "Male", 2.0: "Female"}
    assert table.data["MYLABL"].tolist() == [1.0, 2.0, 1.0, 2.0, 1.0]


def test_sas7bdat_special_missing_values():
    """missing_test.sas7bdat holds SAS special missing values .A-.Z and ._ in numeric columns: they are
    system-missing unless ``extended_missing`` maps them to a numeric code, and then declared missing."""
    path = FORMATS / "missing_test.sas7bdat"
    catalog = str(FORMATS / "missing_formats.sas7bcat")
    table = read_raw(path, options=ReadOptions(catalog=catalog))
    assert table.data.iloc[0].isna().tolist() == [True] * 8 + [False]
    assert table.data["var9"].tolist() == [1.0]
    assert "var1 (1), var2 (1)" in table.notes[0]
    mapped = read_raw(path, options=ReadOptions(catalog=catalog, extended_missing={"a": 8.0, "b": 9.0}))
    assert mapped.data.loc[0, "var1"] == 8.0 and mapped.data.loc[0, "var2"] == 9.0
    assert mapped.missing_codes["var1"] == {8.0: "missing"}  # the catalog's label of .A
    assert mapped.missing_codes["var2"] == {9.0: "extended missing .b"}


def test_sas7bdat_catalog_must_exist(tmp_path):
    with pytest.raises(RawReadError, match="nowhere.sas7bcat: file not found"):
        read_raw(FORMATS / "sample.sas7bdat", options=ReadOptions(catalog=str(tmp_path / "nowhere.sas7bcat")))


def test_por_upper_case_names_match_the_config(tmp_path, default_config):
    config = copy.deepcopy(default_config)
    path = tmp_path / "cc.por"
    write_por("care_coordinators", path, config)
    table = read_raw(path)
    assert "RSA_01" in table.data.columns  # as the format stores it
    from cocapp.ingest import group_spec, ingest_group

    result = ingest_group(group_spec(config, "care_coordinators"), table)
    assert len(result.items) == len(table.data)


def test_xlsx_numbers_and_text_cells_read_as_shown(tmp_path):
    import datetime

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "x", "when", "flag", None])
    sheet.append([1001, 2.5, datetime.date(2024, 3, 1), True, None])
    sheet.append(["A-2", 3.0, None, False, None])
    path = tmp_path / "w.xlsx"
    book.save(path)
    df = read_raw(path).data
    assert list(df.columns) == ["id", "x", "when", "flag"]  # an unnamed empty column is not data
    assert df["id"].tolist() == ["1001", "A-2"]
    assert df["x"].tolist() == ["2.5", "3"]
    assert df["when"].iloc[0].startswith("2024-03-01") and np.isnan(df["when"].iloc[1])
    assert df["flag"].tolist() == ["TRUE", "FALSE"]


def test_fixture_files_are_documented():
    readme = (FORMATS / "README.md").read_text("utf-8")
    for path in FORMATS.iterdir():
        if path.name != "README.md":
            assert path.name in readme
