"""Publication tables: formatters, table builders on hand-set fixtures, the four writers, DOCX read back."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import docx
import numpy as np
import pandas as pd
import pytest

from cocapp.presentation import outputs
from cocapp.presentation import tables as T
from cocapp.stages.tables import STATS

FIX = Path(__file__).parent / "fixtures" / "publication"


@pytest.fixture(scope="module")
def config(publication_config) -> dict:
    return publication_config


@pytest.fixture(scope="module")
def built(config, publication_inputs):
    stats, recon = publication_inputs["stats"], publication_inputs["reconciliation"]
    return {t.key: t for t in T.build_tables(stats, recon, config)}


# -- formatters ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "p, text",
    [
        (0.6591, "0.659"),
        (0.0171, "0.017"),
        (0.001, "0.001"),
        (0.0009999, "< 0.001"),
        (0.0005, "< 0.001"),  # would round to 0.001 but is below it: the paper's rule is p < 0.001
        (0.0004999, "< 0.001"),
        (1e-300, "< 0.001"),
        (0.0, "< 0.001"),
        (1.0, "1.000"),
        (float("nan"), "—"),
        (None, "—"),
    ],
)
def test_fmt_p(p, text):
    assert T.fmt_p(p) == text


def test_fmt_p_never_prints_zero():
    for p in np.concatenate([np.linspace(0, 0.002, 2001), np.logspace(-20, -3, 50)]):
        assert T.fmt_p(p) != "0.000"
        assert "0.000" not in T.fmt_p_eq(p)


def test_fmt_p_rejects_impossible_values():
    with pytest.raises(ValueError, match="outside"):
        T.fmt_p(1.2)
    with pytest.raises(ValueError, match="outside"):
        T.fmt_p(-0.01)


@pytest.mark.parametrize(
    "x, dp, text",
    [
        (3.4849, 2, "3.48"),
        (3.4851, 2, "3.49"),
        (-1.2345, 2, "-1.23"),
        (-0.138, 3, "-0.138"),
        (-0.004, 2, "0.00"),  # never "-0.00"
        (-0.0, 2, "0.00"),
        (17.37, 2, "17.37"),
        (float("nan"), 2, "—"),
        (None, 3, "—"),
        (pd.NA, 2, "—"),
    ],
)
def test_fmt_num(x, dp, text):
    assert T.fmt_num(x, dp) == text


def test_fmt_anova_as_printed_in_table_2():
    # Table 2 of Simpson et al. 2016, as printed
    assert T.fmt_anova(5, 394, 0.65, 0.659) == "F(5, 394) = 0.65, p = 0.659"
    assert T.fmt_anova(5, 426, 3.75, 0.002) == "F(5, 426) = 3.75, p = 0.002 **"
    assert T.fmt_anova(5, 431, 2.80, 0.017) == "F(5, 431) = 2.80, p = 0.017 *"
    assert T.fmt_anova(5.0, 429.0, 3.4549, 0.00462) == "F(5, 429) = 3.45, p = 0.005 **"
    assert T.fmt_anova(5, 394, 9.1, 1e-8) == "F(5, 394) = 9.10, p < 0.001 **"
    assert T.fmt_anova(5, 171.26, 1.2, 0.3) == "F(5, 171.3) = 1.20, p = 0.300"
    assert T.fmt_anova(5, 394, float("nan"), float("nan")) == "—"


def test_stars_follow_the_configured_level():
    assert T.significance_stars(0.03, alpha=0.05) == "*"
    assert T.significance_stars(0.03, alpha=0.01) == ""
    assert T.significance_stars(0.005, alpha=0.01) == "**"
    assert T.significance_stars(0.009, alpha=0.05) == "**"
    assert T.significance_stars(0.01, alpha=0.05) == "*"  # strictly below 0.01 for **


def test_fmt_mean_sem():
    assert T.fmt_mean_sem(17.37, 0.76) == "17.37 (0.76)"
    assert T.fmt_mean_sem(-0.456, 0.1234) == "-0.46 (0.12)"
    assert T.fmt_mean_sem(float("nan"), 0.1) == "—"


# -- builders --------------------------------------------------------------------------------------
def test_table_keys_match_specs(config, built):
    assert list(built) == [k for k, _ in T.table_specs(config)]
    assert list(built) == [
        "table1_returns",
        "table2_service_users",
        "table3_care_coordinators",
        "table4_correlations_service_users",
        "reliability",
        "ancova_means",
    ]


def test_table2_layout_and_cells(built):
    t = built["table2_service_users"]
    assert t.columns[:2] == ["Scale", "One-way ANOVA parameters"]
    assert t.columns[2:] == [
        f"{s} Mean (SEM)" for s in ["Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence"]
    ]
    assert len(t.rows) == 16
    first = t.rows[0]
    # fixture = printed Table 2 with the impossible Champagne SEM replaced by 0.10
    assert first == [
        "Life goals",
        "F(5, 394) = 0.65, p = 0.659",
        "3.48 (0.12)",
        "3.55 (0.13)",
        "3.38 (0.10)",
        "3.43 (0.14)",
        "3.31 (0.11)",
        "3.30 (0.13)",
    ]
    star_total = [r for r, s in zip(t.rows, t.sections, strict=False) if "STAR-P" in s and r[0] == "Total"][0]
    assert star_total[1] == "F(5, 429) = 3.45, p = 0.005 **"
    assert star_total[3] == "38.49 (1.00)"
    assert t.sections[0] == "Recovery Self-Assessment (RSA)"
    assert t.synthetic and "[SYNTHETIC DATA]" in t.caption
    assert any(n.startswith("SYNTHETIC DATA") for n in t.notes)
    assert any("threshold 0.5" in n for n in t.notes)


def test_table3_uses_primary_threshold_only(built):
    t = built["table3_care_coordinators"]
    choice = [r for r in t.rows if r[0] == "Choice"][0]
    # the 0.0 threshold rows of the fixture carry F x 0.9 and means + 0.05; the primary ones are printed
    assert choice[1] == "F(5, 195) = 3.40, p = 0.006 **"
    assert choice[2] == "3.76 (0.10)"


def test_table4_correlations(built):
    t = built["table4_correlations_service_users"]
    assert t.columns[:2] == ["Parameter", "Total sample"]
    rows = dict()
    for sec, row in zip(t.sections, t.rows, strict=False):
        rows[(sec, row[0])] = row
    assert rows[("RSA and STAR-P", "r")][1] == "0.607"
    assert rows[("RSA and STAR-P", "Sig.")][1] == "< 0.001"
    assert rows[("RSA and STAR-P", "N")][1] == "409"
    assert rows[("STAR-P and ES", "Sig.")][1] == "0.004"
    assert rows[("RSA and ES", "r")][-1] == "-0.050"  # Provence, negative, 3 dp


def test_table1_counts_from_reconciliation(built):
    t = built["table1_returns"]
    assert t.rows[0][:3] == ["Artois (England)", "70", "68"]
    assert t.rows[-1] == ["Total", "448", "436", "201", "201"]


def test_reliability_and_ancova(built):
    rel = built["reliability"]
    life = rel.rows[0]
    assert life[:4] == ["Life goals", "10", "253", "0.93"]
    assert life[-1] == "yes"
    anc = built["ancova_means"]
    assert anc.rows[0][:3] == ["Life goals", "demographic", "F(5, 370) = 0.52, p = 0.761"]
    assert anc.rows[0][4] == "3.51 (0.12)"


def test_missing_rows_are_dashes(config, publication_stats):
    stats = publication_stats
    anova = stats["anova"]
    stats["anova"] = anova[anova["scale"] != "choice"]
    t = T.table_site_comparison(
        stats["anova"], stats["descriptives"], config, "service_users", "Table 2", "t2"
    )
    choice = [r for r in t.rows if r[0] == "Choice"][0]
    assert choice[1] == "—"
    assert choice[2] == "3.66 (0.11)"


def test_not_synthetic_has_no_label(config, publication_stats):
    cfg = copy.deepcopy(config)
    cfg["study"]["synthetic"] = False
    del cfg["study"]["data_note"]
    stats = publication_stats
    t = T.table_site_comparison(stats["anova"], stats["descriptives"], cfg, "service_users", "Table 2", "t2")
    assert "SYNTHETIC" not in t.caption
    assert not any("SYNTHETIC" in n for n in t.notes)
    assert "SYNTHETIC" not in T.to_markdown(t) + T.to_html_fragment(t)


def test_data_note_is_shown_whenever_set(config, publication_stats):
    """study.data_note is the study's note on its data: shown also when the data are not synthetic."""
    cfg = copy.deepcopy(config)
    cfg["study"]["synthetic"] = False
    cfg["study"]["data_note"] = "Pilot wave; weights not applied."
    stats = publication_stats
    t = T.table_site_comparison(stats["anova"], stats["descriptives"], cfg, "service_users", "Table 2", "t2")
    assert "SYNTHETIC" not in t.caption
    assert t.notes[0] == "Pilot wave; weights not applied."


# -- writers ---------------------------------------------------------------------------------------
def test_markdown_escapes_stars_and_pipes():
    t = T.DisplayTable("k", "Table 9", "A | B", ["Scale", "Cell"], notes=["* p < 0.05"])
    t.add(["x|y", "F(5, 10) = 9.00, p = 0.001 **"], "Sec")
    md = T.to_markdown(t)
    assert "x\\|y" in md
    assert "p = 0.001 \\*\\*" in md
    assert "\\* p < 0.05" in md
    assert "| **Sec** |  |" in md


def test_html_escapes_and_marks():
    t = T.DisplayTable("k", "Table 9", "<b>x</b>", ["Scale", "Cell"])
    t.add(["a<b", "c&d"])
    doc = T.to_html_document(t)
    assert "&lt;b&gt;x&lt;/b&gt;" in doc and "a&lt;b" in doc and "c&amp;d" in doc
    assert T.html_fragment_from_document(doc).startswith('<table class="cocapp-table" id="k">')


def test_all_formats_byte_stable_and_docx_reads_back(built):
    t = built["table2_service_users"]
    first = T.table_files(t)
    assert list(first) == [f"table2_service_users.{fmt}" for fmt in ("csv", "md", "html", "docx")]
    assert first == T.table_files(t)
    csv = pd.read_csv(io.StringIO(first["table2_service_users.csv"]), dtype=str, keep_default_na=False)
    assert list(csv.columns) == ["Instrument", *t.columns]
    assert csv.iloc[0, 2] == "F(5, 394) = 0.65, p = 0.659"
    d = docx.Document(io.BytesIO(first["table2_service_users.docx"]))
    paras = [p.text for p in d.paragraphs]
    assert paras[0] == t.caption and "[SYNTHETIC DATA]" in paras[0]
    assert any(p.startswith("SYNTHETIC DATA") for p in paras)
    (grid,) = d.tables
    header = [c.text for c in grid.rows[0].cells]
    assert header == t.columns
    assert grid.rows[1].cells[0].text == "Recovery Self-Assessment (RSA)"  # merged section row
    body = [[c.text for c in r.cells] for r in grid.rows[1:] if r.cells[0].text != r.cells[-1].text]
    assert body == t.rows
    assert d.core_properties.title == t.caption


# -- the tables stage ------------------------------------------------------------------------------
def tables_args(out: list) -> list:
    stats = [x for name in STATS for x in (f"--{name.replace('_', '-')}", FIX / "stats" / f"{name}.csv")]
    recon = [FIX / "ingest" / f"{g}_reconciliation.csv" for g in ("service_users", "care_coordinators")]
    return [*stats, "--reconciliation", *recon, "--out", *out]


def test_stage_writes_exactly_the_declared_files(config, tmp_path, cocapp_stage, built):
    declared = [tmp_path / f for f in outputs.table_files(config)]  # reports/tables/<key>.<fmt>
    code, log = cocapp_stage("tables", config, *tables_args(declared))
    assert code == 0, log
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(declared) and len(written) == 6 * 4
    # the files hold the rendered tables
    assert (tmp_path / "reports/tables/table2_service_users.md").read_text("utf-8") == T.to_markdown(
        built["table2_service_users"]
    )


def test_stage_refuses_undeclared_or_missing_outputs(config, tmp_path, cocapp_stage):
    declared = [tmp_path / f for f in outputs.table_files(config)]
    code, log = cocapp_stage("tables", config, *tables_args(declared[:-1]))
    assert code == 1 and "--out: ancova_means.docx is not declared" in log
    code, log = cocapp_stage("tables", config, *tables_args([*declared, tmp_path / "extra.csv"]))
    assert code == 1 and "--out: declared but not produced" in log and "extra.csv" in log
    assert not any(tmp_path.rglob("*.csv"))


def test_stage_names_missing_input(config, tmp_path, cocapp_stage):
    args = tables_args([tmp_path / f for f in outputs.table_files(config)])
    args[args.index("--descriptives") + 1] = tmp_path / "descriptives.csv"
    code, log = cocapp_stage("tables", config, *args)
    assert code == 1
    assert f"{tmp_path / 'descriptives.csv'}: file not found (expected the stats/descriptives.csv" in log
    assert not (tmp_path / "reports").exists()
