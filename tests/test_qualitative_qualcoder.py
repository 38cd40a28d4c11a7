"""QualCoder exports: the CSV writer's short rows (no empty Category cells before the variables),
media rows skipped with a warning, and the XLSX export (written here cell by cell as QualCoder's
``export_xlsx_file`` does: every value in its own column)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from cocapp.qualitative import ingest
from cocapp.qualitative.io import QualitativeInputError, read_segments

FIX = Path(__file__).resolve().parent / "fixtures" / "qualitative"
SITES = ["Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence"]

HEADER = [
    "Case",
    "Filename",
    "Coder",
    "Coded",
    "Id",
    "Codename",
    "Coded_Memo",
    "Category",
    "Category",
    "CaseVar_participant_group",
    "CaseVar_site",
]
# (case, file, coder, coded, id, code, memo, categories nearest first, group, site)
ROWS = [
    (
        "P1",
        "int_P1",
        "alice",
        "I trust my nurse.",
        "ctid:1",
        "trust",
        "",
        ["Bonds", "Relationships"],
        "service_user",
        "Artois",
    ),
    (
        "P1",
        "int_P1",
        "alice",
        "She listens to me.",
        "ctid:2",
        "listening",
        "",
        ["Relationships"],
        "service_user",
        "Artois",
    ),
    ("P2", "int_P2", "bob", "image", "imid:7", "paperwork", "", ["System"], "care_coordinator", "Burgundy"),
    (
        "P2",
        "int_P2",
        "bob",
        "Paperwork takes most of my day.",
        "ctid:4",
        "paperwork",
        "a memo",
        ["System"],
        "care_coordinator",
        "Burgundy",
    ),
]


def write_csv(path: Path) -> Path:
    """As QualCoder's CSV writer: QUOTE_ALL, utf-8-sig, categories appended without padding."""
    import csv

    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL)
        w.writerow(HEADER)
        for case, file, coder, coded, ident, code, memo, cats, group, site in ROWS:
            w.writerow([case, file, coder, coded, ident, code, memo, *cats, group, site])
    return path


def write_xlsx(path: Path) -> Path:
    """As QualCoder's XLSX writer: categories from column 7, variables from 7 + number of categories."""
    wb = openpyxl.Workbook()
    ws = wb.active
    header = ["File/case", *HEADER[2:]]
    for c, h in enumerate(header, start=1):
        ws.cell(row=1, column=c, value=h)
    for r, (_case, file, coder, coded, ident, code, memo, cats, group, site) in enumerate(ROWS, start=2):
        for c, v in enumerate([file, coder, coded, ident, code, memo], start=1):
            ws.cell(row=r, column=c, value=v or None)
        for i, cat in enumerate(cats):
            ws.cell(row=r, column=7 + i, value=cat)
        ws.cell(row=r, column=9, value=group)
        ws.cell(row=r, column=10, value=site)
    wb.save(path)
    return path


EXPECTED = [
    ["int_P1", "Relationships", "trust", "Relationships/Bonds/trust", "service_user", "Artois"],
    ["int_P1", "Relationships", "listening", "Relationships/listening", "service_user", "Artois"],
    ["int_P2", "System", "paperwork", "System/paperwork", "care_coordinator", "Burgundy"],
]
COLS = ["source_id", "theme", "code", "code_path", "participant_group", "site"]


def test_short_rows_are_realigned_not_padded_at_the_end(tmp_path):
    inp = read_segments(write_csv(tmp_path / "export.csv"))
    assert inp.segments[COLS].values.tolist() == EXPECTED
    assert inp.segments["case_id"].tolist() == ["P1", "P1", "P2"]
    kinds = [(r["kind"], r["element"]) for r in inp.report]
    assert kinds == [("warning", "Category"), ("not used", "image coding")]
    assert inp.report[0]["detail"].startswith("3 row(s) shorter than the header")
    assert inp.report[1]["where"] == "export.csv row 3 (Id imid:7)"
    # and it validates against the case table: no false "site differs" from shifted cells
    codebook = tmp_path / "codebook.csv"
    codebook.write_text(
        "code,theme,code_path\ntrust,Relationships,Relationships/Bonds/trust\nlistening,Relationships,\n"
        "paperwork,System,\n",
        encoding="utf-8",
    )
    seg = ingest.ingest(tmp_path / "export.csv", SITES, FIX / "cases.csv", codebook)[0]
    assert seg["site"].tolist() == ["Artois", "Artois", "Burgundy"]


def test_xlsx_export_reads_like_the_csv(tmp_path):
    inp = read_segments(write_xlsx(tmp_path / "export.xlsx"))
    assert inp.kind == "qualcoder"
    assert inp.segments[COLS].values.tolist() == EXPECTED
    assert inp.segments["memo"].tolist()[2] == "a memo"
    assert [r["element"] for r in inp.report] == ["image coding"]  # no realignment: cells in their columns


def test_row_longer_than_header_is_an_error(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text(
        '"File","Coder","Coded","Id","Codename","Coded_Memo","Category"\n'
        '"P3","alice","Trust.","ctid:1","trust","","Relationships","extra"\n',
        encoding="utf-8",
    )
    with pytest.raises(QualitativeInputError, match=r"long\.csv row 1: 8 cells but the header has 7 columns"):
        read_segments(path)


def test_broken_xlsx_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not a workbook")
    with pytest.raises(QualitativeInputError, match=r"broken\.xlsx: not an XLSX workbook: not a valid zip"):
        read_segments(path)
