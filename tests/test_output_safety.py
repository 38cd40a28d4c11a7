"""Outputs that leave the pipeline are safe to open: CSV cells a spreadsheet would run as formulas are
neutralised (text only: numbers such as -0.5 stay numbers), HTML escapes markup, DOCX holds the text
exactly (escaped in its XML) and survives control characters."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import docx
import pandas as pd
import pytest
from stage_inputs import ingest_inputs

from cocapp.config import load_config
from cocapp.io import neutralise_formula, neutralise_formulas, write_outputs_atomic
from cocapp.presentation.tables import DisplayTable, to_csv_text, to_docx_bytes, to_html_document, to_markdown

TINY = Path(__file__).parent / "fixtures" / "tiny"
KINDS = ("items", "respondents", "reconciliation")
PAYLOADS = [
    '=HYPERLINK("http://x","click")',
    "+44 20 7946 0000",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", PAYLOADS)
def test_formula_text_gets_an_apostrophe(text):
    assert neutralise_formula(text) == "'" + text


@pytest.mark.parametrize("text", ["-0.5", "+1", "-1e-05", "-inf", "0.5", "plain", "", "a=b", "'=quoted"])
def test_numbers_and_plain_text_stay(text):
    assert neutralise_formula(text) == text


def test_only_text_columns_are_neutralised(tmp_path):
    df = pd.DataFrame(
        {
            "score": [-0.5, 1.25, -3.0],  # numbers: never touched
            "threshold": ["0.5", "-0.5", "0.0"],  # numbers written as text: stay
            "label": PAYLOADS[:3],
            "=header": ["a", "b", None],
        }
    )
    write_outputs_atomic({tmp_path / "out.csv": df})
    back = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert list(back.columns) == ["score", "threshold", "label", "'=header"]
    assert back["score"].tolist() == ["-0.5", "1.25", "-3.0"]
    assert back["threshold"].tolist() == ["0.5", "-0.5", "0.0"]
    assert back["label"].tolist() == ["'" + p for p in PAYLOADS[:3]]
    safe = df[["score", "threshold"]]
    assert neutralise_formulas(safe) is safe  # nothing to change: the same frame, no copy
    assert df["label"].tolist() == PAYLOADS[:3]  # the caller's frame is not changed


def test_ingest_outputs_neutralise_formula_ids(tmp_path, monkeypatch, cocapp_stage):
    root = tmp_path / "study"
    shutil.copytree(TINY, root)
    monkeypatch.chdir(root)
    users = root / "data/raw/users.csv"
    evil = '=HYPERLINK("http://x","y")'
    users.write_text(users.read_text().replace("U01,", f'"{evil.replace(chr(34), chr(34) * 2)}",', 1))
    config = load_config("config.yaml")
    args = [x for k in KINDS for x in (f"--{k}", *(f"out/{g}_{k}.csv" for g in config["groups"]))]
    code, log = cocapp_stage("ingest", config, *ingest_inputs(config), *args)
    assert code == 0, log
    for kind in KINDS:
        cells = pd.read_csv(f"out/users_{kind}.csv", dtype=str, keep_default_na=False)["id"].tolist()
        assert cells[0] == "'" + evil
        assert not any(c.startswith(("=", "+", "@")) for c in cells)


EVIL = '<script>alert("x")</script>&amp;'


def evil_table() -> DisplayTable:
    table = DisplayTable(
        key="t", number="Table 9", title=f"Sites {EVIL}", columns=["Site", f"Mean {EVIL}", "Diff"]
    )
    table.add([f"=cmd|' /C calc'!A0 {EVIL}", "3.2 (0.1)", "-0.5"], section=f"@section {EVIL}")
    table.add(["North\x07bell", "2.9 (0.2)", "-1.25"], section=f"@section {EVIL}")
    table.notes.append(f"Note {EVIL}")
    return table


def test_display_table_csv_neutralises_text_not_numbers():
    rows = pd.read_csv(io.StringIO(to_csv_text(evil_table())), dtype=str, keep_default_na=False)
    assert rows.iloc[0, 0] == f"'@section {EVIL}"
    assert rows.iloc[0, 1] == f"'=cmd|' /C calc'!A0 {EVIL}"
    assert rows["Diff"].tolist() == ["-0.5", "-1.25"]


def test_display_table_html_escapes_markup():
    html = to_html_document(evil_table())
    assert "<script>" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;" in html


def test_display_table_markdown_keeps_text():
    assert "&amp;" in to_markdown(evil_table())


def test_display_table_docx_holds_text_escaped_in_xml():
    data = to_docx_bytes(evil_table())
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode("utf-8")
    assert "<script>" not in xml and "&lt;script&gt;" in xml
    doc = docx.Document(io.BytesIO(data))
    texts = [c.text for row in doc.tables[0].rows for c in row.cells]
    assert f"=cmd|' /C calc'!A0 {EVIL}" in texts  # Word shows the text as it is (it runs no formulas)
    assert "North\ufffdbell" in texts  # a control character XML cannot hold becomes U+FFFD
    assert doc.paragraphs[0].text == f"Table 9. Sites {EVIL}"


def test_committed_report_csvs_hold_no_cell_a_spreadsheet_would_run():
    """The CSVs shipped in reports/ (the synthetic calibration report is written by ``cocapp
    synthesize``, not by a pipeline run) pass :func:`neutralise_formula` unchanged in every cell."""
    import csv

    root = Path(__file__).resolve().parents[1] / "reports"
    files = sorted(root.rglob("*.csv"))
    assert files, "reports/ ships at least the synthetic calibration CSV"
    for path in files:
        with path.open(newline="", encoding="utf-8") as fh:
            for row_no, row in enumerate(csv.reader(fh), start=1):
                for cell in row:
                    assert neutralise_formula(cell) == cell, f"{path.name} row {row_no}: {cell!r}"
