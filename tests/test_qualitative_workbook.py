"""The analyst workbook (unsuppressed, Excel + HTML) and the coding comparison, through the stages, on the
fixture project written as a .qdpx (two coders; sources of 59, 47 and 23 characters). Expected values are
worked out by hand from tests/fixtures/qualitative/segments.csv."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from stage_inputs import qualitative_inputs
from test_qualitative import build_qdpx, qual_config

NOTICE = "Analyst workbook - NOT FOR PUBLICATION"


@pytest.fixture
def workbook(tmp_path, cocapp_stage):
    """Run qualitative-ingest, -framework and -workbook on the fixture .qdpx; return the output folder."""
    qdpx = build_qdpx(tmp_path / "fixture.qdpx")
    config = qual_config(segments=str(qdpx))
    out = tmp_path / "q"
    files = {n: out / f"{n}.csv" for n in ("segments", "cases", "codes", "import_report", "memos", "sources")}
    code, log = cocapp_stage(
        "qualitative-ingest",
        config,
        *qualitative_inputs(config),
        "--out-segments",
        files["segments"],
        "--out-cases",
        files["cases"],
        "--out-codes",
        files["codes"],
        "--out-import-report",
        files["import_report"],
        "--out-memos",
        files["memos"],
        "--out-sources",
        files["sources"],
    )
    assert code == 0, log
    canonical = ["--segments", files["segments"], "--cases", files["cases"], "--codes", files["codes"]]
    code, log = cocapp_stage(
        "qualitative-workbook",
        config,
        *canonical,
        "--sources",
        files["sources"],
        "--memos",
        files["memos"],
        "--workbook",
        out / "analyst_workbook.xlsx",
        "--workbook-html",
        out / "analyst_workbook.html",
        "--coding-comparison",
        out / "coding_comparison.csv",
        "--coding-alpha",
        out / "coding_alpha.csv",
    )
    assert code == 0, log
    framework = [
        "--case-theme",
        out / "framework_case_theme.csv",
        "--site-theme",
        out / "s.csv",
        "--group-theme",
        out / "g.csv",
        "--code-frequencies",
        out / "f.csv",
        "--codebook",
        out / "c.csv",
    ]
    code, log = cocapp_stage("qualitative-framework", config, *canonical, *framework)
    assert code == 0, log
    return out


def sheet(path: Path, name: str) -> pd.DataFrame:
    ws = openpyxl.load_workbook(path)[name]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0][0].startswith(NOTICE)
    return pd.DataFrame(rows[2:], columns=rows[1])


def test_sources_table_lengths(workbook):
    src = pd.read_csv(workbook / "sources.csv")
    assert src.values.tolist() == [["int_P1", 59], ["int_P2", 47], ["int_P3", 23]]


def test_framework_chart_unsuppressed_while_published_table_keeps_the_rule(workbook):
    xlsx = workbook / "analyst_workbook.xlsx"
    chart = sheet(xlsx, "case x theme").set_index("case_id")
    assert chart.loc["P1", "Relationships"] == (
        "“I trust my nurse.” [trust; int_P1]\n“She listens to me.” [listening; int_P1]"
    )
    assert chart.loc["P3", "Relationships"] == "“Trust is earned slowly.” [trust; int_P3]"
    assert pd.isna(chart.loc["P3", "System"])  # no extract
    assert chart.loc["P3", "profession"] == "not reported"  # case attributes beside the chart
    published = pd.read_csv(workbook / "framework_case_theme.csv", dtype=str, keep_default_na=False)
    p3 = published[(published["case_id"] == "P3") & (published["theme"] == "Relationships")].iloc[0]
    assert (p3["n_cases"], p3["extracts"], p3["note"]) == ("<3", "", "extracts withheld: fewer than 3 cases")
    counts = sheet(xlsx, "case x code").set_index("case_id")
    assert counts.loc[
        "P2", ["Relationships/trust", "Relationships/listening", "System/paperwork"]
    ].tolist() == [1, 1, 1]
    theme = sheet(xlsx, "theme 1 Relationships").set_index("case_id")
    assert theme.loc["P2", "Relationships/trust"] == "“I listen first.” [trust; int_P2]"


def test_co_occurrence_coverage_and_attribute_matrix(workbook):
    xlsx = workbook / "analyst_workbook.xlsx"
    co = sheet(xlsx, "co-occurrence")
    # int_P2 characters 32-47: listening (alice) and trust (bob) -- the only overlap
    assert co[["code_path_a", "code_path_b", "n_overlapping_segment_pairs", "n_cases"]].values.tolist() == [
        ["Relationships/trust", "Relationships/listening", 1, 1]
    ]
    cov = sheet(xlsx, "coverage").set_index(["source_id", "code_path"])
    assert cov.loc[("int_P1", "System/paperwork"), "coded_characters"] == 22
    assert cov.loc[("int_P1", "System/paperwork"), "coverage_pct"] == pytest.approx(100 * 22 / 59, rel=1e-12)
    assert cov.loc[("int_P3", "Relationships/trust"), "coverage_pct"] == pytest.approx(100.0)
    attr = sheet(xlsx, "attribute x theme")
    prof = attr[(attr["attribute"] == "profession") & (attr["theme"] == "Relationships")]
    assert prof[["value", "n_cases_with_value", "n_cases", "n_segments"]].values.tolist() == [
        ["not reported", 2, 2, 3],  # P1 (trust, listening) and P3 (trust)
        ["Mental health nurse", 1, 1, 2],  # P2 (listening, trust)
    ]


def test_coding_comparison_by_hand(workbook):
    pairs = pd.read_csv(workbook / "coding_comparison.csv")
    p1_trust = pairs[(pairs["source_id"] == "int_P1") & (pairs["code_path"] == "Relationships/trust")].iloc[0]
    # alice coded 0-17 of 59 characters, bob nothing: 17 alice only, 42 neither; kappa 0 (bob codes nothing)
    assert (p1_trust["coder_a"], p1_trust["coder_b"]) == ("alice", "bob")
    assert (p1_trust["a_only"], p1_trust["b_only"], p1_trust["both"], p1_trust["neither"]) == (17, 0, 0, 42)
    assert p1_trust["agreement_pct"] == pytest.approx(100 * 42 / 59, rel=1e-12)
    assert p1_trust["kappa"] == 0
    # every code x source with a coding: int_P1 trust, listening, paperwork; int_P2 the same; int_P3 trust
    assert len(pairs) == 7
    alpha = pd.read_csv(workbook / "coding_alpha.csv")
    assert alpha["n_coders"].unique().tolist() == [2] and len(alpha) == 7


def test_workbook_html_and_determinism(workbook, tmp_path, cocapp_stage):
    page = (workbook / "analyst_workbook.html").read_text("utf-8")
    assert "NOT FOR PUBLICATION" in page and "“Trust is earned slowly.” [trust; int_P3]" in page
    first = (workbook / "analyst_workbook.xlsx").read_bytes()
    config = qual_config(segments=str(tmp_path / "fixture.qdpx"))
    q = workbook
    code, log = cocapp_stage(
        "qualitative-workbook",
        config,
        "--segments",
        q / "segments.csv",
        "--cases",
        q / "cases.csv",
        "--codes",
        q / "codes.csv",
        "--sources",
        q / "sources.csv",
        "--memos",
        q / "memos.csv",
        "--workbook",
        tmp_path / "again.xlsx",
        "--workbook-html",
        tmp_path / "again.html",
        "--coding-comparison",
        tmp_path / "cc.csv",
        "--coding-alpha",
        tmp_path / "ca.csv",
    )
    assert code == 0, log
    assert (tmp_path / "again.xlsx").read_bytes() == first


def test_formula_like_text_is_not_a_formula(tmp_path):
    from cocapp.qualitative.workbook import workbook_xlsx

    data = workbook_xlsx({"s": pd.DataFrame({"text": ['=HYPERLINK("http://x")', "ok"]})})
    path = tmp_path / "w.xlsx"
    path.write_bytes(data)
    ws = openpyxl.load_workbook(path)["s"]
    assert ws["A3"].value == '=HYPERLINK("http://x")' and ws["A3"].data_type == "s"
