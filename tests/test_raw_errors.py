"""Malformed input of every kind: one clear message naming the file (and line, byte, row or column where
there is one, with the setting to change where that helps), exit code 1, no traceback, no derived file.

The stage runs as the workflow runs it (``cocapp ingest --settings ...``) on a copy of the tiny fixture
study; config files go through ``cocapp check-config`` (what the Snakefile's validation does)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
import yaml
from stage_inputs import ingest_inputs

from cocapp.cli import main as cli_main
from cocapp.config import load_config
from cocapp.instruments import InstrumentError, builtin_instrument_dir, load_instrument

TINY = Path(__file__).parent / "fixtures" / "tiny"
KINDS = ("items", "respondents", "reconciliation")
USERS = "data/raw/users.csv"
STAFF = "data/raw/staff.csv"


def set_group(study: Path, group: str, **values) -> None:
    """Change keys of one group in the study's config.yaml."""
    cfg = yaml.safe_load((study / "config.yaml").read_text())
    cfg["groups"][group].update(values)
    (study / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


@pytest.fixture
def refused(cocapp_stage):
    """Run ingest; it must fail with no traceback and no derived file; returns the error text."""

    def run() -> str:
        config = load_config("config.yaml")
        args = [
            x
            for kind in KINDS
            for x in (f"--{kind}", *(f"data/derived/ingest/{g}_{kind}.csv" for g in config["groups"]))
        ]
        code, log = cocapp_stage("ingest", config, *ingest_inputs(config), *args)
        assert code == 1
        assert "Traceback" not in log
        assert not Path("data/derived").exists(), "no derived file may be left behind"
        errors = [line for line in log.splitlines() if line.startswith("cocapp ingest: error: ")]
        assert len(errors) == 1
        return log[log.index("cocapp ingest: error: ") + len("cocapp ingest: error: ") :]

    return run


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


# -- text encodings --------------------------------------------------------------------------------
def test_latin1_byte_in_declared_utf8_names_line_byte_and_setting(study, refused):
    text = (study / USERS).read_bytes().replace(b"U04,", b"U\xe904,", 1)
    (study / USERS).write_bytes(text)
    set_group(study, "users", read={"encoding": "utf-8"})
    err = refused()
    offset = text.index(b"\xe9")
    assert err.startswith(f"{USERS}: line 5, byte offset {offset}: byte 0xe9 is not valid utf-8-sig; ")
    assert "set groups.users.read.encoding" in err and "cp1252" in err


def test_latin1_file_is_detected_when_encoding_is_auto(study, cocapp_stage):
    """The issue's Excel round trip: a Latin-1 é in one cell is read (and the detection logged)."""
    path = study / USERS
    path.write_bytes(path.read_bytes().replace(b"U04,", b"U\xe904,", 1))
    config = load_config("config.yaml")
    args = [x for k in KINDS for x in (f"--{k}", *(f"out/{g}_{k}.csv" for g in config["groups"]))]
    code, log = cocapp_stage("ingest", config, *ingest_inputs(config), *args)
    assert code == 0, log
    assert f"{USERS}: encoding cp1252" in log
    assert "Ué04" in Path("out/users_items.csv").read_text("utf-8")


def test_mixed_encodings_are_refused(study, refused):
    path = study / USERS
    path.write_bytes(path.read_bytes().replace(b"U04,", b"U\xe904,", 1).replace(b"U05,", "Ü05,".encode(), 1))
    err = refused()
    assert err.startswith(f"{USERS}: line 5, byte offset ")
    assert "mixed encodings" in err and "groups.users.read.encoding" in err


def test_unknown_encoding_is_a_config_error(study, capsys):
    set_group(study, "users", read={"encoding": "klingon-8"})
    assert cli_main(["check-config", "config.yaml"]) == 1
    assert "key groups.users.read.encoding: unknown encoding 'klingon-8'" in capsys.readouterr().err


def test_nul_bytes(study, refused):
    path = study / USERS
    data = path.read_bytes()
    at = data.index(b"U03")
    path.write_bytes(data[:at] + b"\x00" + data[at:])
    err = refused()
    assert err.startswith(f"{USERS}: line 4, byte offset {at}: NUL byte: this is not a text table")


@pytest.mark.parametrize(
    "magic, what",
    [
        (b"$FL2@(#) SPSS DATA FILE", "an SPSS .sav file"),
        (b"PK\x03\x04\x14\x00", "a zip archive (an .xlsx workbook?"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "NUL byte"),
    ],
)
def test_binary_file_named_csv(study, refused, magic, what):
    (study / STAFF).write_bytes(magic + bytes(range(256)) * 4)
    err = refused()
    assert err.startswith(f"{STAFF}: ") and what in err


# -- CSV structure ---------------------------------------------------------------------------------
def test_unterminated_quote_names_the_line_where_it_opens(study, refused):
    rows = lines(study / USERS)
    rows[6] = rows[6].replace("U06,", 'U06,"', 1)
    (study / USERS).write_text("\n".join(rows) + "\n")
    err = refused()
    assert err == f'{USERS}: line 7: a quoted cell is never closed (unterminated quote ")\n'


def test_text_after_a_closing_quote(study, refused):
    rows = lines(study / USERS)
    rows[2] = rows[2].replace("U02,", '"U0"2,', 1)
    (study / USERS).write_text("\n".join(rows) + "\n")
    assert refused().startswith(f"{USERS}: line 3: malformed quoting")


def test_short_and_long_rows_are_listed_with_their_lines(study, refused):
    rows = lines(study / USERS)
    rows[2] = rows[2] + ",7"
    rows[5] = rows[5].rsplit(",", 2)[0]
    (study / USERS).write_text("\n".join(rows) + "\n")
    err = refused()
    width = len(rows[0].split(","))
    assert err.startswith(f"{USERS}: 2 row(s) with a different number of cells than the header's {width}")
    assert f"line 3 has {width + 1}; line 6 has {width - 2}" in err


def test_trailing_delimiters_are_not_data(study, cocapp_stage):
    rows = lines(study / USERS)
    (study / USERS).write_text("\n".join(r + ",," for r in rows) + "\n")
    config = load_config("config.yaml")
    args = [x for k in KINDS for x in (f"--{k}", *(f"out/{g}_{k}.csv" for g in config["groups"]))]
    assert cocapp_stage("ingest", config, *ingest_inputs(config), *args)[0] == 0


def test_empty_header_cell_over_data(study, refused):
    rows = lines(study / USERS)
    rows[0] = rows[0].replace(",age,", ",,", 1)
    (study / USERS).write_text("\n".join(rows) + "\n")
    col = rows[0].split(",").index("") + 1
    assert refused() == (
        f"{USERS}: line 1, column {col}: the header cell is empty but the column holds data; "
        "every column needs a name\n"
    )


def test_duplicate_header_names_both_columns(study, refused):
    rows = lines(study / USERS)
    rows[0] = rows[0].replace("rsa_02", "rsa_01")
    (study / USERS).write_text("\n".join(rows) + "\n")
    assert "column 'rsa_01': the column name appears more than once in the header (columns 3, 4)" in refused()


def test_only_blank_lines(study, refused):
    (study / USERS).write_text("\n\n\r\n")
    assert refused() == f"{USERS}: file is empty\n"


def test_header_only(study, refused):
    (study / USERS).write_text(lines(study / USERS)[0] + "\n")
    assert "data/raw/users.csv: the file has a header but no data rows" in refused()


def test_decimal_comma_with_comma_delimiter(study, capsys):
    set_group(study, "users", read={"decimal": ",", "delimiter": ","})
    assert cli_main(["check-config", "config.yaml"]) == 1
    assert "key groups.users.read: decimal comma needs another delimiter" in capsys.readouterr().err


def test_every_unreadable_file_is_named(study, refused):
    (study / USERS).write_bytes(b"\x00\x01")
    (study / STAFF).write_text("")
    err = refused()
    assert err.splitlines() == [
        f"{USERS}: line 1, byte offset 0: NUL byte: this is not a text table (a binary file, or UTF-16 "
        "text without a byte-order mark: then set groups.users.read.encoding: utf-16-le)",
        f"{STAFF}: file is empty",
    ]


def test_raw_path_is_a_folder(study, refused):
    (study / "data/raw/folder.csv").mkdir()
    set_group(study, "users", raw="data/raw/folder.csv")
    assert refused().startswith("data/raw/folder.csv: is a folder, not a file")


# -- SPSS / Stata / SAS files ----------------------------------------------------------------------
def write_sav(study: Path) -> Path:
    df = pd.read_csv(study / USERS)
    path = study / "data/raw/users.sav"
    pyreadstat.write_sav(df, str(path))
    set_group(study, "users", raw="data/raw/users.sav")
    return path


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_truncated_sav(study, refused, keep):
    path = write_sav(study)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    err = refused()
    assert err.startswith("data/raw/users.sav: not a readable SPSS .sav/.zsav file")
    assert "(truncated or damaged?)" in err and "\n" == err[-1] and err.count("\n") == 1


@pytest.mark.parametrize("suffix", [".sav", ".zsav", ".por", ".dta", ".sas7bdat", ".xpt"])
def test_text_named_as_a_statistics_file(study, refused, suffix):
    path = study / f"data/raw/users{suffix}"
    shutil.copy(study / USERS, path)
    set_group(study, "users", raw=f"data/raw/users{suffix}")
    assert refused().startswith(f"data/raw/users{suffix}: not a readable ")


def test_unsupported_suffix_is_a_config_error(study, capsys):
    set_group(study, "users", raw="data/raw/users.xls")
    assert cli_main(["check-config", "config.yaml"]) == 1
    assert "key groups.users.raw" in capsys.readouterr().err


# -- Excel workbooks -------------------------------------------------------------------------------
def write_xlsx(study: Path, sheet: str = "Answers") -> Path:
    import openpyxl

    df = pd.read_csv(study / USERS, dtype=str, keep_default_na=False)
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    ws.append(list(df.columns))
    for rec in df.itertuples(index=False):
        ws.append([v or None for v in rec])
    path = study / "data/raw/users.xlsx"
    book.save(path)
    set_group(study, "users", raw="data/raw/users.xlsx")
    return path


def test_xlsx_reads(study, cocapp_stage):
    write_xlsx(study)
    set_group(study, "users", read={"sheet": "Answers"})
    config = load_config("config.yaml")
    args = [x for k in KINDS for x in (f"--{k}", *(f"out/{g}_{k}.csv" for g in config["groups"]))]
    code, log = cocapp_stage("ingest", config, *ingest_inputs(config), *args)
    assert code == 0, log
    assert "data/raw/users.xlsx: sheet 'Answers'" in log


def test_missing_sheet(study, refused):
    write_xlsx(study)
    set_group(study, "users", read={"sheet": "Responses"})
    assert refused() == (
        "data/raw/users.xlsx: no worksheet 'Responses' (sheets: 'Answers'); set groups.users.read.sheet\n"
    )


@pytest.mark.parametrize("keep", [0.3, 0.7, 0.99])
def test_truncated_xlsx(study, refused, keep):
    path = write_xlsx(study)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    assert refused().startswith(
        "data/raw/users.xlsx: not a readable .xlsx workbook (truncated, or not an Excel"
    )


def test_csv_named_xlsx(study, refused):
    shutil.copy(study / USERS, study / "data/raw/users.xlsx")
    set_group(study, "users", raw="data/raw/users.xlsx")
    assert refused().startswith("data/raw/users.xlsx: not a readable .xlsx workbook")


def test_xlsx_zip_bomb_is_refused_before_parsing(study, refused):
    path = study / "data/raw/users.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (50 * 2**20))
    set_group(study, "users", raw="data/raw/users.xlsx")
    assert "refused: member 'xl/worksheets/sheet1.xml' inflates" in refused()


def test_xlsx_empty_header_and_duplicate_header(study, refused):
    import openpyxl

    path = write_xlsx(study)
    book = openpyxl.load_workbook(path)
    book.active["C1"] = None
    book.save(path)
    assert refused() == (
        "data/raw/users.xlsx: sheet 'Answers', row 1, column C: the header cell is empty but the column "
        "holds data; every column needs a name\n"
    )


# -- codebook ------------------------------------------------------------------------------------
def test_binary_codebook(study, refused):
    (study / "data/raw/codebook.csv").write_bytes(b"\x00PK")
    assert refused().startswith("data/raw/codebook.csv: line 1, byte offset 0: NUL byte")


# -- config files ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content, expected",
    [
        (b"study: [unclosed\n", "config.yaml: not valid YAML: line 2, column 1: "),
        (b"- a\n- b\n", "config.yaml: expected a mapping of keys at the top level"),
        (b"just text\n", "config.yaml: expected a mapping of keys at the top level"),
        (b"", "config.yaml: expected a mapping of keys at the top level"),
        (b"study:\n  name: \xe9\n", "config.yaml: line 2, byte offset 15: byte 0xe9 is not UTF-8"),
        (b"\x00\x01\x02", "config.yaml: contains NUL bytes"),
        (
            b"a: 1\na: 2\n",
            "config.yaml: not valid YAML: line 2, column 1: in a mapping: key 'a' appears twice",
        ),
        (
            b"? [a, b]\n: 1\n",
            "config.yaml: not valid YAML: line 1, column 3: a list or mapping is used as a key",
        ),
    ],
)
def test_config_file_errors_are_one_line(study, capsys, content, expected):
    Path("config.yaml").write_bytes(content)
    assert cli_main(["check-config", "config.yaml"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"cocapp check-config: error: {expected}")
    assert "Traceback" not in err


def test_config_is_a_folder(study, capsys):
    Path("folder.yaml").mkdir()
    assert cli_main(["check-config", "folder.yaml"]) == 1
    assert "folder.yaml: is a folder, not a config file" in capsys.readouterr().err


def test_item_column_pattern_is_checked(study, capsys):
    set_group(study, "users", item_columns={"RSA": "rsa_{item:q}"})
    assert cli_main(["check-config", "config.yaml"]) == 1
    assert (
        "key groups.users.item_columns.RSA: 'rsa_{item:q}' is not a column pattern" in capsys.readouterr().err
    )


# -- instrument files ------------------------------------------------------------------------------
def instrument_with(tmp_path: Path, edit) -> Path:
    spec = yaml.safe_load((builtin_instrument_dir() / "RSA.yaml").read_text("utf-8"))
    edit(spec)
    folder = tmp_path / "instruments"
    folder.mkdir(exist_ok=True)
    (folder / "RSA.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder


def _set(path: str, value):
    def edit(spec):
        node = spec
        keys = path.split("/")
        for key in keys[:-1]:
            node = node[int(key) if isinstance(node, list) else key]
        node[int(keys[-1]) if isinstance(node, list) else keys[-1]] = value

    return edit


WRONG_TYPES = [
    ("key", 7, "key key: 7 is not of type 'string'"),
    ("items", "thirty-six", "key items: 'thirty-six' is not of type 'integer'"),
    ("items", 0, "key items: 0 is less than the minimum of 1"),
    ("column_pattern", ["rsa"], "key column_pattern: ['rsa'] is not of type 'string'"),
    ("column_pattern", "rsa_{item:q}", "key column_pattern: 'rsa_{item:q}' is not a column pattern"),
    ("column_pattern", "rsa_{item}_{x}", "key column_pattern: 'rsa_{item}_{x}' is not a column pattern"),
    ("response", "1-5", "key response: '1-5' is not of type 'object'"),
    ("response/min", "low", "key response/min: 'low' is not of type 'number'"),
    ("response/max", None, "key response/max: None is not of type 'number'"),
    (
        "response/labels",
        {"one": "Strongly disagree"},
        "key response/labels: 'one' is not an integer response",
    ),
    ("missing_codes", {"eight": "not_applicable"}, "key missing_codes: 'eight' is not a numeric code"),
    ("missing_codes", {8: "dunno"}, "key missing_codes/8: 'dunno' is not one of"),
    ("missing_codes", [8, 9], "key missing_codes: [8, 9] is not of type 'object'"),
    ("score", "mean", "key score: 'mean' is not of type 'object'"),
    ("score/kind", "median", "key score/kind: 'median' is not one of ['mean', 'sum']"),
    ("reverse_keyed", "none", "key reverse_keyed: 'none' is not of type 'array'"),
    # items are named by position or by column name: "1" is a column name, and not one of RSA's
    ("reverse_keyed", ["1"], "key reverse_keyed: '1' is not one of the instrument's columns"),
    ("reverse_keyed", [1.5], "key reverse_keyed/0: 1.5 is not valid under any of the given schemas"),
    ("subscales", [1, 2], "key subscales: [1, 2] is not of type 'object'"),
    ("total/items", "some", "key total/items: 'some' is not valid under any of the given schemas"),
    ("key_source/verified", "no", "key key_source/verified: 'no' is not of type 'boolean'"),
]


@pytest.mark.parametrize("path, value, expected", WRONG_TYPES, ids=[f"{p}={v!r}" for p, v, _ in WRONG_TYPES])
def test_instrument_wrong_type_anywhere(tmp_path, path, value, expected):
    folder = instrument_with(tmp_path, _set(path, value))
    with pytest.raises(InstrumentError) as info:
        load_instrument("RSA", [folder])
    message = str(info.value)
    assert message.startswith(f"{folder / 'RSA.yaml'}: ")
    assert expected in message and "\n" not in message


def test_instrument_subscale_items_wrong_type(tmp_path):
    def edit(spec):
        first = next(iter(spec["subscales"]))
        spec["subscales"][first]["items"] = ["one", 2]

    folder = instrument_with(tmp_path, edit)
    with pytest.raises(InstrumentError, match=r"key subscales/\w+/items: 'one' is not one of the instrum"):
        load_instrument("RSA", [folder])


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"key: [RSA\n", "not valid YAML: line 2, column 1"),
        (b"- RSA\n", "expected a mapping of keys at the top level"),
        (b"\xff\xfe\x00k", "is not UTF-8"),
        (b"key: RSA\nkey: RSA\n", "key 'key' appears twice"),
    ],
)
def test_instrument_file_not_yaml(tmp_path, content, expected):
    folder = tmp_path / "instruments"
    folder.mkdir()
    (folder / "RSA.yaml").write_bytes(content)
    with pytest.raises(InstrumentError) as info:
        load_instrument("RSA", [folder])
    assert str(info.value).startswith(f"{folder / 'RSA.yaml'}: ") and expected in str(info.value)


def test_malformed_instrument_stops_ingest_with_its_name(study, refused):
    folder = study / "instruments"
    folder.mkdir()
    (folder / "RSA.yaml").write_text("key: RSA\nitems: many\n")
    cfg = yaml.safe_load((study / "config.yaml").read_text())
    cfg["instrument_paths"] = ["instruments"]
    (study / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    err = refused()
    assert err.startswith("instruments/RSA.yaml: key (top level): ") and "is a required property" in err


def test_workflow_reports_an_invalid_config_without_a_traceback(tmp_path, run_snakemake):
    """The Snakefile validates the config at parse time: one message per offending key, exit 1."""
    (tmp_path / "config.yaml").write_text("study: {name: X, synthetic: true}\n")
    result = run_snakemake(tmp_path, "-n", "--cores", "1", timeout=300)
    assert result.returncode == 1
    assert "cocapp: error: config: invalid configuration:" in result.stderr
    assert "key (top level): 'sites' is a required property" in result.stderr
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr


def test_yaml_alias_bomb_is_refused(study, capsys):
    lines_ = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines_ += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    Path("config.yaml").write_text("\n".join(lines_) + "\nstudy: *a8\n")
    assert cli_main(["check-config", "config.yaml"]) == 1
    assert "config.yaml: refused: more than 200000 values once its aliases" in capsys.readouterr().err


def test_a_reader_that_crashes_the_process_is_a_message_naming_the_file(tmp_path, monkeypatch):
    """pyreadstat can die of a segmentation fault on a damaged file (found by the fuzz harness); the
    trial read in a forked child turns it into an error naming the file."""
    import os
    import signal

    import pyreadstat

    from cocapp.io import RawReadError, read_stat_file

    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    path = tmp_path / "damaged.sav"
    path.write_bytes(b"$FL2" + b"\0" * 200)
    monkeypatch.setattr(pyreadstat, "read_sav", lambda *a, **k: os.kill(os.getpid(), signal.SIGSEGV))
    with pytest.raises(
        RawReadError, match=r"damaged\.sav: not a readable .*reader crashed on it \(signal 11\)"
    ):
        read_stat_file(path)


# -- codebook types (schemas/codebook.schema.yaml: string, site, item, numeric, categorical) ---------
CODEBOOK = "data/raw/codebook.csv"


def add_column(study: Path, name: str, values: list[str], codebook_row: str) -> None:
    """Append column ``name`` (one value per data row, repeated) to users.csv, and its codebook row."""
    rows = lines(study / USERS)
    rows = [rows[0] + f",{name}"] + [r + f",{values[i % len(values)]}" for i, r in enumerate(rows[1:])]
    (study / USERS).write_text("\n".join(rows) + "\n")
    with open(study / CODEBOOK, "a") as f:
        f.write(codebook_row + "\n")


def test_unknown_codebook_type_names_file_row_and_value(study, refused):
    rows = lines(study / CODEBOOK)
    at = next(i for i, r in enumerate(rows) if r.startswith("users,rsa_03,"))
    rows[at] = rows[at].replace(",item,", ",integer,")
    (study / CODEBOOK).write_text("\n".join(rows) + "\n")
    assert refused() == (
        f"{CODEBOOK}: column 'type', data row {at}: value 'integer' (variable 'rsa_03'): "
        "must be one of string, site, item, numeric, categorical\n"
    )


def test_codebook_types_are_case_sensitive_and_every_bad_row_is_listed(study, refused):
    """'Categorical' was accepted and its value labels silently ignored; now every such row is named."""
    rows = lines(study / CODEBOOK)
    gender = [i for i, r in enumerate(rows) if ",gender," in r]
    for i in gender:
        rows[i] = rows[i].replace(",categorical,", ",Categorical,")
    (study / CODEBOOK).write_text("\n".join(rows) + "\n")
    err = refused()
    assert err.startswith(f"{len(gender)} codebook row(s) of unknown type:\n")
    for i in gender:
        assert f"{CODEBOOK}: column 'type', data row {i}: value 'Categorical' (variable 'gender')" in err


def test_value_not_fitting_its_declared_numeric_type(study, refused):
    add_column(study, "weight", ["70", "81.5", "", "heavy"], "users,weight,Body weight (kg),numeric,,")
    err = refused()
    n = len(lines(study / USERS)) - 1
    assert err.startswith(f"{len(range(3, n, 4))} problems found in the raw data:\n")  # every 4th row
    assert (
        f"{USERS}: column 'weight', data row 4: value 'heavy': the codebook {CODEBOOK} declares it numeric: "
        "must be a number" in err
    )


def test_value_not_fitting_its_declared_categorical_labels(study, refused):
    add_column(
        study, "smoker", ["1", "2", "Yes", "7", "9"], "users,smoker,Smoker,categorical,1=Yes; 2=No,9=refused"
    )
    err = refused()
    n = len(lines(study / USERS)) - 1
    bad = [i + 1 for i in range(n) if i % 5 == 3]  # the 7s; codes, labels and the missing code 9 fit
    assert err.startswith(f"{len(bad)} problem{'s' if len(bad) > 1 else ''} found in the raw data:\n")
    assert (
        f"{USERS}: column 'smoker', data row {bad[0]}: value '7': the codebook {CODEBOOK} declares it "
        "categorical: must be one of its labelled codes {1=Yes, 2=No}" in err
    )


def test_values_fitting_their_declared_types_are_ingested(study, cocapp_stage):
    add_column(study, "weight", ["70", "81.5", ""], "users,weight,Body weight (kg),numeric,,")
    add_column(study, "note", ["fine", "12", ""], "users,note,Free text,string,,")
    config = load_config("config.yaml")
    args = [x for k in KINDS for x in (f"--{k}", *(f"out/{g}_{k}.csv" for g in config["groups"]))]
    code, log = cocapp_stage("ingest", config, *ingest_inputs(config), *args)
    assert code == 0, log
    assert len(pd.read_csv("out/users_respondents.csv")) == len(lines(study / USERS)) - 1
